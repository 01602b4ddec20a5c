"""Hidden checks of the `captioning` assignment (instructor only: the release leaves this file out).

They compare the submission with the reference solution on inputs the students never see.
"""
from grading import judge
from grading.assignments.captioning.public import (Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, SIZES,
                                                   STATEMENT_VOCAB, captions_batch, decoder_weights,
                                                   expect_decoder_layers, features, loss_case, randn)

# The helpers a function is meant to call, which the probes can swap for stand-ins.
HELPERS = {"build_vocabulary": ("tokenize",), "text_pipeline": ("tokenize",),
           "forward": ("init_hidden_state",), "predict": ("init_hidden_state",)}


def check_with_or_without_helpers(sub, ref, probe, compare, **args):
    judge.with_or_without_helpers(sub, ref, probe, HELPERS[probe], compare, **args)


@Q1.check(points=1)
def other_sentences(sub, ref):
    """capitals, apostrophes, hyphens, digits and several punctuation marks"""
    for text in ("Two DOGS' toys: a ball & a 3-D frisbee!", "  A man   rides\ta bike,   (fast)...",
                 "It's a man's hat; 2 cats"):
        judge.equal(sub.call("tokenize", text=text), ref.call("tokenize", text=text), f"tokenize({text!r})")


VOCAB_CORPUS = ["The cat sat.", "the dog sat", "A dog, a cat.", "zebra", "The end", "a bird sang", "the bird"]


@Q2.check(points=1)
def ties_and_minimum_frequency(sub, ref):
    """tokens of equal frequency in alphabetical order, and min_freq"""
    for min_freq in (1, 2):
        args = {"captions": VOCAB_CORPUS, "min_freq": min_freq}
        check_with_or_without_helpers(sub, ref, "build_vocabulary",
                                      lambda got, expected: judge.equal(got, expected,
                                                                        f"build_vocabulary (min_freq={min_freq})"),
                                      **args)


PIPELINE_VOCAB = STATEMENT_VOCAB + ["on", "the", "grass", ",", "big", "Dog"]


@Q3.check(points=1)
def unknown_words_and_padding(sub, ref):
    """unknown words become [UNK]; short captions are padded"""
    for caption, max_seq_len in (("A big zebra runs on the grass, a dog sleeps.", 20), ("Dog", 4)):
        args = {"caption": caption, "itos": PIPELINE_VOCAB, "max_seq_len": max_seq_len}
        check_with_or_without_helpers(sub, ref, "text_pipeline",
                                      lambda got, expected: judge.equal(got.tolist(), expected.tolist(),
                                                                        f"text_pipeline({caption!r})"),
                                      **args)


@Q3.check(points=1)
def long_captions_keep_their_end(sub, ref):
    """a caption longer than max_seq_len is cut, and still ends with [END]"""
    for caption, max_seq_len in (("a dog runs on the big grass , a cat runs on the grass", 8),
                                 ("a dog runs on the grass .", 8), ("a dog runs on the grass , a cat", 8)):
        args = {"caption": caption, "itos": PIPELINE_VOCAB, "max_seq_len": max_seq_len}
        check_with_or_without_helpers(sub, ref, "text_pipeline",
                                      lambda got, expected: judge.equal(got.tolist(), expected.tolist(),
                                                                        f"text_pipeline({caption!r}, max_seq_len=8)"),
                                      **args)


@Q4.check(points=1)
def matches_the_reference(sub, ref):
    """the features of a small ResNet's last block, resized to 14x14 by average pooling"""
    args = {"images": randn(41, 2, 3, 48, 80)}
    judge.close(sub.call("encoder", **args)["output"], ref.call("encoder", **args)["output"],
                "CNNEncoder: features", rtol=1e-3, atol=1e-4)


@Q5.check(points=1)
def other_sizes(sub, ref):
    """RNNDecoder with other sizes"""
    for sizes in ((8, 16, 40), (30, 10, 7)):
        layers = sub.call("decoder_layers", embed_size=sizes[0], decoder_size=sizes[1], vocab_size=sizes[2])
        expect_decoder_layers(layers, sizes, f"RNNDecoder{sizes}")


@Q6.check(points=1)
def matches_the_reference(sub, ref):
    """h and c from the pooled features (3x3 and 1x1 feature maps)"""
    for seed, (height, width) in ((100, (3, 3)), (110, (1, 1))):
        args = {"sizes": SIZES, "weights": decoder_weights(seed), "features": features(seed + 1, 4, height, width)}
        got, expected = sub.call("init_hidden_state", **args), ref.call("init_hidden_state", **args)
        for name, g, e in zip("hc", got, expected):
            judge.close(g, e, f"init_hidden_state ({name}, {height}x{width} features)", rtol=1e-3, atol=1e-5)


def _forward_check(sub, ref, seed, lengths, max_len, what):
    args = {"sizes": SIZES, "weights": decoder_weights(seed), "features": features(seed + 1, len(lengths)),
            "captions": captions_batch(seed + 2, lengths, max_len)}
    check_with_or_without_helpers(sub, ref, "forward",
                                  lambda got, expected: judge.close(got, expected, what, rtol=1e-3, atol=1e-5),
                                  **args)


@Q7.check(points=1)
def matches_the_reference(sub, ref):
    """the scores with the grader's weights (captions of 20 tokens)"""
    _forward_check(sub, ref, 120, [20, 14, 9, 6], 20, "RNNDecoder.forward (scores)")


@Q7.check(points=1)
def matches_the_reference_on_short_captions(sub, ref):
    """the scores on a batch of 7-token captions of different images"""
    _forward_check(sub, ref, 130, [7, 5, 3, 7, 4, 6], 7, "RNNDecoder.forward (scores, 7-token captions)")


def same_tokens(got, expected, what):
    """Equal token tensors; otherwise say which row differs first, and where."""
    judge.equal(list(got.shape), list(expected.shape), f"{what}: shape")
    for row, (g, e) in enumerate(zip(got.tolist(), expected.tolist())):
        if g != e:
            position = next(i for i, (a, b) in enumerate(zip(g, e)) if a != b)
            judge.expect(False, f"{what}: row {row} differs from position {position}: got {g}, expected {e}")


def _predict_check(sub, ref, weights, image, T, what):
    args = {"sizes": SIZES, "weights": weights, "features": image, "T": T}
    check_with_or_without_helpers(sub, ref, "predict", lambda got, expected: same_tokens(got, expected, what), **args)


# Weights for which greedy decoding ends at different steps for different images (some never):
# `end_bias` raises the score of [END]; tests/test_captioning.py checks that it does.
ENDING_CASE = {"seed": 160, "end_bias": 0.5, "batch": 8, "T": 12}
NEVER_ENDING_CASE = {"seed": 140, "end_bias": -10.0, "batch": 5, "T": 9}


def case_inputs(case: dict):
    return decoder_weights(case["seed"], end_bias=case["end_bias"]), features(case["seed"] + 1, case["batch"])


@Q8.check(points=1)
def greedy_tokens_match_the_reference(sub, ref):
    """greedy tokens with the grader's weights ([END] never the best)"""
    weights, image = case_inputs(NEVER_ENDING_CASE)
    _predict_check(sub, ref, weights, image, NEVER_ENDING_CASE["T"], "RNNDecoder.predict (greedy tokens)")


@Q8.check(points=1)
def rows_stop_at_their_own_end(sub, ref):
    """rows that reach [END] at different steps keep it, then only [PAD]"""
    weights, image = case_inputs(ENDING_CASE)
    _predict_check(sub, ref, weights, image, ENDING_CASE["T"],
                   "RNNDecoder.predict (rows ending at different steps)")


LOSS_CASE = loss_case(200, [9, 4, 6, 2, 9, 5], 9)


@Q9.check(points=1)
def loss_ignores_padding(sub, ref):
    """the loss over the non-padding targets of captions of different lengths"""
    judge.close(sub.call("forward_pass", **LOSS_CASE)["loss"], ref.call("forward_pass", **LOSS_CASE)["loss"],
                "forward_pass (loss with padded captions)")


@Q9.check(points=1)
def loss_gradients(sub, ref):
    """the gradients of the loss with respect to the decoder's parameters"""
    got, expected = sub.call("forward_pass", **LOSS_CASE), ref.call("forward_pass", **LOSS_CASE)
    judge.expect(got["attached"], "forward_pass: the loss is detached from the decoder's graph")
    for name, g, e in zip(("token table", "position table", "feature projection"), got["gradients"],
                          expected["gradients"]):
        judge.close(g, e, f"forward_pass: gradient of the decoder's {name}", rtol=1e-3, atol=1e-6)
    judge.close(got["predictions"], expected["predictions"], "forward_pass (predictions)")
