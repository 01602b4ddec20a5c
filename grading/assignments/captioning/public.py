"""Questions of the `captioning` assignment (22 points) and their public checks.

Public checks ship to students: they use the statement's examples and closed-form facts only,
never the reference solution. The hidden checks (hidden.py, instructor only) compare with the
reference on other inputs. Decoder checks run on random feature tensors (B, 2048, h, w) with
small h, w: no ResNet-50 forward is needed to grade the decoder.

Where a student often makes a given mistake, the public check recognises it and names it (see
`judge.naming_mistakes`); and a function meant to call a helper the student also writes is judged
with that helper swapped for a stand-in as well as without (`either_way`), so an unwritten or
wrong helper costs only its own question.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from grading import judge
from grading.assignments.captioning.probes import _small_resnet
from grading.rubric import CheckFailed, Question, SubmissionFailure
from grading.shared import expect_layer_counts, generator, of_kinds, randn

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
# The helpers a decoder method is meant to call, which the probes can swap for stand-ins.
STATE_HELPERS = ("init_hidden_state",)


# -- inputs (built when a check runs: in a hidden check, grading.shared salts them) ---------------

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


# -- judging helpers --------------------------------------------------------------------------------

def either_way(sub, probe: str, helpers, judged, **args) -> None:
    """Judge a method meant to call helpers the student also writes, in a public check: once
    with the helpers swapped for the probes' stand-ins, once as it is. `judged(call)` gets a
    function `call(**more)` that runs the probe; the method passes if either run passes (an
    unwritten or wrong helper costs only the helper's question)."""
    failures = []
    for standins in (list(helpers), []):
        def call(**more):
            return sub.call(probe, standins=standins, **args, **more)
        try:
            judged(call)
            return
        except (CheckFailed, SubmissionFailure) as failure:
            failures.append(failure)
    verdicts = [f for f in failures if isinstance(f, CheckFailed)]
    raise (verdicts or failures)[0]


def expect_decoder_layers(layers: list, sizes, what: str) -> None:
    """The layers that hold weights are exactly the statement's (any order, any names but
    init_h and init_c); the Embedding pads with [PAD]; a Dropout(0.5) is there."""
    embed_size, decoder_size, vocab_size = sizes
    weighted = [{k: v for k, v in layer.items() if k != "padding_idx"}
                for layer in of_kinds(layers, ("Embedding", "Linear", "LSTMCell", "LSTM", "GRUCell", "RNNCell",
                                               "Conv2d"))]
    expect_layer_counts(weighted, [
        {"layer": "Embedding", "num_embeddings": vocab_size, "embedding_dim": embed_size},
        {"layer": "Linear", "in_features": FEATURE_SIZE, "out_features": decoder_size},
        {"layer": "Linear", "in_features": FEATURE_SIZE, "out_features": decoder_size},
        {"layer": "LSTMCell", "input_size": FEATURE_SIZE + embed_size, "hidden_size": decoder_size},
        {"layer": "Linear", "in_features": decoder_size, "out_features": vocab_size}],
        f"{what}: the layers with weights")
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


# -- Q1 tokenize --------------------------------------------------------------------------------------

@Q1.check(points=1, public=True)
def statement_example(sub, ref):
    """tokenize("A man, riding a horse.") (the docstring's example)"""
    text = "A man, riding a horse."
    judge.naming_mistakes(
        sub.call("tokenize", text=text), ["a", "man", ",", "riding", "a", "horse", "."],
        [("tokenize: punctuation marks must be tokens of their own (\"man,\" is two tokens: \"man\" and \",\"); "
          "splitting on spaces is not enough", text.lower().split()),
         ("tokenize: the tokens must be lower case", ["A", "man", ",", "riding", "a", "horse", "."])],
        lambda got, expected: judge.equal(got, expected, f"tokenize({text!r})"))


# -- Q2 build_vocabulary ------------------------------------------------------------------------------

@Q2.check(points=1, public=True)
def specials_first_then_by_frequency(sub, ref):
    """the four special tokens first, then the most frequent tokens"""
    # Already tokenized (and `tokenize` swapped for a whitespace split): Q1's answer plays no part.
    captions = ["a dog runs .", "a cat runs fast", "a dog sleeps", "the dog"]
    got = sub.call("build_vocabulary", captions=captions, min_freq=1, standins=["tokenize"])
    judge.equal(got[:4], SPECIALS, "build_vocabulary: the first four tokens (the special tokens, in their order)")
    judge.equal(got[4:], ["a", "dog", "runs", ".", "cat", "fast", "sleeps", "the"],
                "build_vocabulary: the tokens after the specials (most frequent first, ties alphabetical)")


# -- Q3 text_pipeline ---------------------------------------------------------------------------------

STATEMENT_VOCAB = SPECIALS + ["a", "dog", ".", "runs", "cat"]


@Q3.check(points=1, public=True)
def statement_example(sub, ref):
    """text_pipeline("a dog .", vocab, 6) (the docstring's example), and a caption too long for 6 tokens"""
    got = sub.call("text_pipeline", caption="a dog .", itos=STATEMENT_VOCAB, max_seq_len=6, standins=["tokenize"])
    judge.equal(got.tolist(), [START, 4, 5, 6, END, PAD], 'text_pipeline("a dog .", vocab, 6)')
    caption = "a dog runs . a cat runs"
    got = sub.call("text_pipeline", caption=caption, itos=STATEMENT_VOCAB, max_seq_len=6, standins=["tokenize"])
    judge.naming_mistakes(
        got.tolist(), [START, 4, 5, 7, 6, END],
        [("text_pipeline: a caption too long for max_seq_len lost its [END]: keep its first max_seq_len - 2 "
          "tokens, then add [END]", [START, 4, 5, 7, 6, 4])],
        lambda g, e: judge.equal(g, e, f"text_pipeline({caption!r}, vocab, 6)"))


# -- Q4 CNNEncoder ------------------------------------------------------------------------------------

def resnet_features(images: torch.Tensor, children: int = -2, pool=None) -> torch.Tensor:
    """What the statement's encoder computes with the probes' small ResNet (the same children as
    ResNet-50): every child but the last `-children`, then a 14x14 adaptive average pooling."""
    network = _small_resnet().eval()
    with torch.no_grad():
        return (pool or nn.AdaptiveAvgPool2d((14, 14)))(nn.Sequential(*list(network.children())[:children])(images))


@Q4.check(points=1, public=True)
def frozen_features_of_14x14(sub, ref):
    """features (B, 2048, 14, 14) of the ResNet without its last two children, every parameter frozen"""
    images = randn(40, 2, 3, 64, 64)
    got = sub.call("encoder", images=images)
    judge.equal(list(got["output"].shape), [2, FEATURE_SIZE, 14, 14], "CNNEncoder: shape of the features")
    judge.naming_mistakes(
        got["output"], resnet_features(images),
        [("CNNEncoder: the features are the same at every one of the 14x14 positions: ResNet's global average "
          "pooling is still there; keep every child of the ResNet but the last two", resnet_features(images, -1)),
         ("CNNEncoder: resize the feature map with an average pooling (nn.AdaptiveAvgPool2d), not a max pooling",
          resnet_features(images, pool=nn.AdaptiveMaxPool2d((14, 14))))],
        lambda g, e: judge.close(g, e, "CNNEncoder: the features of the (small) ResNet's last block, "
                                       "resized to 14x14", rtol=1e-3, atol=1e-4))
    judge.expect(got["n_parameters"] > 0, "CNNEncoder has no parameters: keep the ResNet's children in the module")
    judge.expect(got["trainable"] == 0, f"CNNEncoder: {got['trainable']} of its {got['n_parameters']} parameter "
                                        "tensors still require gradients; freeze them (requires_grad_(False))")


# -- Q5 RNNDecoder layers -----------------------------------------------------------------------------

@Q5.check(points=1, public=True)
def statement_sizes(sub, ref):
    """RNNDecoder(256, 512, 1000, device): the layers of the statement"""
    layers = sub.call("decoder_layers", embed_size=256, decoder_size=512, vocab_size=1000)
    expect_decoder_layers(layers, (256, 512, 1000), "RNNDecoder(256, 512, 1000)")


# -- Q6 init_hidden_state -----------------------------------------------------------------------------

def linear(x: torch.Tensor, layer) -> torch.Tensor:
    weight, bias = layer
    return x.double() @ weight.double().T + bias.double()


@Q6.check(points=1, public=True)
def states_of_the_pooled_features(sub, ref):
    """h = init_h(spatial mean of the features), c = init_c(the same), no activation"""
    weights, image = decoder_weights(50), features(51, 3)
    got = sub.call("init_hidden_state", sizes=SIZES, weights=weights, features=image)
    for name, state in zip("hc", got):
        judge.equal(list(state.shape), [3, SIZES[1]], f"init_hidden_state: shape of {name}")
    pooled = image.double().mean(dim=(2, 3))
    h, c = linear(pooled, weights["init_h"]), linear(pooled, weights["init_c"])
    summed, largest = image.double().sum(dim=(2, 3)), image.double().amax(dim=(2, 3))
    judge.naming_mistakes(
        got, [h, c],
        [("init_hidden_state: h and c are equal; h comes from init_h, c from init_c", [h, h]),
         ("init_hidden_state: no activation: h and c are init_h and init_c of the pooled features, not their tanh",
          [h.tanh(), c.tanh()]),
         ("init_hidden_state: pool the features with their mean over the positions, not their sum",
          [linear(summed, weights["init_h"]), linear(summed, weights["init_c"])]),
         ("init_hidden_state: pool the features with their mean over the positions, not their maximum",
          [linear(largest, weights["init_h"]), linear(largest, weights["init_c"])])],
        lambda g, e: [judge.close(g[i], e[i], f"init_hidden_state ({'hc'[i]})", rtol=1e-4, atol=1e-5)
                      for i in range(2)])


# -- Q7 RNNDecoder.forward ----------------------------------------------------------------------------

def memoryless_weights(seed: int) -> dict:
    """A decoder whose LSTM forgets at once (forget gate shut, no recurrent weights) and ignores the
    token part of its input ([embedding ; pooled features]): every step's scores are then the
    same function of the image alone, computed below in closed form."""
    embed_size, decoder_size, _ = SIZES
    weights = decoder_weights(seed)
    w_input, w_state, b_input, b_state = [w.clone() for w in weights["lstm"]]
    w_input[:, :embed_size] = 0                  # the embedding's columns
    w_input[decoder_size:2 * decoder_size] = 0   # the forget gate (gate order i, f, g, o) ...
    b_input[decoder_size:2 * decoder_size] = -40.0  # ... shut
    weights["lstm"] = [w_input, torch.zeros_like(w_state), b_input, b_state]
    return weights


def memoryless_scores(weights: dict, lstm_input: torch.Tensor) -> torch.Tensor:
    """The scores of one step of the memoryless decoder on `lstm_input` (..., 2048 + E)."""
    w_input, _, b_input, b_state = (w.double() for w in weights["lstm"])
    i, _, g, o = (lstm_input.double() @ w_input.T + b_input + b_state).chunk(4, dim=-1)
    h = torch.sigmoid(o) * torch.tanh(torch.sigmoid(i) * torch.tanh(g))
    return linear(h, weights["fc"])


EVAL_MODE_DROPOUT = ("RNNDecoder.forward: in eval mode, two calls give different scores: dropout must only act in "
                     "training mode (use the nn.Dropout layer, or F.dropout(h, 0.5, training=self.training))")


@Q7.check(points=1, public=True)
def teacher_forcing_with_the_image_at_every_step(sub, ref):
    """scores (B, L, V); step t reads tokens up to t; the input is [embedding ; pooled features] at every step"""
    weights, image = decoder_weights(60), features(61, 2)
    captions = captions_batch(62, [9, 12], 12)
    changed = captions.clone()
    changed[:, 6:] = torch.flip(captions[:, 6:], dims=[1])
    memoryless, other_image = memoryless_weights(63), features(64, 2)
    embedding = weights["embedding"].double()  # (the memoryless decoder ignores it)
    pooled = other_image.double().mean(dim=(2, 3))
    expected = memoryless_scores(memoryless, torch.cat([torch.zeros(2, SIZES[0], dtype=torch.float64), pooled], 1))
    expected = expected.unsqueeze(1).expand(2, 12, SIZES[2])
    # the same decoder fed [pooled features ; embedding] or its mean replaced by a max
    swapped = memoryless_scores(memoryless, torch.cat([pooled.unsqueeze(1).expand(2, 12, FEATURE_SIZE),
                                                       embedding[captions]], dim=2))
    largest = memoryless_scores(memoryless, torch.cat([torch.zeros(2, SIZES[0], dtype=torch.float64),
                                                       other_image.double().amax(dim=(2, 3))], 1))

    def judged(call):
        got = call(weights=weights, features=image, captions=captions)
        judge.equal(list(got.shape), [2, 12, SIZES[2]], "RNNDecoder.forward: shape of the scores")
        judge.expect(torch.equal(call(weights=weights, features=image, captions=captions), got),
                     EVAL_MODE_DROPOUT)
        other = call(weights=weights, features=image, captions=changed)
        judge.close(other[:, :6], got[:, :6], "RNNDecoder.forward: the scores of steps 0..5 when only tokens 6.. "
                                              "change (they must not see later tokens)")
        judge.expect(not torch.allclose(other[:, 6], got[:, 6]),
                     "RNNDecoder.forward: the scores of step 6 do not change when the token at position 6 changes: "
                     "scores[:, t] must be computed after reading captions[:, t] (teacher forcing)")
        scores = call(weights=memoryless, features=other_image, captions=captions)
        if torch.allclose(scores[0, 1:], scores[1, 1:]) and not torch.allclose(scores[0, 0], scores[1, 0]):
            raise CheckFailed("RNNDecoder.forward: after the first step, the scores no longer depend on the image: "
                              "the LSTM's input must be [embedding ; pooled features] at every step, not only the "
                              "first")
        judge.naming_mistakes(
            scores, expected,
            [("RNNDecoder.forward: the LSTM's input must be [embedding ; pooled features], in that order "
              "(torch.cat([embedding, pooled], dim=1))", swapped),
             ("RNNDecoder.forward: pool the features with their spatial mean, not their maximum",
              largest.unsqueeze(1).expand(2, 12, SIZES[2]))],
            lambda g, e: judge.close(g, e, "RNNDecoder.forward with an LSTM that forgets at once and ignores the "
                                           "tokens (every step's scores are then the same function of the image)",
                                     rtol=1e-3, atol=1e-4))

    either_way(sub, "forward", STATE_HELPERS, judged, sizes=SIZES)


DROPOUT_BATCH = 8


@Q7.check(points=1, public=True)
def dropout_in_training_mode_only(sub, ref):
    """in training mode, dropout (p = 0.5) on the hidden state before the output layer; none in eval mode"""
    embed_size, decoder_size, vocab_size = SIZES
    weights = decoder_weights(65)
    bias = randn(66, vocab_size)
    # the output layer copies the hidden state into the first decoder_size scores, plus a bias
    weights["fc"] = [torch.cat([torch.eye(decoder_size), torch.zeros(vocab_size - decoder_size, decoder_size)]), bias]
    image, captions = features(67, DROPOUT_BATCH), captions_batch(68, [5] * DROPOUT_BATCH, 5)

    def first_state(call, train):  # what the output layer receives at step 0
        return call(train=train)[:, 0, :decoder_size].double() - bias[:decoder_size].double()

    def judged(call):
        state = first_state(call, False)
        judge.expect(torch.allclose(first_state(call, False), state), EVAL_MODE_DROPOUT)
        shown = state.abs() > 0.05  # (the ratios of tiny values are imprecise)
        masks = []
        for _ in range(2):
            ratio = first_state(call, True)[shown] / state[shown]
            dropped, kept = ratio.abs() < 0.01, (ratio - 2).abs() < 0.01
            if (ratio - 1).abs().max() < 0.01:
                raise CheckFailed("RNNDecoder.forward: in training mode the scores are those of eval mode: apply "
                                  "self.dropout (p = 0.5) to the hidden state before the output layer")
            if not (dropped | kept).all():
                raise CheckFailed("RNNDecoder.forward: in training mode, the output layer should receive the hidden "
                                  "state with about half of its values set to 0 and the others doubled (dropout "
                                  "p = 0.5 on h, right before the output layer); it receives something else")
            n, zeros = len(ratio), int(dropped.sum())
            judge.expect(abs(zeros - n / 2) <= 6 * (n / 4) ** 0.5,
                         f"RNNDecoder.forward: dropout set {zeros} of {n} values to 0; p = 0.5 drops about half")
            masks.append(dropped.double())
        judge.independent_draws(masks[0], masks[1], "RNNDecoder.forward: the dropout masks of two calls")

    either_way(sub, "forward", STATE_HELPERS, judged, sizes=SIZES, weights=weights, features=image, captions=captions)


# -- Q8 RNNDecoder.predict ----------------------------------------------------------------------------

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

    def judged(call):
        got = call(weights=constant_output_weights(71, END), T=6)
        judge.naming_mistakes(
            got.tolist(), [[END] + [PAD] * 5] * 3,
            [("RNNDecoder.predict: a row goes on after its [END]: keep the [END], then only [PAD]", [[END] * 6] * 3),
             ("RNNDecoder.predict: the output must not start with [START]: return the T generated tokens",
              [[START, END] + [PAD] * 4] * 3)],
            lambda g, e: judge.equal(g, e, "RNNDecoder.predict when [END] is always the best token"))
        got = call(weights=constant_output_weights(72, 7), T=5)
        judge.equal(got.tolist(), [[7] * 5] * 3, "RNNDecoder.predict when token 7 is always the best token")

    either_way(sub, "predict", STATE_HELPERS, judged, sizes=SIZES, features=image)


# -- Q9 forward_pass ----------------------------------------------------------------------------------

def loss_case(seed: int, lengths, max_len: int, vocab_size: int = 11, channels: int = 5, zero: bool = False) -> dict:
    """Inputs of the forward_pass probe: images, captions with padding, and the probe networks' weights."""
    scale = 0.0 if zero else 1.0
    return {"images": randn(seed, len(lengths), 3, 4, 4),
            "captions": captions_batch(seed + 1, lengths, max_len, vocab_size),
            "lengths": torch.tensor(lengths), "encoder_weight": randn(seed + 2, channels, 3),
            "tokens": randn(seed + 3, vocab_size, vocab_size) * scale,
            "positions": randn(seed + 4, max_len, vocab_size) * scale,
            "projection": randn(seed + 5, channels, vocab_size) * scale}


def expected_forward_pass(case: dict):
    """(loss, gradients of the decoder's tables, scores) of the statement's forward_pass with the
    probes' encoder and decoder (probes._ProbeEncoder, probes._ProbeDecoder), in closed form."""
    features = torch.relu(torch.einsum("ck,bkhw->bchw", case["encoder_weight"].double(),
                                       F.avg_pool2d(case["images"].double(), 2)))
    tables = [case[name].detach().double().clone().requires_grad_(True)
              for name in ("tokens", "positions", "projection")]
    captions, lengths = case["captions"], case["lengths"]
    scores = tables[0][captions] + tables[1][:captions.shape[1]] + (features.mean(dim=(2, 3)) @ tables[2]).unsqueeze(1)
    keep = torch.arange(captions.shape[1] - 1).unsqueeze(0) < (lengths - 1).unsqueeze(1)
    loss = F.cross_entropy(scores[:, :-1][keep], captions[:, 1:][keep])
    return loss.item(), torch.autograd.grad(loss, tables), scores.detach()


def expect_gradients(got: dict, expected, what: str) -> None:
    judge.expect(got["gradients"] is not None,
                 f"{what}: the loss is not a scalar attached to the decoder's graph (no gradient can flow back; "
                 "do not use .item(), .detach() or torch.no_grad() on it)")
    for name, g, e in zip(("token table", "position table", "feature projection"), got["gradients"], expected):
        judge.close(g, e, f"{what}: gradient of the loss with respect to the decoder's {name}", rtol=1e-3, atol=1e-6)


@Q9.check(points=1, public=True)
def loss_of_the_next_tokens_without_padding(sub, ref):
    """uniform scores give log(V); step t is scored against token t + 1; padding is left out; gradients"""
    case = loss_case(90, [5, 8, 3], 8, zero=True)
    got = sub.call("forward_pass", **case)
    judge.close(got["loss"], math.log(11), "forward_pass: the loss when every token has the same score (log V)")
    judge.equal(list(got["predictions"].shape), [3, 8, 11],
                "forward_pass: shape of the predictions (the decoder's scores)")

    # full-length captions, and a decoder whose scores at step t pick the token read at step t
    copy = loss_case(91, [8, 8, 8], 8, zero=True)
    copy["tokens"] = 12 * torch.eye(11)
    got, expected = sub.call("forward_pass", **copy)["loss"], expected_forward_pass(copy)[0]
    if got < 1.0 < expected:
        raise CheckFailed("forward_pass: the loss is almost 0 when the scores at step t pick the token read at step t: "
                          "the targets must be the captions shifted by one (scores[:, t] is scored against "
                          "captions[:, t + 1])")
    judge.close(got, expected, "forward_pass: the loss of captions without padding")

    padded = loss_case(92, [5, 8, 3, 6], 8)
    after_end = dict(padded, tokens=padded["tokens"].clone())
    after_end["tokens"][[END, PAD]] = randn(93, 2, 11) * 3  # changes only the scores of steps that read [END] or [PAD]
    got, other = sub.call("forward_pass", **padded), sub.call("forward_pass", **after_end)
    judge.expect(abs(got["loss"] - other["loss"]) <= 1e-5 * max(1.0, abs(got["loss"])),
                 "forward_pass: the loss changes when only the scores of the steps that read [END] or [PAD] change: "
                 "leave the padding out of the loss (a caption of length n has n - 1 targets: use lengths)")
    loss, gradients, scores = expected_forward_pass(padded)
    judge.close(got["loss"], loss, "forward_pass: the loss of padded captions")
    expect_gradients(got, gradients, "forward_pass")
    judge.close(got["predictions"], scores, "forward_pass: the predictions (the decoder's scores)")
