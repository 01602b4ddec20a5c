"""Image captioning with a frozen CNN encoder and an LSTM decoder (TP3, third notebook).

Complete every function marked `# WRITE CODE HERE`. Keep the names and signatures: the
autograder imports this file and calls them directly. You may add helper functions and imports.

Shapes used in the docstrings: B is a batch size, L the length of a caption in tokens (with
[START], [END] and padding), V the size of the vocabulary, E the embedding size, D the size of the
LSTM's state (`decoder_size`) and F = 2048 the number of channels of ResNet-50's last block.

The pipeline: a caption becomes a tensor of L token ids (`tokenize`, `build_vocabulary`,
`text_pipeline`); an image becomes a (2048, 14, 14) feature map (`CNNEncoder`); the decoder
(`RNNDecoder`) starts from a state computed from the features and, one step per token, reads the
previous token and the image's pooled feature vector and scores the next token. Below the graded
part, given code caches the encoder's features, trains the decoder, decodes with beam search and
computes BLEU and CIDEr.
"""
import random
import re
import urllib.error
import warnings
from collections import Counter
from typing import Iterable, List, Sequence, Tuple

import numpy as np
import torch
import torchvision
from torch import nn
from tqdm.auto import tqdm

try:  # given: training runs that survive a disconnect, opt-in torch.compile (solutions/runs.py)
    from runs import compiled, epochs_to_train
except ImportError:  # this file on its own (as the grader imports it): no checkpoint, nothing compiled
    def compiled(module):
        return module

    def epochs_to_train(run, n_epochs, history, **objects):
        return range(n_epochs), None


# Seed all random number generators
np.random.seed(197331)
torch.manual_seed(197331)
random.seed(197331)

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# The special tokens come first in the vocabulary, so their ids are the same for every corpus.
SPECIALS = ("[START]", "[END]", "[PAD]", "[UNK]")
START, END, PAD, UNK = range(4)
MAX_SEQ_LEN = 20        # tokens per caption, [START] and [END] included
FEATURE_SIZE = 2048     # channels of ResNet-50's last block


# ---------------------------------------------------------------------------------------------
# Text: tokens, vocabulary, captions as tensors
# ---------------------------------------------------------------------------------------------

def tokenize(text: str) -> List[str]:
    """Split a caption into lower-case tokens: words, and punctuation marks on their own.

    A word is a run of letters, digits or underscores (the regular expression `\\w+`); every
    other character that is not a space is a token by itself; spaces only separate tokens.

        tokenize("A man, riding a horse.") == ["a", "man", ",", "riding", "a", "horse", "."]
        tokenize("It's 3-D!") == ["it", "'", "s", "3", "-", "d", "!"]
    """
    ### BEGIN SOLUTION
    return re.findall(r"\w+|[^\w\s]", text.lower())
    ### END SOLUTION


class Vocabulary:
    """Tokens <-> ids (given). `itos[i]` is the token of id i; an unknown token maps to [UNK].

        vocab = Vocabulary(["[START]", "[END]", "[PAD]", "[UNK]", "a", "dog"])
        vocab["dog"] == 5;  vocab["zebra"] == UNK;  vocab(["a", "zebra"]) == [4, 3]
    """

    def __init__(self, itos: Sequence[str]):
        self.itos = list(itos)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, UNK)

    def __call__(self, tokens: Iterable[str]) -> List[int]:
        return [self[token] for token in tokens]

    def lookup_tokens(self, ids: Iterable[int]) -> List[str]:
        return [self.itos[int(i)] for i in ids]


def build_vocabulary(captions: Iterable[str], min_freq: int = 1) -> Vocabulary:
    """The vocabulary of a corpus of captions (use `tokenize`).

    :param captions: the training captions, as strings.
    :param min_freq: keep only the tokens that occur at least `min_freq` times in the corpus.
    :return: a `Vocabulary` whose tokens are the four SPECIALS first, in their order ([START] = 0,
        [END] = 1, [PAD] = 2, [UNK] = 3), then the kept tokens, most frequent first, tokens of
        equal frequency in alphabetical order (Python's string order).
    """
    ### BEGIN SOLUTION
    counts = Counter(token for caption in captions for token in tokenize(caption))
    kept = sorted((token for token, count in counts.items() if count >= min_freq and token not in SPECIALS),
                  key=lambda token: (-counts[token], token))
    return Vocabulary(list(SPECIALS) + kept)
    ### END SOLUTION


def text_pipeline(caption: str, vocab: Vocabulary, max_seq_len: int = MAX_SEQ_LEN) -> torch.Tensor:
    """A caption as a fixed-length tensor of token ids (use `tokenize` and `vocab`).

    [START], the ids of the caption's tokens (unknown tokens -> [UNK]), then [END], padded with
    [PAD] up to `max_seq_len`. A caption too long for `max_seq_len` keeps its first
    `max_seq_len - 2` tokens, so that [START] and [END] are always there.

        text_pipeline("A dog.", vocab, 6) == tensor([START, vocab["a"], vocab["dog"], vocab["."], END, PAD])

    :return: int64 tensor of shape (max_seq_len,).
    """
    ### BEGIN SOLUTION
    ids = vocab(tokenize(caption))[:max_seq_len - 2]
    sequence = [START] + ids + [END]
    return torch.tensor(sequence + [PAD] * (max_seq_len - len(sequence)), dtype=torch.long)
    ### END SOLUTION


def ids_to_caption(ids: Iterable[int], vocab: Vocabulary) -> str:
    """Token ids back to text (given): the tokens before the first [END], without specials."""
    words = []
    for token in vocab.lookup_tokens(ids):
        if token == SPECIALS[END]:
            break
        if token not in SPECIALS[:3]:
            words.append(token)
    return re.sub(r" ([^\w\s])(?= |$)", r"\1", " ".join(words))  # "a dog ." -> "a dog."


# ---------------------------------------------------------------------------------------------
# Encoder: a frozen ResNet-50
# ---------------------------------------------------------------------------------------------

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_resnet50(pretrained: bool = True) -> nn.Module:
    """torchvision's ResNet-50 (given): with its ImageNet weights (downloaded once into torch's
    cache) when `pretrained` and they can be had, otherwise random weights, with a warning."""
    if pretrained:
        try:
            return torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)
        except (OSError, RuntimeError, urllib.error.URLError) as error:
            reason = str(error).strip().splitlines()[-1][:120] if str(error).strip() else type(error).__name__
            warnings.warn(f"ResNet-50's ImageNet weights could not be loaded ({reason}): the encoder has RANDOM "
                          "weights, so the captions cannot describe the images. Connect to the internet (or copy "
                          f"resnet50-0676ba61.pth into {torch.hub.get_dir()}/checkpoints) and build the encoder "
                          "again.", RuntimeWarning, stacklevel=2)
    # Residual branches start at zero (each block the identity), so random features keep a sane scale
    # instead of growing block after block.
    return torchvision.models.resnet50(weights=None, zero_init_residual=True)


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (B, 3, H, W) -> float images standardized with ImageNet's statistics (given)."""
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


class CNNEncoder(nn.Module):
    """A frozen ResNet-50 as a feature extractor: images (B, 3, H, W) -> features (B, 2048, 14, 14).

    Use `load_resnet50(pretrained)` to get the network. Keep all its children but the last two
    (the global average pooling and the classifier), freeze every parameter (requires_grad False:
    the encoder is not trained), then resize the feature map with `nn.AdaptiveAvgPool2d((14, 14))`.
    For 256x256 images ResNet-50's last block gives an 8x8 map; any image size gives 14x14.
    """

    def __init__(self, pretrained: bool = True):
        super().__init__()
        ### BEGIN SOLUTION
        resnet = load_resnet50(pretrained)
        self.resnet = nn.Sequential(*list(resnet.children())[:-2])
        for parameter in self.resnet.parameters():
            parameter.requires_grad_(False)
        self.pool = nn.AdaptiveAvgPool2d((14, 14))
        ### END SOLUTION
        self.train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W), standardized (`normalize_images`) -> features (B, 2048, 14, 14)."""
        ### BEGIN SOLUTION
        return self.pool(self.resnet(images))
        ### END SOLUTION

    def train(self, mode: bool = True):
        """Frozen, the encoder always stays in evaluation mode (given): its BatchNorm layers keep
        ImageNet's statistics instead of the current batch's."""
        return super().train(False)


# ---------------------------------------------------------------------------------------------
# Decoder: an LSTM that writes the caption one token at a time
# ---------------------------------------------------------------------------------------------

class RNNDecoder(nn.Module):
    """An LSTM decoder conditioned on the image's pooled features.

    Layers (the grader looks for `init_h` and `init_c` by name):
    - an `nn.Embedding(vocab_size, embed_size)` with `padding_idx=PAD` (the [PAD] embedding stays 0);
    - a pooling of the features (B, 2048, H, W) to one vector per image (B, 2048): their spatial
      mean (e.g. `nn.AdaptiveAvgPool2d(1)` then flatten);
    - `init_h` and `init_c`: `nn.Linear(2048, decoder_size)` each, the initial hidden and cell
      states computed from the pooled features;
    - one `nn.LSTMCell(2048 + embed_size, decoder_size)`, run one step per token;
    - `nn.Dropout(0.5)` on the hidden state, then `nn.Linear(decoder_size, vocab_size)`: the
      scores (logits) of the next token.
    At each step the LSTM's input is the concatenation [embedding of the current token ; pooled
    features], in that order: the image is fed at every step, not only at the start.
    """

    def __init__(self, embed_size: int, decoder_size: int, vocab_size: int, device):
        super().__init__()
        self.embed_size, self.decoder_size, self.vocab_size = embed_size, decoder_size, vocab_size
        self.device = torch.device(device)
        ### BEGIN SOLUTION
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.init_h = nn.Linear(FEATURE_SIZE, decoder_size)
        self.init_c = nn.Linear(FEATURE_SIZE, decoder_size)
        self.lstm = nn.LSTMCell(FEATURE_SIZE + embed_size, decoder_size)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(decoder_size, vocab_size)
        ### END SOLUTION

    def init_hidden_state(self, features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """features (B, 2048, H, W) -> (h, c), each (B, D): `init_h` and `init_c` applied to the
        pooled features (no activation)."""
        ### BEGIN SOLUTION
        pooled = self.pool(features).flatten(1)
        return self.init_h(pooled), self.init_c(pooled)
        ### END SOLUTION

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: the scores of every next token, given the true previous tokens.

        :param features: (B, 2048, H, W) image features.
        :param captions: (B, L) int64 token ids, each row starting with [START].
        :return: scores (B, L, V): `scores[:, t]` scores the token that follows `captions[:, t]`,
            computed from the state after reading captions[:, 0], ..., captions[:, t] (use
            `init_hidden_state` for the initial state).
        """
        ### BEGIN SOLUTION
        embeddings = self.embedding(captions)                   # (B, L, E)
        pooled = self.pool(features).flatten(1)                  # (B, 2048)
        h, c = self.init_hidden_state(features)
        scores = []
        for t in range(captions.shape[1]):
            h, c = self.lstm(torch.cat([embeddings[:, t], pooled], dim=1), (h, c))
            scores.append(self.fc(self.dropout(h)))
        return torch.stack(scores, dim=1)
        ### END SOLUTION

    def predict(self, features: torch.Tensor, T: int) -> torch.Tensor:
        """Greedy decoding: feed [START], then at each step the most likely token.

        :param features: (B, 2048, H, W) image features.
        :param T: the number of tokens to generate at most.
        :return: int64 tensor (B, T): the generated tokens ([START] not included). A row stops at
            its first [END], which it keeps; every position after it is [PAD]. Use
            `init_hidden_state` for the initial state. (Call it in eval mode, without gradients.)
        """
        ### BEGIN SOLUTION
        batch = features.shape[0]
        pooled = self.pool(features).flatten(1)
        h, c = self.init_hidden_state(features)
        tokens = torch.full((batch,), START, dtype=torch.long, device=features.device)
        generated = torch.full((batch, T), PAD, dtype=torch.long, device=features.device)
        finished = torch.zeros(batch, dtype=torch.bool, device=features.device)
        for t in range(T):
            h, c = self.lstm(torch.cat([self.embedding(tokens), pooled], dim=1), (h, c))
            tokens = self.fc(self.dropout(h)).argmax(dim=1)
            generated[:, t] = tokens.masked_fill(finished, PAD)
            finished |= tokens == END
            if finished.all():
                break
        return generated
        ### END SOLUTION


def forward_pass(encoder: nn.Module, decoder: nn.Module, loss_fn: nn.Module, images: torch.Tensor,
                 captions: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """One teacher-forced pass and its loss.

    :param encoder: maps `images` to features (a `CNNEncoder`, or `nn.Identity()` when `images`
        already are cached features); frozen, so run it without building a graph.
    :param decoder: maps (features, captions) to scores (B, L, V), like `RNNDecoder.forward`.
    :param loss_fn: a criterion like `nn.CrossEntropyLoss()`: it averages over every pair
        (scores, target) it is given and knows nothing about padding.
    :param images: the encoder's input, e.g. (B, 3, H, W).
    :param captions: (B, L) token ids from `text_pipeline`.
    :param lengths: (B,) the number of tokens of each caption that are not [PAD] ([START] and
        [END] included).
    :return: (loss, predictions): the loss of predicting each token of a caption from the tokens
        before it (the scores at step t against the token at t + 1), averaged over the target
        tokens that are not padding, a scalar tensor attached to the decoder's graph; and the
        decoder's scores (B, L, V).
    """
    ### BEGIN SOLUTION
    with torch.no_grad():
        features = encoder(images)
    scores = decoder(features, captions)
    targets = captions[:, 1:]                                   # the token each step should predict
    steps = torch.arange(targets.shape[1], device=captions.device)
    keep = steps.unsqueeze(0) < (lengths.to(captions.device) - 1).unsqueeze(1)   # not padding
    loss = loss_fn(scores[:, :-1][keep], targets[keep])
    return loss, scores
    ### END SOLUTION


# ---------------------------------------------------------------------------------------------
# Given: feature cache, training, decoding, metrics
# ---------------------------------------------------------------------------------------------

def _images_and_captions(batch):
    images, captions = zip(*batch)
    return torch.stack(images), list(captions)


@torch.no_grad()
def encode_images(encoder: nn.Module, dataset, batch_size: int = 64, num_workers: int = 2,
                  device: torch.device = DEVICE) -> Tuple[torch.Tensor, List[List[str]]]:
    """Run the frozen encoder once over a dataset of (uint8 image (3, H, W), captions) pairs.

    The decoder only uses the spatial mean of the (2048, 14, 14) features, so the cache keeps that
    mean, as (N, 2048, 1, 1): exactly what the decoder would compute, 196 times smaller (10,000
    images take 80 MB), and the encoder runs once instead of at every step of every epoch. On a
    GPU it runs in half precision, channels last.

    :return: (features (N, 2048, 1, 1) float32 on `device`, the N lists of captions).
    """
    cuda = device.type == "cuda"
    encoder = encoder.to(device).eval()
    if cuda:
        encoder = encoder.to(memory_format=torch.channels_last)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers,
                                         collate_fn=_images_and_captions, pin_memory=cuda)
    features, captions = [], []
    for images, texts in tqdm(loader, desc="encoding images", leave=False):
        images = normalize_images(images.to(device, non_blocking=True))
        if cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
            features.append(encoder(images).float().mean(dim=(2, 3), keepdim=True))
        captions += texts
    return torch.cat(features), captions


def caption_tensors(captions_per_image: Sequence[Sequence[str]], vocab: Vocabulary,
                    max_seq_len: int = MAX_SEQ_LEN) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every (image, caption) pair as tensors: captions (P, max_seq_len) from `text_pipeline`,
    and image_index (P,): the row of the image in the feature cache."""
    rows, index = [], []
    for i, captions in enumerate(captions_per_image):
        for caption in captions:
            rows.append(text_pipeline(caption, vocab, max_seq_len))
            index.append(i)
    return torch.stack(rows), torch.tensor(index)


def _batches(n: int, batch_size: int, device, generator=None):
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size].to(device)


def caption_loss(decoder: nn.Module, features: torch.Tensor, captions: torch.Tensor, image_index: torch.Tensor,
                 batch_size: int = 512) -> float:
    """Mean loss per target token of `decoder` on cached features, in eval mode."""
    decoder.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    captions, image_index = captions.to(features.device), image_index.to(features.device)
    total, tokens = 0.0, 0
    with torch.no_grad():
        for batch in _batches(len(captions), batch_size, features.device):
            lengths = (captions[batch] != PAD).sum(dim=1)
            loss, _ = forward_pass(nn.Identity(), decoder, loss_fn, features[image_index[batch]], captions[batch],
                                   lengths)
            total += float(loss)
            tokens += int((lengths - 1).sum())
    return total / max(tokens, 1)


def train_decoder(decoder: nn.Module, features: torch.Tensor, captions: torch.Tensor, image_index: torch.Tensor,
                  epochs: int, batch_size: int = 128, lr: float = 4e-4, valid=None, seed: int = 0,
                  desc: str = "training", run=None) -> dict:
    """Train `decoder` with Adam on cached features (teacher forcing, `forward_pass`).

    :param features: (N, 2048, 1, 1) from `encode_images`, on the training device.
    :param captions, image_index: from `caption_tensors` (any device).
    :param valid: optional (features, captions, image_index) for a validation loss per epoch.
    :param run: optional, a name (see solutions/runs.py): every epoch is checkpointed, and calling
        train_decoder again resumes the run, or loads it when it is finished.
    :return: logs: "step_loss" (every step), "train_loss" and "valid_loss" (per epoch, eval mode).
    """
    device = features.device
    cuda = device.type == "cuda"
    decoder.to(device)
    captions, image_index = captions.to(device), image_index.to(device)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    logs = {"step_loss": [], "train_loss": [], "valid_loss": []}
    to_train, run = epochs_to_train(run, epochs, logs, decoder=decoder, optimizer=optimizer, scaler=scaler,
                                order=generator)
    for _ in tqdm(to_train, total=epochs, desc=desc, leave=False):
        decoder.train()
        step_losses = []
        for batch in _batches(len(captions), batch_size, device, generator):
            lengths = (captions[batch] != PAD).sum(dim=1)
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                loss, _ = forward_pass(nn.Identity(), decoder, loss_fn, features[image_index[batch]],
                                       captions[batch], lengths)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(decoder.parameters(), 5.0)  # LSTMs occasionally spike
            scaler.step(optimizer)
            scaler.update()
            step_losses.append(loss.detach())
            if run is not None:
                run.step()
        logs["step_loss"] += torch.stack(step_losses).float().tolist()  # one sync per epoch
        logs["train_loss"].append(float(np.mean(logs["step_loss"][-len(step_losses):])))
        if valid is not None:
            logs["valid_loss"].append(caption_loss(decoder, *valid))
    decoder.eval()
    return logs


@torch.no_grad()
def beam_search(decoder: nn.Module, features: torch.Tensor, beam_size: int = 3, max_len: int = MAX_SEQ_LEN,
                length_penalty: float = 0.7) -> torch.Tensor:
    """Beam search decoding (given): keep the `beam_size` most likely partial captions at every step.

    It only calls `decoder(features, prefixes)` (the scores of the last step of each prefix), so it
    works with any decoder that has a correct `forward`. A hypothesis ends at [END]; the finished
    ones are ranked by log-probability / length ** length_penalty (0: plain log-probability,
    which favours short captions). With beam_size=1 it is greedy decoding, like `predict`.

    :return: int64 (B, max_len), in `predict`'s format ([END] kept, then [PAD]).
    """
    was_training = decoder.training
    decoder.eval()
    batch, k = features.shape[0], beam_size
    expanded = features.repeat_interleave(k, dim=0)                         # (B k, ...)
    sequences = torch.full((batch * k, 1), START, dtype=torch.long, device=features.device)
    scores = torch.full((batch, k), float("-inf"), device=features.device)
    scores[:, 0] = 0                                                        # one live beam at first
    finished = torch.zeros(batch * k, dtype=torch.bool, device=features.device)
    for _ in range(max_len):
        log_probs = torch.log_softmax(decoder(expanded, sequences)[:, -1].float(), dim=-1)   # (B k, V)
        vocab_size = log_probs.shape[1]
        log_probs[finished] = float("-inf")
        log_probs[finished, PAD] = 0                                        # a finished beam only pads
        candidates = (scores.view(-1, 1) + log_probs).view(batch, k * vocab_size)
        scores, chosen = candidates.topk(k, dim=1)                          # (B, k)
        parents = (torch.arange(batch, device=features.device).unsqueeze(1) * k + chosen // vocab_size).flatten()
        tokens = (chosen % vocab_size).flatten()
        sequences = torch.cat([sequences[parents], tokens.unsqueeze(1)], dim=1)
        finished = finished[parents] | (tokens == END)
        if finished.all():
            break
    generated = sequences[:, 1:]
    lengths = (generated != PAD).sum(dim=1).clamp(min=1).float()
    ranking = (scores.flatten() / lengths ** length_penalty).view(batch, k)
    best = generated.view(batch, k, -1)[torch.arange(batch), ranking.argmax(dim=1)]
    decoder.train(was_training)
    return nn.functional.pad(best, (0, max_len - best.shape[1]), value=PAD)


@torch.no_grad()
def generate(decoder: nn.Module, features: torch.Tensor, beam_size: int = 1, max_len: int = MAX_SEQ_LEN,
             batch_size: int = 256) -> torch.Tensor:
    """Captions (N, max_len) of cached features, on the CPU: greedy (`decoder.predict`) or beam search."""
    was_training = decoder.training
    decoder.eval()
    outputs = []
    for start in range(0, len(features), batch_size):
        chunk = features[start:start + batch_size]
        rows = decoder.predict(chunk, max_len) if beam_size == 1 else beam_search(decoder, chunk, beam_size, max_len)
        outputs.append(rows.cpu())
    decoder.train(was_training)
    return torch.cat(outputs)


def _metric_tokens(text: str) -> str:
    # Like the COCO evaluation's PTB tokenizer: lower case, punctuation dropped (and no Java needed).
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def caption_metrics(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> dict:
    """Corpus BLEU-1..4 and CIDEr (the COCO caption evaluation package, pycocoevalcap).

    :param references: for each image, its reference captions.
    :param hypotheses: for each image, one generated caption.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    gts = {i: [_metric_tokens(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [_metric_tokens(h) or "[empty]"] for i, h in enumerate(hypotheses)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    cider, _ = Cider().compute_score(gts, res)
    return {**{f"BLEU-{n}": float(score) for n, score in enumerate(bleu, 1)}, "CIDEr": float(cider)}
