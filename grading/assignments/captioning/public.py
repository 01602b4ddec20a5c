"""Questions of the `captioning` assignment (22 points) and their public checks.

Public checks ship to students: they use the statement's examples and closed-form facts only,
never the reference solution. The hidden checks (hidden.py, instructor only) compare with the
reference on other inputs. Decoder checks run on random feature tensors (B, 2048, h, w) with
small h, w: no ResNet-50 forward is needed to grade the decoder.
"""
import math
from collections import Counter

import torch

from grading import judge
from grading.rubric import Question

Q1 = Question("Q1", "tokenize", points=2)
Q2 = Question("Q2", "build_vocabulary", points=2)
Q3 = Question("Q3", "text_pipeline", points=3)
Q4 = Question("Q4", "CNNEncoder", points=2, timeout=60)
Q5 = Question("Q5", "RNNDecoder layers", points=2)
Q6 = Question("Q6", "init_hidden_state", points=2)
Q7 = Question("Q7", "RNNDecoder.forward", points=3)
Q8 = Question("Q8", "RNNDecoder.predict", points=3)
Q9 = Question("Q9", "forward_pass", points=3)
QUESTIONS = [Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9]

SPECIALS = ["[START]", "[END]", "[PAD]", "[UNK]"]
START, END, PAD, UNK = range(4)
FEATURE_SIZE = 2048
SIZES = (12, 24, 30)  # embed_size, decoder_size, vocab_size of the decoders the checks build


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=generator(seed))


def features(seed: int, batch: int, height: int = 2, width: int = 2) -> torch.Tensor:
    return randn(seed, batch, FEATURE_SIZE, height, width)


def decoder_weights(seed: int, sizes=SIZES, end_bias: float = 0.0, output_scale: float = 1.0) -> dict:
    """Weights for every layer of a decoder, by role, in each layer's parameter order."""
    embed_size, decoder_size, vocab_size = sizes
    embedding = randn(seed, vocab_size, embed_size) * 8  # the tokens weigh as much as the 2048 features
    embedding[PAD] = 0  # what padding_idx keeps
    lstm_inputs = FEATURE_SIZE + embed_size
    fc_bias = randn(seed + 9, vocab_size) * 0.1
    fc_bias[END] += end_bias
    return {"embedding": embedding,
            "init_h": [randn(seed + 1, decoder_size, FEATURE_SIZE) * 2 / FEATURE_SIZE ** 0.5,
                       randn(seed + 2, decoder_size) * 0.1],
            "init_c": [randn(seed + 3, decoder_size, FEATURE_SIZE) * 2 / FEATURE_SIZE ** 0.5,
                       randn(seed + 4, decoder_size) * 0.1],
            "lstm": [randn(seed + 5, 4 * decoder_size, lstm_inputs) * 2 / lstm_inputs ** 0.5,
                     randn(seed + 6, 4 * decoder_size, decoder_size) / decoder_size ** 0.5,
                     randn(seed + 7, 4 * decoder_size) * 0.1, randn(seed + 8, 4 * decoder_size) * 0.1],
            "fc": [randn(seed + 10, vocab_size, decoder_size) * output_scale * 3 / decoder_size ** 0.5, fc_bias]}


def captions_batch(seed: int, lengths, max_len: int, vocab_size: int = SIZES[2]) -> torch.Tensor:
    """[START], random words, [END], then [PAD] up to max_len, for each length (tokens incl. specials)."""
    rows = []
    for i, length in enumerate(lengths):
        words = torch.randint(4, vocab_size, (length - 2,), generator=generator(seed + i))
        rows.append(torch.cat([torch.tensor([START]), words, torch.tensor([END]),
                               torch.full((max_len - length,), PAD)]))
    return torch.stack(rows)


def layer_line(layer: dict) -> str:
    details = ", ".join(f"{k}={v}" for k, v in layer.items() if k not in ("layer", "name", "output_shape"))
    return f"{layer['layer']}({details})"


def expect_decoder_layers(layers: list, sizes, what: str) -> None:
    """The layers that hold weights are exactly the statement's (any order, any names but
    init_h and init_c); the Embedding pads with [PAD]; a Dropout(0.5) is there."""
    embed_size, decoder_size, vocab_size = sizes
    weighted = ("Embedding", "Linear", "LSTMCell", "LSTM", "GRUCell", "RNNCell", "Conv2d")
    got = Counter(layer_line({k: v for k, v in layer.items() if k != "padding_idx"})
                  for layer in layers if layer["layer"] in weighted)
    expected = Counter({f"Embedding(num_embeddings={vocab_size}, embedding_dim={embed_size})": 1,
                        f"Linear(in_features={FEATURE_SIZE}, out_features={decoder_size})": 2,
                        f"LSTMCell(input_size={FEATURE_SIZE + embed_size}, hidden_size={decoder_size})": 1,
                        f"Linear(in_features={decoder_size}, out_features={vocab_size})": 1})
    missing, extra = expected - got, got - expected
    judge.expect(not missing and not extra,
                 f"{what}: the layers with weights should be {', '.join(sorted(expected.elements()))}"
                 + (f"; missing {', '.join(missing.elements())}" if missing else "")
                 + (f"; unexpected {', '.join(extra.elements())}" if extra else ""))
    names = {layer["name"].rpartition(".")[2]: layer for layer in layers}
    for name in ("init_h", "init_c"):
        judge.expect(name in names and names[name]["layer"] == "Linear"
                     and names[name].get("in_features") == FEATURE_SIZE,
                     f"{what}: the Linear layer computing the initial state should be named {name}")
    embedding = next(layer for layer in layers if layer["layer"] == "Embedding")
    judge.expect(embedding.get("padding_idx") == PAD,
                 f"{what}: the Embedding should have padding_idx={PAD} ([PAD]); it has {embedding.get('padding_idx')}")
    dropouts = [layer.get("p") for layer in layers if layer["layer"] == "Dropout"]
    judge.expect(dropouts == [0.5], f"{what}: expected one Dropout(p=0.5); found {dropouts or 'none'}")


@Q1.check(points=1, public=True)
def statement_example(sub, ref):
    """tokenize("A man, riding a horse.") (the docstring's example)"""
    judge.equal(sub.call("tokenize", text="A man, riding a horse."), ["a", "man", ",", "riding", "a", "horse", "."],
                'tokenize("A man, riding a horse.")')


@Q2.check(points=1, public=True)
def specials_first_then_by_frequency(sub, ref):
    """the four special tokens first, then the most frequent tokens"""
    # Already tokenized (and `tokenize` swapped for a whitespace split): Q1's answer plays no part.
    captions = ["a dog runs .", "a cat runs fast", "a dog sleeps", "the dog"]
    got = sub.call("build_vocabulary", captions=captions, min_freq=1, standins=["tokenize"])
    judge.equal(got[:4], SPECIALS, "build_vocabulary: the first four tokens")
    judge.equal(got[4:], ["a", "dog", "runs", ".", "cat", "fast", "sleeps", "the"],
                "build_vocabulary: the tokens after the specials (most frequent first, ties alphabetical)")


STATEMENT_VOCAB = SPECIALS + ["a", "dog", ".", "runs", "cat"]


@Q3.check(points=1, public=True)
def statement_example(sub, ref):
    """text_pipeline("a dog .", vocab, 6) (the docstring's example, already tokenized)"""
    got = sub.call("text_pipeline", caption="a dog .", itos=STATEMENT_VOCAB, max_seq_len=6, standins=["tokenize"])
    judge.equal(got.tolist(), [START, 4, 5, 6, END, PAD], 'text_pipeline("a dog .", vocab, 6)')


@Q4.check(points=1, public=True)
def frozen_features_of_14x14(sub, ref):
    """features (B, 2048, 14, 14), every parameter frozen"""
    got = sub.call("encoder", images=randn(40, 2, 3, 64, 64))
    judge.equal(list(got["output"].shape), [2, FEATURE_SIZE, 14, 14], "CNNEncoder: shape of the features")
    judge.expect(got["n_parameters"] > 0, "CNNEncoder has no parameters: keep the ResNet's children in the module")
    judge.expect(got["trainable"] == 0, f"CNNEncoder: {got['trainable']} of its {got['n_parameters']} parameter "
                                        "tensors still require gradients; freeze them (requires_grad_(False))")


@Q5.check(points=1, public=True)
def statement_sizes(sub, ref):
    """RNNDecoder(256, 512, 1000, device): the layers of the statement"""
    layers = sub.call("decoder_layers", embed_size=256, decoder_size=512, vocab_size=1000)
    expect_decoder_layers(layers, (256, 512, 1000), "RNNDecoder(256, 512, 1000)")


@Q6.check(points=1, public=True)
def two_states_of_the_decoder_size(sub, ref):
    """returns (h, c), each (B, decoder_size), computed by different layers"""
    h, c = sub.call("init_hidden_state", sizes=SIZES, weights=decoder_weights(50), features=features(51, 3))
    for name, state in (("h", h), ("c", c)):
        judge.equal(list(state.shape), [3, SIZES[1]], f"init_hidden_state: shape of {name}")
    judge.expect(not torch.allclose(h, c), "init_hidden_state: h and c are equal; h comes from init_h, c from init_c")


@Q7.check(points=1, public=True)
def shape_and_teacher_forcing(sub, ref):
    """scores (B, L, V), and the scores at step t depend only on the tokens up to t"""
    weights, image = decoder_weights(60), features(61, 2)
    captions = captions_batch(62, [9, 12], 12)
    changed = captions.clone()
    changed[:, 6:] = torch.flip(captions[:, 6:], dims=[1])
    got = sub.call("forward", sizes=SIZES, weights=weights, features=image, captions=captions, standins=[])
    judge.equal(list(got.shape), [2, 12, SIZES[2]], "RNNDecoder.forward: shape of the scores")
    other = sub.call("forward", sizes=SIZES, weights=weights, features=image, captions=changed, standins=[])
    judge.close(other[:, :6], got[:, :6], "RNNDecoder.forward: the scores of steps 0..5 when only tokens 6.. change "
                                          "(they must not see later tokens)")


def constant_output_weights(seed: int, token: int) -> dict:
    """A decoder whose output layer ignores the state and always prefers `token`."""
    weights = decoder_weights(seed)
    weights["fc"] = [torch.zeros(SIZES[2], SIZES[1]), torch.zeros(SIZES[2])]
    weights["fc"][1][token] = 5.0
    return weights


@Q8.check(points=1, public=True)
def stops_at_end_and_pads(sub, ref):
    """a decoder that always prefers [END] gives [END] then [PAD]s; one that prefers token 7, only 7s"""
    image = features(70, 3)
    got = sub.call("predict", sizes=SIZES, weights=constant_output_weights(71, END), features=image, T=6, standins=[])
    judge.equal(got.tolist(), [[END] + [PAD] * 5] * 3, "RNNDecoder.predict when [END] is always the best token")
    got = sub.call("predict", sizes=SIZES, weights=constant_output_weights(72, 7), features=image, T=5, standins=[])
    judge.equal(got.tolist(), [[7] * 5] * 3, "RNNDecoder.predict when token 7 is always the best token")


def loss_case(seed: int, lengths, max_len: int, vocab_size: int = 11, channels: int = 5, zero: bool = False) -> dict:
    """Inputs of the forward_pass probe: images, captions with padding, and the probe networks' weights."""
    scale = 0.0 if zero else 1.0
    return {"images": randn(seed, len(lengths), 3, 4, 4), "captions": captions_batch(seed + 1, lengths, max_len, vocab_size),
            "lengths": torch.tensor(lengths), "encoder_weight": randn(seed + 2, channels, 3),
            "tokens": randn(seed + 3, vocab_size, vocab_size) * scale,
            "positions": randn(seed + 4, max_len, vocab_size) * scale,
            "projection": randn(seed + 5, channels, vocab_size) * scale}


@Q9.check(points=1, public=True)
def uniform_scores_give_log_vocabulary_size(sub, ref):
    """with uniform scores the loss is log(V), a scalar attached to the graph; predictions are the scores"""
    case = loss_case(90, [5, 8, 3], 8, zero=True)
    got = sub.call("forward_pass", **case)
    judge.expect(got["attached"], "forward_pass: the loss is not a scalar attached to the decoder's graph "
                                  "(no gradient can flow back; do not use .item(), .detach() or torch.no_grad() on it)")
    judge.close(got["loss"], math.log(11), "forward_pass: the loss when every token has the same score (log V)")
    judge.equal(list(got["predictions"].shape), [3, 8, 11], "forward_pass: shape of the predictions (the decoder's scores)")
