"""Given code for the SimSiam experiments (problem 3): nothing to complete here.

- encoders with the constructor signature SimSiam expects, `(num_classes=..., zero_init_residual=...)`
  and a Linear `fc` head: `resnet18_cifar` (the statement's ResNet-18, adapted to 32x32 images) and
  `SmallResNet` (narrow, for CPU runs and quick mode);
- `pretrain`: two-view pre-training with SGD (lr 0.03 x batch / 256, momentum 0.9, weight decay
  5e-4), a cosine learning-rate schedule for the encoder and a fixed learning rate for the
  predictor, and after each epoch the kNN monitor (k = 200, temperature 0.1) and the std of the
  l2-normalised outputs (0 means collapse);
- `linear_evaluation`: a linear classifier trained on the frozen encoder's features.

Speed: the images stay on the device as uint8 tensors and each batch is augmented there, twice,
in one go (`data.augment`); on a GPU the forward pass runs in mixed precision (float16 autocast)
with channels_last tensors.
"""
import math
import random
from dataclasses import dataclass
from functools import partial
from typing import Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock
from tqdm.auto import tqdm

from data.augment import Augment, evaluation_transform

try:  # given: training runs that survive a disconnect, opt-in torch.compile (solutions/runs.py)
    from runs import compiled, epochs_to_train
except ImportError:  # this file on its own (as the grader imports it): no checkpoint, nothing compiled
    def compiled(module):
        return module

    def epochs_to_train(run, n_epochs, history, **objects):
        return range(n_epochs), None


DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
USE_AMP = DEVICE.type == "cuda"


def seed_everything(seed: int = 1234) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# -- encoders (constructors with torchvision's ResNet signature) ----------------------------------

def resnet18_cifar(num_classes: int = 1000, zero_init_residual: bool = False) -> nn.Module:
    """torchvision's ResNet-18 for 32x32 images: a 3x3 stride-1 first convolution, no max-pooling
    (the ImageNet stem would shrink a CIFAR image to 8x8 before the first block)."""
    network = torchvision.models.resnet18(num_classes=num_classes, zero_init_residual=zero_init_residual)
    network.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    network.maxpool = nn.Identity()
    return network


class SmallResNet(nn.Module):
    """A narrow ResNet for 32x32 images: a 3x3 stem, then stages of torchvision's BasicBlock with
    `width`, 2 `width`, 4 `width`... channels (stride 2 between stages), global average pooling,
    and a Linear head `fc`."""

    def __init__(self, num_classes: int = 1000, zero_init_residual: bool = False, width: int = 32,
                 blocks: Tuple[int, ...] = (1, 1, 1)):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        stages, channels = [], width
        for stage, count in enumerate(blocks):
            out_channels, stride = width * 2 ** stage, 1 if stage == 0 else 2
            for _ in range(count):
                downsample = None
                if stride != 1 or channels != out_channels:
                    downsample = nn.Sequential(nn.Conv2d(channels, out_channels, 1, stride=stride, bias=False),
                                               nn.BatchNorm2d(out_channels))
                stages.append(BasicBlock(channels, out_channels, stride, downsample))
                channels, stride = out_channels, 1
        self.layers = nn.Sequential(*stages)
        self.fc = nn.Linear(channels, num_classes)
        if zero_init_residual:  # each block starts as the identity
            for block in stages:
                nn.init.zeros_(block.bn2.weight)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1))


def small_resnet(width: int = 32, blocks: Tuple[int, ...] = (1, 1, 1)):
    """A SmallResNet constructor with the signature SimSiam calls: (num_classes, zero_init_residual)."""
    return partial(SmallResNet, width=width, blocks=blocks)


# -- features and the kNN monitor ---------------------------------------------------------------

def _on_device(images: torch.Tensor) -> torch.Tensor:
    images = images.to(DEVICE, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if DEVICE.type == "cuda" else images


@torch.no_grad()
def embed(encoder: nn.Module, images: torch.Tensor, normalize: bool = True, batch_size: int = 1024) -> torch.Tensor:
    """Backbone features of un-augmented images (the projector `fc` skipped), l2-normalised
    unless `normalize` is False.

    :param images: uint8 (N, 3, 32, 32), on any device.
    :return: float (N, F) on DEVICE.
    """
    was_training, head = encoder.training, encoder.fc
    encoder.eval()
    encoder.fc = nn.Identity()
    try:
        features = []
        for start in range(0, len(images), batch_size):
            x = _on_device(evaluation_transform(images[start:start + batch_size].to(DEVICE)))
            with torch.autocast(DEVICE.type, dtype=torch.float16, enabled=USE_AMP):
                features.append(encoder(x).float())
    finally:
        encoder.fc = head
        encoder.train(was_training)
    features = torch.cat(features)
    return F.normalize(features, dim=1) if normalize else features


def knn_predict(queries: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor, n_classes: int,
                k: int = 200, t: float = 0.1, chunk: int = 1024) -> torch.Tensor:
    """Weighted kNN (Wu et al., 2018): the k bank features most similar to a query vote for their
    class with weight exp(similarity / t).

    :param queries: (Q, F) and `bank` (N, F), l2-normalised; `bank_labels` int64 (N,).
    :return: predicted classes, int64 (Q,).
    """
    predictions = []
    for start in range(0, len(queries), chunk):  # a (chunk, N) similarity matrix at a time
        similarity = queries[start:start + chunk] @ bank.T
        top = similarity.topk(min(k, len(bank)), dim=1)
        votes = torch.zeros(len(similarity), n_classes, device=bank.device)
        votes.scatter_add_(1, bank_labels[top.indices], (top.values / t).exp())
        predictions.append(votes.argmax(dim=1))
    return torch.cat(predictions)


def knn_accuracy(encoder, train_set, test_set, k: int = 200, t: float = 0.1) -> float:
    """Accuracy on `test_set` of the kNN classifier over the training set's features."""
    bank, queries = embed(encoder, train_set[0]), embed(encoder, test_set[0])
    labels = train_set[1].to(DEVICE)
    predicted = knn_predict(queries, bank, labels, int(labels.max()) + 1, k, t)
    return (predicted == test_set[1].to(DEVICE)).float().mean().item()


def output_std(z: torch.Tensor) -> torch.Tensor:
    """Std over the batch of the l2-normalised outputs (B, d), averaged over the d dimensions:
    about 1/sqrt(d) for well-spread outputs, 0 when every output points the same way (collapse).
    A tensor, so that the training loop does not wait for the GPU at every step."""
    return F.normalize(z.float(), dim=1).std(dim=0).mean()


# -- pre-training -----------------------------------------------------------------------------------

@dataclass
class PretrainConfig:
    epochs: int = 100
    batch_size: int = 512
    base_lr: float = 0.03        # for 256 images; scaled by batch_size / 256
    momentum: float = 0.9
    weight_decay: float = 5e-4
    fix_pred_lr: bool = True     # the predictor keeps the initial learning rate (no cosine decay)
    knn_k: int = 200
    knn_t: float = 0.1
    seed: int = 1234


def make_optimizer(model: nn.Module, lr: float, config: PretrainConfig) -> torch.optim.SGD:
    """SGD over the trainable parameters, the predictor's in a group marked `fix_lr`."""
    groups = [{"params": [p for p in module.parameters() if p.requires_grad], "fix_lr": fixed}
              for module, fixed in ((model.encoder, False), (model.predictor, config.fix_pred_lr))]
    return torch.optim.SGD([group for group in groups if group["params"]], lr=lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float, epoch: int, epochs: int) -> float:
    """Cosine decay from `lr` at epoch 0 towards 0 at `epochs`; groups marked `fix_lr` keep `lr`."""
    decayed = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    for group in optimizer.param_groups:
        group["lr"] = lr if group["fix_lr"] else decayed
    return decayed


def pretrain(model: nn.Module, train_set, test_set, config: PretrainConfig = PretrainConfig(),
             augment: Augment = Augment(), description: str = "pre-training", run=None) -> dict:
    """Pre-train `model` (a SimSiam) on two augmented views of each image of `train_set`.

    :param train_set: (images uint8 (N, 3, 32, 32), labels int64 (N,)); the labels are only used
        by the kNN monitor, as is `test_set`.
    :param run: optional, a name (see solutions/runs.py; one per configuration): every epoch, and
        every few minutes inside one, is checkpointed; calling pretrain again resumes the run, or
        loads it when it is finished.
    :return: per-epoch history: mean training loss, kNN accuracy on `test_set`, mean output std,
        and the encoder's learning rate.
    """
    seed_everything(config.seed)
    model.to(DEVICE)
    if DEVICE.type == "cuda":
        model.to(memory_format=torch.channels_last)
    images = train_set[0].to(DEVICE)  # uint8: 50,000 CIFAR-10 images are 150 MB
    batch_size = min(config.batch_size, len(images))
    lr = config.base_lr * batch_size / 256
    optimizer = make_optimizer(model, lr, config)
    scaler = torch.amp.GradScaler(DEVICE.type, enabled=USE_AMP)
    generator = torch.Generator(device=DEVICE).manual_seed(config.seed)
    history = {"loss": [], "knn_accuracy": [], "output_std": [], "lr": []}
    network = compiled(model)  # `model` itself unless $KIT_COMPILE=1

    to_train, run = epochs_to_train(run, config.epochs, history, model=model, optimizer=optimizer, scaler=scaler,
                                generator=generator)
    progress = tqdm(to_train, total=config.epochs, desc=description)
    for epoch in progress:
        inner = run.take_inner() if run is not None else None
        decayed = set_learning_rate(optimizer, lr, epoch, config.epochs)
        model.train()
        if inner is None:
            history["lr"].append(decayed)
            order = torch.randperm(len(images), device=DEVICE, generator=generator)
            losses, stds, first = [], [], 0
        else:  # an interrupted epoch: its order, its losses so far, the next batch
            order, first = inner["order"].to(DEVICE), inner["start"]
            losses, stds = [t.to(DEVICE) for t in inner["losses"]], [t.to(DEVICE) for t in inner["stds"]]
        for start in range(first, len(images) - batch_size + 1, batch_size):  # full batches only (BatchNorm)
            views = augment.two_views(images[order[start:start + batch_size]], generator)
            x1, x2 = (_on_device(view) for view in views)
            with torch.autocast(DEVICE.type, dtype=torch.float16, enabled=USE_AMP):
                p1, p2, z1, z2 = network(x1, x2)
            loss = model.loss(p1.float(), p2.float(), z1.float(), z2.float())  # the loss in float32
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())
            stds.append(output_std(z1.detach()))
            if run is not None:
                run.step(lambda: {"order": order, "start": start + batch_size, "losses": losses, "stds": stds})
        history["loss"].append(torch.stack(losses).mean().item())
        history["output_std"].append(torch.stack(stds).mean().item())
        history["knn_accuracy"].append(knn_accuracy(model.encoder, train_set, test_set, config.knn_k, config.knn_t))
        progress.set_postfix(loss=f"{history['loss'][-1]:.3f}", knn=f"{history['knn_accuracy'][-1]:.3f}")
    return history


# -- linear evaluation ------------------------------------------------------------------------------

def linear_evaluation(encoder: nn.Module, train_set, test_set, epochs: int = 100, lr: float = 0.1,
                      batch_size: int = 256, seed: int = 1234) -> dict:
    """Train a linear classifier on the frozen encoder's backbone features (computed once, on
    un-augmented images) and report its accuracy on the training and test sets."""
    seed_everything(seed)
    train_features, test_features = embed(encoder, train_set[0], False), embed(encoder, test_set[0], False)
    mean, std = train_features.mean(dim=0), train_features.std(dim=0) + 1e-6  # standardised with training statistics
    train_features, test_features = (train_features - mean) / std, (test_features - mean) / std
    train_labels, test_labels = train_set[1].to(DEVICE), test_set[1].to(DEVICE)
    classifier = nn.Linear(train_features.shape[1], int(train_labels.max()) + 1).to(DEVICE)
    optimizer = torch.optim.SGD(classifier.parameters(), lr=lr, momentum=0.9)
    steps = epochs * math.ceil(len(train_features) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(epochs):
        order = torch.randperm(len(train_features), device=DEVICE)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            loss = F.cross_entropy(classifier(train_features[batch]), train_labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    with torch.no_grad():
        accuracy = {name: (classifier(features).argmax(dim=1) == labels).float().mean().item()
                    for name, features, labels in (("train_accuracy", train_features, train_labels),
                                                   ("test_accuracy", test_features, test_labels))}
    return accuracy
