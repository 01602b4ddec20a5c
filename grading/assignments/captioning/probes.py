"""Probes of the `captioning` assignment: call one student function on given inputs, return plain values.

Each probe isolates the function it exercises:
- text: `text_pipeline` gets a vocabulary built here (the given `Vocabulary` class), not by the
  student's `build_vocabulary`; `tokenize`, which both are meant to call, can be swapped for a
  stand-in that is deliberately not an answer (whitespace split, case kept);
- encoder: `torchvision.models.resnet50` is replaced by a small ResNet with the same children
  and 2048 output channels, built here from a fixed seed (no download, a cheap forward);
- decoder: the student's `__init__` builds the decoder, then every layer is replaced by a
  correctly sized one holding the grader's weights (found by role: the Embedding, the LSTMCell,
  `init_h`, `init_c` and the output Linear) and every dropout layer by a Dropout(0.5), so a wrong
  `__init__` costs only its own question; it runs in eval mode, or in training mode where a check
  looks at the dropout; `init_hidden_state`, which `forward` and `predict` are meant to call, can
  be swapped for a stand-in;
- `forward_pass` gets an encoder and a decoder defined here.
"""
import torch
import torchvision
from torch import nn

from grading.probing import Rejected, as_float, as_module, as_tensor, describe_layer, gradients_of, replaced, type_name

SPECIALS = ("[START]", "[END]", "[PAD]", "[UNK]")
START, END, PAD, UNK = range(4)
FEATURE_SIZE = 2048


# -- text ------------------------------------------------------------------------------------------

def _standin_tokenize(text):
    """Not the tokenizer: splits on whitespace only and keeps the case."""
    return text.split()


def _with_tokenize_standin(sub, standins):
    unknown = set(standins) - {"tokenize"}
    if unknown:
        raise ValueError(f"no stand-in for {sorted(unknown)}")
    return replaced(sub, tokenize=_standin_tokenize) if standins else replaced(sub)


class _Vocabulary:
    """Used when the submission has no usable `Vocabulary` class: the given class's interface."""

    def __init__(self, itos):
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def __getitem__(self, token):
        return self.stoi.get(token, UNK)

    def __call__(self, tokens):
        return [self[token] for token in tokens]

    def lookup_tokens(self, ids):
        return [self.itos[int(i)] for i in ids]


def _vocabulary(sub, itos):
    try:
        vocab = sub.Vocabulary(list(itos))
        if vocab(["__surely_unknown__", itos[-1]]) == [UNK, len(itos) - 1]:
            return vocab
    except Exception:
        pass
    return _Vocabulary(itos)


def tokenize(sub, text):
    tokens = sub.tokenize(text)
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(token, str) for token in tokens):
        raise Rejected(f"tokenize returned {type_name(tokens)}; expected a list of str")
    return list(tokens)


def build_vocabulary(sub, captions, min_freq, standins):
    with _with_tokenize_standin(sub, standins):
        vocab = sub.build_vocabulary(list(captions), min_freq=min_freq)
    itos = getattr(vocab, "itos", None)
    if not isinstance(itos, (list, tuple)) or not all(isinstance(token, str) for token in itos):
        raise Rejected(f"build_vocabulary returned {type_name(vocab)}; expected a Vocabulary (with its list itos)")
    return list(itos)


def text_pipeline(sub, caption, itos, max_seq_len, standins):
    with _with_tokenize_standin(sub, standins):
        ids = sub.text_pipeline(caption, _vocabulary(sub, itos), max_seq_len)
    ids = as_tensor(ids, "text_pipeline")
    if ids.dtype.is_floating_point:
        raise Rejected(f"text_pipeline returned a {ids.dtype} tensor; expected integer token ids (torch.long)")
    return ids.long()


# -- encoder ---------------------------------------------------------------------------------------

def _small_resnet(*args, **kwargs):
    """A ResNet with ResNet-50's children and 2048 output channels, but one block per stage and
    thin bottlenecks; the same weights every time (whatever the caller asked for)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(780)
        network = torchvision.models.resnet.ResNet(torchvision.models.resnet.Bottleneck, [1, 1, 1, 1],
                                                    width_per_group=16)
        with torch.no_grad():  # BatchNorm statistics that are not the identity, so eval mode matters
            for module in network.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.running_mean.uniform_(-0.2, 0.2)
                    module.running_var.uniform_(0.5, 2.0)
    return network


def encoder(sub, images):
    """Build CNNEncoder() with the small ResNet in place of ResNet-50; its output and whether
    every parameter is frozen."""
    patches = [(torchvision.models, "resnet50"), (torchvision.models.resnet, "resnet50")]
    if getattr(sub, "resnet50", None) is torchvision.models.resnet.resnet50:
        patches.append((sub, "resnet50"))
    saved = [(owner, name, getattr(owner, name)) for owner, name in patches]
    try:
        for owner, name in patches:
            setattr(owner, name, _small_resnet)
        built = as_module(sub.CNNEncoder(), "CNNEncoder()")
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
    parameters = list(built.parameters())
    built.eval()
    with torch.no_grad():
        output = as_tensor(built(images), "CNNEncoder's forward")
    return {"output": output, "n_parameters": len(parameters),
            "trainable": sum(int(p.requires_grad) for p in parameters)}


# -- decoder ---------------------------------------------------------------------------------------

def _decoder_skeleton(sub, embed_size, decoder_size, vocab_size):
    """The decoder as the student's __init__ builds it; if that fails, an empty one with the
    statement's attribute names (so that forward & co can still be graded)."""
    try:
        return as_module(sub.RNNDecoder(embed_size, decoder_size, vocab_size, torch.device("cpu")), "RNNDecoder(...)")
    except NotImplementedError:
        pass
    except Exception:
        pass
    decoder = object.__new__(sub.RNNDecoder)
    nn.Module.__init__(decoder)
    decoder.embed_size, decoder.decoder_size, decoder.vocab_size = embed_size, decoder_size, vocab_size
    decoder.device = torch.device("cpu")
    decoder.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
    decoder.pool = nn.AdaptiveAvgPool2d(1)
    decoder.init_h, decoder.init_c = nn.Linear(FEATURE_SIZE, decoder_size), nn.Linear(FEATURE_SIZE, decoder_size)
    decoder.lstm = nn.LSTMCell(FEATURE_SIZE + embed_size, decoder_size)
    decoder.dropout = nn.Dropout(0.5)
    decoder.fc = nn.Linear(decoder_size, vocab_size)
    return decoder


def _slots(decoder, vocab_size):
    """role -> (parent module, attribute name) for the layers that hold weights."""
    found = {"embedding": [], "lstm": [], "init_h": [], "init_c": [], "linear": []}
    for path, module in decoder.named_modules():
        if not path:
            continue
        parent_path, _, attribute = path.rpartition(".")
        slot = (decoder.get_submodule(parent_path) if parent_path else decoder, attribute, module)
        if isinstance(module, nn.Embedding):
            found["embedding"].append(slot)
        elif isinstance(module, (nn.LSTMCell, nn.LSTM)):
            found["lstm"].append(slot)
        elif isinstance(module, nn.Linear):
            found[attribute if attribute in ("init_h", "init_c") else "linear"].append(slot)
    for role, what in (("embedding", "one nn.Embedding"), ("lstm", "one nn.LSTMCell"),
                       ("init_h", "one nn.Linear named init_h"), ("init_c", "one nn.Linear named init_c")):
        if len(found[role]) != 1:
            raise Rejected(f"RNNDecoder should have {what} (found {len(found[role])})")
    if isinstance(found["lstm"][0][2], nn.LSTM):
        raise Rejected("RNNDecoder should use an nn.LSTMCell (one step at a time), not an nn.LSTM")
    outputs = found["linear"] if len(found["linear"]) == 1 else \
        [slot for slot in found["linear"] if slot[2].out_features == vocab_size]
    if len(outputs) != 1:
        raise Rejected("RNNDecoder should have one output nn.Linear(decoder_size, vocab_size) besides init_h "
                       "and init_c")
    return {"embedding": found["embedding"][0], "lstm": found["lstm"][0], "init_h": found["init_h"][0],
            "init_c": found["init_c"][0], "fc": outputs[0]}


def _load(module, tensors):
    with torch.no_grad():
        for parameter, tensor in zip(module.parameters(), tensors):
            parameter.copy_(tensor)
    return module


def _decoder(sub, sizes, weights, train=False):
    """The student's decoder with the grader's weights in correctly sized layers, and every
    dropout layer a Dropout(0.5) (its rate is the layers question's), in eval mode unless `train`."""
    embed_size, decoder_size, vocab_size = sizes
    decoder = _decoder_skeleton(sub, embed_size, decoder_size, vocab_size)
    layers = {"embedding": _load(nn.Embedding(vocab_size, embed_size, padding_idx=PAD), [weights["embedding"]]),
              "init_h": _load(nn.Linear(FEATURE_SIZE, decoder_size), weights["init_h"]),
              "init_c": _load(nn.Linear(FEATURE_SIZE, decoder_size), weights["init_c"]),
              "lstm": _load(nn.LSTMCell(FEATURE_SIZE + embed_size, decoder_size), weights["lstm"]),
              "fc": _load(nn.Linear(decoder_size, vocab_size), weights["fc"])}
    for role, (parent, attribute, _) in _slots(decoder, vocab_size).items():
        setattr(parent, attribute, layers[role])
    for path, module in list(decoder.named_modules()):
        if path and isinstance(module, nn.Dropout):
            parent_path, _, attribute = path.rpartition(".")
            setattr(decoder.get_submodule(parent_path) if parent_path else decoder, attribute, nn.Dropout(0.5))
    return decoder.train(train)


def _standin_init_hidden_state(self, features):
    """Not an answer: a fixed function of the raw features that ignores init_h and init_c."""
    size = next(m for m in self.modules() if isinstance(m, nn.LSTMCell)).hidden_size
    flat = features.flatten(1)
    index = torch.arange(size, device=features.device)
    return torch.sin(2 * flat[:, (3 * index) % flat.shape[1]]), torch.cos(flat[:, (5 * index + 1) % flat.shape[1]])


def _with_state_standin(sub, standins):
    unknown = set(standins) - {"init_hidden_state"}
    if unknown:
        raise ValueError(f"no stand-in for {sorted(unknown)}")
    if not standins:
        return replaced(sub.RNNDecoder)
    return replaced(sub.RNNDecoder, init_hidden_state=_standin_init_hidden_state)


def decoder_layers(sub, embed_size, decoder_size, vocab_size):
    """The layers the student's __init__ creates (no forward needed)."""
    decoder = as_module(sub.RNNDecoder(embed_size, decoder_size, vocab_size, torch.device("cpu")), "RNNDecoder(...)")
    layers = []
    for path, module in decoder.named_modules():
        if path and not list(module.children()):
            facts = describe_layer(module)
            facts["name"] = path
            if isinstance(module, nn.Embedding):
                facts["padding_idx"] = module.padding_idx
            layers.append(facts)
    return layers


def init_hidden_state(sub, sizes, weights, features):
    decoder = _decoder(sub, sizes, weights)
    with torch.no_grad():
        state = decoder.init_hidden_state(features)
    if not (isinstance(state, (tuple, list)) and len(state) == 2):
        raise Rejected(f"init_hidden_state returned {type_name(state)}; expected (h, c)")
    return [as_tensor(state[0], "init_hidden_state (h)"), as_tensor(state[1], "init_hidden_state (c)")]


def forward(sub, sizes, weights, features, captions, standins, train=False):
    """The scores of `forward`, in eval mode (or in training mode: dropout on)."""
    decoder = _decoder(sub, sizes, weights, train)
    with torch.no_grad(), _with_state_standin(sub, standins):
        scores = decoder(features, captions)
    return as_tensor(scores, "RNNDecoder.forward")


def predict(sub, sizes, weights, features, T, standins):
    decoder = _decoder(sub, sizes, weights)
    with torch.no_grad(), _with_state_standin(sub, standins):
        tokens = decoder.predict(features, T)
    tokens = as_tensor(tokens, "RNNDecoder.predict")
    if tokens.dtype.is_floating_point:
        raise Rejected(f"predict returned a {tokens.dtype} tensor; expected integer token ids (torch.long)")
    return tokens.long()


# -- forward_pass ----------------------------------------------------------------------------------

class _ProbeEncoder(nn.Module):
    """Frozen: images (B, 3, H, W) -> features (B, C, H/2, W/2)."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)  # (C, 3)

    def forward(self, images):
        return torch.relu(torch.einsum("ck,bkhw->bchw", self.weight, nn.functional.avg_pool2d(images, 2)))


class _ProbeDecoder(nn.Module):
    """(features, captions (B, L)) -> scores (B, L, V): a token table, a position table and the
    pooled features, so every step's scores differ."""

    def __init__(self, tokens, positions, projection):
        super().__init__()
        self.tokens = nn.Parameter(tokens.clone())           # (V, V)
        self.positions = nn.Parameter(positions.clone())     # (L, V)
        self.projection = nn.Parameter(projection.clone())   # (C, V)

    def forward(self, features, captions):
        pooled = features.mean(dim=(2, 3)) @ self.projection
        return self.tokens[captions] + self.positions[:captions.shape[1]] + pooled.unsqueeze(1)


def forward_pass(sub, images, captions, lengths, encoder_weight, tokens, positions, projection):
    encoder, decoder = _ProbeEncoder(encoder_weight), _ProbeDecoder(tokens, positions, projection)
    result = sub.forward_pass(encoder, decoder, nn.CrossEntropyLoss(), images, captions, lengths)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise Rejected(f"forward_pass returned {type_name(result)}; expected (loss, predictions)")
    loss, predictions = result
    if not isinstance(loss, torch.Tensor):
        raise Rejected(f"forward_pass: the loss is {type_name(loss)}; expected a torch.Tensor")
    attached = loss.requires_grad and loss.numel() == 1
    return {"loss": as_float(loss.detach(), "forward_pass (loss)"), "attached": attached,
            "gradients": gradients_of(loss, decoder.parameters()) if attached else None,
            "predictions": as_tensor(predictions, "forward_pass (predictions)")}
