"""Hidden checks of the `captioning` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see, built
when the check runs from grading.shared (salted with the submission's key: every submission gets
its own sentences, captions, sizes, weights and features). Their messages say what differs and
where, never the inputs or the expected values.
"""
import random

from grading import judge, shared
from grading.assignments.captioning.public import (
    END,
    Q1,
    Q2,
    Q3,
    Q4,
    Q5,
    Q6,
    Q7,
    Q8,
    Q9,
    SIZES,
    STATEMENT_VOCAB,
    captions_batch,
    decoder_weights,
    expect_decoder_layers,
    features,
    loss_case,
    randn,
)
from grading.rubric import CheckFailed

# The helpers a function is meant to call, which the probes can swap for stand-ins.
HELPERS = {"build_vocabulary": ("tokenize",), "text_pipeline": ("tokenize",),
           "forward": ("init_hidden_state",), "predict": ("init_hidden_state",)}


def check_with_or_without_helpers(sub, ref, probe, compare, **args):
    judge.with_or_without_helpers(sub, ref, probe, HELPERS[probe], compare, **args)


def rng(seed: int) -> random.Random:
    """A Python generator for text inputs, salted like grading.shared's tensors."""
    return random.Random(shared.mixed_seed(seed))


def same_sequence(got, expected, what: str) -> None:
    """Equal lists (of tokens or ids); otherwise say where they first differ, without values."""
    got, expected = list(got), list(expected)
    if got == expected:
        return
    first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    length = "" if len(got) == len(expected) else f"; {len(got)} items, not the expected number"
    raise CheckFailed(f"{what}: differs from position {first} on{length}")


# -- Q1 tokenize --------------------------------------------------------------------------------------

WORDS = ["dog", "cat", "man", "woman", "rides", "bike", "ball", "frisbee", "hat", "grass", "red", "table",
         "kite", "plays", "on", "with", "the", "a", "two", "near", "skate_board", "bus", "sits", "tall"]
PUNCTUATION = [",", ".", "!", "?", ";", ":", "...", "&", "/", "\""]
SPACES = [" ", " ", " ", "  ", "\t", " \n "]


def random_sentence(generator: random.Random) -> str:
    """Words with mixed case, a possessive, a plural possessive, a hyphenated code with a digit, a
    number, punctuation glued to words or alone, brackets, and runs of spaces and tabs."""
    def word():
        w = generator.choice(WORDS)
        return generator.choice([w, w.upper(), w.capitalize(), w])
    pieces = [word() for _ in range(generator.randint(4, 7))]
    pieces += [word() + "'s", word() + "s'", f"{generator.randint(2, 9)}-{generator.choice('DdXk')}",
               str(generator.randint(0, 99)), word() + generator.choice(PUNCTUATION),
               "(" + word() + ")", generator.choice(PUNCTUATION)]
    generator.shuffle(pieces)
    return "".join(piece + generator.choice(SPACES) for piece in pieces).strip() + generator.choice(PUNCTUATION)


@Q1.check(points=1)
def other_sentences(sub, ref):
    """capitals, apostrophes, hyphens, digits, brackets and several punctuation marks"""
    generator = rng(10)
    for _ in range(3):
        text = random_sentence(generator)
        same_sequence(sub.call("tokenize", text=text), ref.call("tokenize", text=text),
                      "tokenize on a sentence with capitals, apostrophes, hyphens, digits and punctuation")


# -- Q2 build_vocabulary ------------------------------------------------------------------------------

def random_corpus(generator: random.Random):
    """Captions over a few words (so that frequencies tie) in mixed case, with punctuation."""
    pool = generator.sample(WORDS, 8)
    captions = []
    for _ in range(generator.randint(6, 9)):
        words = [generator.choice([w, w.capitalize()]) for w in generator.choices(pool, k=generator.randint(1, 5))]
        captions.append(" ".join(words) + generator.choice(["", ".", " .", ",", " !"]))
    return captions


@Q2.check(points=1)
def ties_and_minimum_frequency(sub, ref):
    """tokens of equal frequency in alphabetical order, and min_freq"""
    captions = random_corpus(rng(20))
    for min_freq in (1, 2):
        check_with_or_without_helpers(sub, ref, "build_vocabulary",
                                      lambda got, expected: same_sequence(
                                          got, expected, f"build_vocabulary (min_freq={min_freq}): the tokens"),
                                      captions=captions, min_freq=min_freq)


# -- Q3 text_pipeline ---------------------------------------------------------------------------------

PIPELINE_VOCAB = STATEMENT_VOCAB + ["on", "the", "grass", ",", "big", "Dog"]
KNOWN = ["a", "dog", ".", "runs", "cat", "on", "the", "grass", ",", "big"]
UNKNOWN = ["zebra", "giraffe", "sleeps", "kite", "surfs"]


def random_caption(generator: random.Random, n_words: int, unknown: int = 0) -> str:
    words = generator.choices(KNOWN, k=n_words - unknown) + generator.sample(UNKNOWN, unknown)
    generator.shuffle(words)
    return " ".join(words)


def _pipeline_check(sub, ref, caption, max_seq_len, what):
    check_with_or_without_helpers(sub, ref, "text_pipeline",
                                  lambda got, expected: same_sequence(got.tolist(), expected.tolist(), what),
                                  caption=caption, itos=PIPELINE_VOCAB, max_seq_len=max_seq_len)


@Q3.check(points=1)
def unknown_words_and_padding(sub, ref):
    """unknown words become [UNK]; short captions are padded"""
    generator = rng(30)
    caption = random_caption(generator, generator.randint(8, 14), unknown=2)
    caption = caption[0].upper() + caption[1:]
    _pipeline_check(sub, ref, caption, 20, "text_pipeline on a caption with unknown words (the token ids)")
    _pipeline_check(sub, ref, generator.choice(["Dog", "Grass", "Big"]), 4,
                    "text_pipeline on a one-word caption (the token ids)")


@Q3.check(points=1)
def long_captions_keep_their_end(sub, ref):
    """a caption longer than max_seq_len is cut, and still ends with [END]"""
    generator = rng(31)
    for n_words, what in ((6, "exactly as long as max_seq_len allows"), (7, "one token too long"),
                          (generator.randint(11, 16), "much too long")):
        _pipeline_check(sub, ref, random_caption(generator, n_words), 8,
                        f"text_pipeline on a caption {what} (the token ids)")


# -- Q4 to Q6 -----------------------------------------------------------------------------------------

@Q4.check(points=1)
def matches_the_reference(sub, ref):
    """the features of a small ResNet's last block, resized to 14x14 by average pooling"""
    args = {"images": randn(41, 2, 3, 48, 80)}
    judge.close(sub.call("encoder", **args)["output"], ref.call("encoder", **args)["output"],
                "CNNEncoder: features of non-square images", rtol=1e-3, atol=1e-4)


@Q5.check(points=1)
def other_sizes(sub, ref):
    """RNNDecoder with other sizes"""
    what = "RNNDecoder(embed_size, decoder_size, vocab_size) with other sizes"
    for i in range(2):
        sizes = tuple(shared.randint(50 + i, 5, 48, (3,)).tolist())
        layers = sub.call("decoder_layers", embed_size=sizes[0], decoder_size=sizes[1], vocab_size=sizes[2])
        try:
            expect_decoder_layers(layers, sizes, what)
        except CheckFailed as failure:  # its message would show the sizes: say what is wrong only
            if "the layers with weights" not in str(failure):
                raise
            raise CheckFailed(f"{what}: the layers with weights do not have the sizes these arguments call for "
                              "(every layer must take its size from the arguments)") from None


@Q6.check(points=1)
def matches_the_reference(sub, ref):
    """h and c from the pooled features (3x3 and 1x1 feature maps)"""
    for seed, (height, width) in ((100, (3, 3)), (110, (1, 1))):
        args = {"sizes": SIZES, "weights": decoder_weights(seed), "features": features(seed + 1, 4, height, width)}
        got, expected = sub.call("init_hidden_state", **args), ref.call("init_hidden_state", **args)
        for name, g, e in zip("hc", got, expected):
            judge.close(g, e, f"init_hidden_state ({name}, {height}x{width} features)", rtol=1e-3, atol=1e-5)


# -- Q7 forward ---------------------------------------------------------------------------------------

def _forward_check(sub, ref, seed, lengths, max_len, what):
    args = {"sizes": SIZES, "weights": decoder_weights(seed), "features": features(seed + 1, len(lengths)),
            "captions": captions_batch(seed + 2, lengths, max_len)}
    check_with_or_without_helpers(sub, ref, "forward",
                                  lambda got, expected: judge.close(got, expected, what, rtol=1e-3, atol=1e-5),
                                  **args)


@Q7.check(points=1)
def matches_the_reference(sub, ref):
    """the scores with the grader's weights, on 20-token captions and on 7-token captions of different images"""
    _forward_check(sub, ref, 120, [20, 14, 9, 6], 20, "RNNDecoder.forward (scores)")
    _forward_check(sub, ref, 130, [7, 5, 3, 7, 4, 6], 7, "RNNDecoder.forward (scores, 7-token captions)")


# -- Q8 predict ---------------------------------------------------------------------------------------

def same_tokens(got, expected, what):
    """Equal token tensors; otherwise say which row differs first, and where (never the tokens)."""
    judge.equal(list(got.shape), list(expected.shape), f"{what}: shape")
    for row, (g, e) in enumerate(zip(got.tolist(), expected.tolist())):
        if g != e:
            position = next(i for i, (a, b) in enumerate(zip(g, e)) if a != b)
            raise CheckFailed(f"{what}: row {row} differs from position {position} on")


def _predict_check(sub, ref, weights, image, T, what):
    args = {"sizes": SIZES, "weights": weights, "features": image, "T": T}
    check_with_or_without_helpers(sub, ref, "predict", lambda got, expected: same_tokens(got, expected, what), **args)


def ends(tokens) -> list:
    """The step of each row's [END], or -1."""
    return [row.index(END) if END in row else -1 for row in tokens.tolist()]


def case_inputs(ref, seed: int, end_bias: float, batch: int, T: int, ending: bool, tries: int = 12):
    """Salted weights and features for which the reference's greedy rows, with the real initial
    state and with the stand-in, end at two or more different steps while others never end
    (`ending`), or never end at all. Chosen by the reference only, so the same for a given file."""
    def wanted(tokens):
        found = ends(tokens)
        return (-1 in found and len({e for e in found if e >= 0}) >= 2) if ending else set(found) == {-1}
    for attempt in range(tries):
        weights = decoder_weights(seed + 20 * attempt, end_bias=end_bias)
        image = features(seed + 20 * attempt + 1, batch)
        if all(wanted(ref.call("predict", sizes=SIZES, weights=weights, features=image, T=T, standins=standins))
               for standins in ([], ["init_hidden_state"])):
            break
    return weights, image


# Weights for which greedy decoding ends at different steps for different images (some never):
# `end_bias` raises the score of [END]; tests/test_captioning.py checks that the cases are found.
ENDING_CASE = {"seed": 160, "end_bias": 0.5, "batch": 8, "T": 12, "ending": True}
NEVER_ENDING_CASE = {"seed": 140, "end_bias": -10.0, "batch": 5, "T": 9, "ending": False}


@Q8.check(points=1)
def greedy_tokens_match_the_reference(sub, ref):
    """greedy tokens with the grader's weights ([END] never the best)"""
    weights, image = case_inputs(ref, **NEVER_ENDING_CASE)
    _predict_check(sub, ref, weights, image, NEVER_ENDING_CASE["T"], "RNNDecoder.predict (greedy tokens)")


@Q8.check(points=1)
def rows_stop_at_their_own_end(sub, ref):
    """rows that reach [END] at different steps keep it, then only [PAD]"""
    weights, image = case_inputs(ref, **ENDING_CASE)
    _predict_check(sub, ref, weights, image, ENDING_CASE["T"], "RNNDecoder.predict (rows ending at different steps)")


# -- Q9 forward_pass ----------------------------------------------------------------------------------

def hidden_loss_case() -> dict:
    return loss_case(200, [9, 4, 6, 2, 9, 5], 9)


@Q9.check(points=1)
def loss_ignores_padding(sub, ref):
    """the loss over the non-padding targets of captions of different lengths"""
    case = hidden_loss_case()
    judge.close(sub.call("forward_pass", **case)["loss"], ref.call("forward_pass", **case)["loss"],
                "forward_pass (loss with padded captions)")


@Q9.check(points=1)
def loss_gradients(sub, ref):
    """the gradients of the loss with respect to the decoder's parameters, and the predictions"""
    case = hidden_loss_case()
    got, expected = sub.call("forward_pass", **case), ref.call("forward_pass", **case)
    judge.expect(got["gradients"] is not None, "forward_pass: the loss is detached from the decoder's graph")
    for name, g, e in zip(("token table", "position table", "feature projection"), got["gradients"],
                          expected["gradients"]):
        judge.close(g, e, f"forward_pass: gradient of the decoder's {name}", rtol=1e-3, atol=1e-6)
    judge.close(got["predictions"], expected["predictions"], "forward_pass (predictions)")
