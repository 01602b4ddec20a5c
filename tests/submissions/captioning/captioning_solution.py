# A file as a student hands it in: the kit's module with the answers written in another (correct)
# style -- a substitution tokenizer, other attribute names, a Python-list decoder, packed
# sequences for the loss -- plus a module-level device, plotting code, a dataset class that is
# defined but never used, and experiments under __main__. (The given helpers below the graded
# part were deleted by the student.) The grader must give it full marks.
import random
import re
import urllib.error
import warnings
from typing import Iterable, List, Sequence, Tuple

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torchvision
from torch.nn.utils.rnn import pack_padded_sequence

np.random.seed(197331)
torch.manual_seed(197331)
random.seed(197331)

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
print("Using", device)

SPECIALS = ("[START]", "[END]", "[PAD]", "[UNK]")
START, END, PAD, UNK = range(4)
MAX_SEQ_LEN = 20
FEATURE_SIZE = 2048


def tokenize(text: str) -> List[str]:
    spaced = re.sub(r"([^\w\s])", r" \1 ", text.lower())
    return spaced.split()


class Vocabulary:
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


def build_vocabulary(captions, min_freq=1):
    frequencies = {}
    for caption in captions:
        for word in tokenize(caption):
            frequencies[word] = frequencies.get(word, 0) + 1
    words = [(w, n) for w, n in frequencies.items() if n >= min_freq]
    words.sort(key=lambda item: (-item[1], item[0]))
    return Vocabulary(list(SPECIALS) + [w for w, _ in words])


def text_pipeline(caption, vocab, max_seq_len=MAX_SEQ_LEN):
    ids = torch.full((max_seq_len,), PAD, dtype=torch.long)
    tokens = [vocab[w] for w in tokenize(caption)][: max_seq_len - 2]
    ids[0] = START
    ids[1:len(tokens) + 1] = torch.tensor(tokens, dtype=torch.long)
    ids[len(tokens) + 1] = END
    return ids


def load_resnet50(pretrained: bool = True) -> nn.Module:
    if pretrained:
        try:
            return torchvision.models.resnet50(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V1)
        except (OSError, RuntimeError, urllib.error.URLError) as error:
            warnings.warn(f"no ImageNet weights ({error}); random weights", RuntimeWarning)
    return torchvision.models.resnet50(weights=None)


class CNNEncoder(nn.Module):
    def __init__(self, pretrained: bool = True):
        super().__init__()
        resnet = load_resnet50(pretrained)
        modules = list(resnet.children())[:-2]
        self.backbone = nn.Sequential(*modules)
        self.adaptive_pool = nn.AdaptiveAvgPool2d((14, 14))
        for param in self.parameters():
            param.requires_grad = False
        self.train(False)

    def forward(self, images):
        out = self.backbone(images)
        out = self.adaptive_pool(out)
        return out

    def train(self, mode: bool = True):
        return super().train(False)


class RNNDecoder(nn.Module):
    def __init__(self, embed_size, decoder_size, vocab_size, device):
        super().__init__()
        self.embed_size, self.decoder_size, self.vocab_size = embed_size, decoder_size, vocab_size
        self.device = torch.device(device)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=2)
        self.lstm_cell = nn.LSTMCell(input_size=2048 + embed_size, hidden_size=decoder_size)
        self.init_h = nn.Linear(2048, decoder_size)
        self.init_c = nn.Linear(2048, decoder_size)
        self.drop = nn.Dropout(p=0.5)
        self.linear = nn.Linear(decoder_size, vocab_size)

    def init_hidden_state(self, features):
        mean_features = self.avgpool(features).view(features.size(0), -1)
        h = self.init_h(mean_features)
        c = self.init_c(mean_features)
        return h, c

    def forward(self, features, captions):
        batch_size, seq_length = captions.size()
        mean_features = self.avgpool(features).view(batch_size, -1)
        embeds = self.embed(captions)
        h, c = self.init_hidden_state(features)
        preds = torch.zeros(batch_size, seq_length, self.vocab_size).to(self.device)
        for s in range(seq_length):
            lstm_input = torch.cat((embeds[:, s], mean_features), dim=1)
            h, c = self.lstm_cell(lstm_input, (h, c))
            preds[:, s] = self.linear(self.drop(h))
        return preds

    def predict(self, features, T):
        batch_size = features.size(0)
        mean_features = self.avgpool(features).view(batch_size, -1)
        h, c = self.init_hidden_state(features)
        word = torch.tensor([START] * batch_size).to(self.device)
        captions = [[] for _ in range(batch_size)]
        done = [False] * batch_size
        for _ in range(T):
            h, c = self.lstm_cell(torch.cat((self.embed(word), mean_features), dim=1), (h, c))
            word = self.linear(h).argmax(dim=1)
            for i in range(batch_size):
                captions[i].append(PAD if done[i] else int(word[i]))
                if int(word[i]) == END:
                    done[i] = True
            if all(done):
                break
        for row in captions:
            row.extend([PAD] * (T - len(row)))
        return torch.tensor(captions, dtype=torch.long)


def forward_pass(encoder, decoder, loss_fn, images, captions, lengths):
    features = encoder(images)
    preds = decoder(features, captions)
    steps = (lengths - 1).cpu()
    scores = pack_padded_sequence(preds[:, :-1], steps, batch_first=True, enforce_sorted=False).data
    targets = pack_padded_sequence(captions[:, 1:], steps, batch_first=True, enforce_sorted=False).data
    loss = loss_fn(scores, targets)
    return loss, preds


class CaptionDataset(torch.utils.data.Dataset):
    """Every (image, caption) pair of a CocoCaptions dataset (defined, not used by the grader)."""

    def __init__(self, root, ann_file, vocab, transform=None):
        self.coco = torchvision.datasets.CocoCaptions(root, ann_file, transform=transform)
        self.vocab = vocab
        self.pairs = [(i, k) for i in range(len(self.coco)) for k in range(5)]

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        i, k = self.pairs[index]
        image, captions = self.coco[i]
        caption = text_pipeline(captions[k], self.vocab)
        return image, caption, int((caption != PAD).sum())


def plot_losses(losses, title="training loss"):
    plt.figure(figsize=(8, 4))
    plt.plot(losses)
    plt.title(title)
    plt.xlabel("step")
    plt.show()


if __name__ == "__main__":
    dataset = CaptionDataset("data/coco/train2017", "data/coco/annotations/kit_train.json", None)
    encoder = CNNEncoder().to(device)
    decoder = RNNDecoder(256, 512, 10000, device).to(device)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-4)
    losses = []
    for images, captions, lengths in torch.utils.data.DataLoader(dataset, batch_size=32):
        loss, _ = forward_pass(encoder, decoder, nn.CrossEntropyLoss(), images.to(device), captions.to(device), lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    plot_losses(losses)
