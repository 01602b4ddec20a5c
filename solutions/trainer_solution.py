"""A `Trainer` for MLPs and CNNs on FashionMNIST (homework 3, practical part).

Complete every function marked `# WRITE CODE HERE`. Keep the names and signatures: the
autograder imports this file and calls them directly. You may add helper functions and imports.

Shapes used in the docstrings: N is a batch size, C, H, W are channels, height and width of an
image (1, 28, 28 for FashionMNIST) and K is the number of classes.

Tensors may live on the GPU (`Trainer` moves the data and the network to `self.device`): when you
create a new tensor from an input `x`, give it `device=x.device`.
"""
import random
from functools import partial
from typing import Callable, List, NamedTuple, Tuple

import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
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


class NetworkConfiguration(NamedTuple):
    n_channels: Tuple[int, ...] = (16, 32, 48)
    kernel_sizes: Tuple[int, ...] = (3, 3, 3)
    strides: Tuple[int, ...] = (1, 1, 1)
    paddings: Tuple[int, ...] = (0, 0, 0)
    dense_hiddens: Tuple[int, ...] = (256, 256)


# PyTorch preliminaries
def gradient_norm(function: Callable, *tensor_list: List[torch.Tensor]) -> float:
    """Euclidean norm of the gradient of a scalar function w.r.t. all its inputs together.

    :param function: takes the tensors of `tensor_list` as positional arguments and returns a
        scalar tensor, e.g. `function(x, y) = (x * y).sum()`.
    :param tensor_list: the input tensors (any shapes), each with `requires_grad=True`.
    :return: ||(d function / d t1, ..., d function / d tn)||_2 as a Python float.
    """
    ### BEGIN SOLUTION
    output = function(*tensor_list)
    grads = torch.autograd.grad(output, tensor_list)
    return float(torch.sqrt(sum((grad ** 2).sum() for grad in grads)))
    ### END SOLUTION


def jacobian_norm(function: Callable, input_tensor: torch.Tensor) -> float:
    """Frobenius norm of the Jacobian of `function` at `input_tensor`.

    :param function: maps a tensor of shape S_in to a tensor of shape S_out.
    :param input_tensor: tensor of shape S_in.
    :return: the Frobenius norm of the (S_out x S_in) Jacobian, as a Python float.
    """
    ### BEGIN SOLUTION
    jacobian = torch.autograd.functional.jacobian(function, input_tensor)
    return float(jacobian.norm())
    ### END SOLUTION


class Trainer:
    def __init__(self,
                 network_type: str = "mlp",
                 net_config: NetworkConfiguration = NetworkConfiguration(),
                 datapath: str = './data',
                 n_classes: int = 10,
                 lr: float = 0.0001,
                 batch_size: int = 128,
                 activation_name: str = "relu",
                 normalization: bool = True):
        self.train, self.valid, self.test = self.load_dataset(datapath)
        if normalization:
            self.train, self.valid, self.test = self.normalize(self.train, self.valid, self.test)
        self.network_type = network_type
        activation_function = self.create_activation_function(activation_name)
        input_dim = self.train[0][0].shape
        if network_type == "mlp":
            self.network = self.create_mlp(input_dim[0] * input_dim[1] * input_dim[2], net_config,
                                           n_classes, activation_function)
        elif network_type == "cnn":
            self.network = self.create_cnn(input_dim[0], net_config, n_classes, activation_function)
        else:
            raise ValueError("Network type not supported")
        # The whole dataset fits in GPU memory: keeping it there avoids a host-to-device copy per batch.
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.network.to(self.device)
        self.train, self.valid, self.test = [(X.to(self.device), y.to(self.device))
                                             for X, y in (self.train, self.valid, self.test)]
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)
        self.datapath = datapath
        self.n_classes = n_classes
        self.lr = lr
        self.batch_size = batch_size
        self.epsilon = 1e-9

        self.train_logs = {'train_accuracy': [], 'validation_accuracy': [], 'train_loss': [], 'validation_loss': [],
                           'train_gradient_norm': []}

    @staticmethod
    def load_dataset(datapath: str) -> Tuple[Tuple[torch.Tensor, torch.Tensor],
                                             Tuple[torch.Tensor, torch.Tensor],
                                             Tuple[torch.Tensor, torch.Tensor]]:
        """FashionMNIST as tensors: X float (N, 1, 28, 28) with raw values 0..255, y int64 (N,).

        Validation is the first 2000 images of the official test set, test the other 8000.
        """
        trainset = torchvision.datasets.FashionMNIST(root=datapath, download=True, train=True)
        testset = torchvision.datasets.FashionMNIST(root=datapath, download=True, train=False)

        X_train = trainset.data.view(-1, 1, 28, 28).float()
        y_train = trainset.targets

        X_ = testset.data.view(-1, 1, 28, 28).float()
        y_ = testset.targets

        X_val = X_[:2000]
        y_val = y_[:2000]

        X_test = X_[2000:]
        y_test = y_[2000:]
        return (X_train, y_train), (X_val, y_val), (X_test, y_test)

    @staticmethod
    def create_mlp(input_dim: int, net_config: NetworkConfiguration, n_classes: int,
                   activation: torch.nn.Module) -> torch.nn.Module:
        """Create a multi-layer perceptron (MLP) network.

        :param input_dim: number of input features once an image is flattened (C*H*W).
        :param net_config: a NetworkConfiguration; only `dense_hiddens` is used.
        :param n_classes: the number of classes K to predict.
        :param activation: the activation module applied after every hidden Linear layer.
        :return: a module mapping an *unflattened* batch (N, C, H, W) to class probabilities
            (N, K): Linear layers (torch.nn.Linear) with `activation`, then a Linear output layer
            followed by a softmax.
        """
        ### BEGIN SOLUTION
        layers = [torch.nn.Flatten()]
        in_features = input_dim
        for hidden in net_config.dense_hiddens:
            layers += [torch.nn.Linear(in_features, hidden), activation]
            in_features = hidden
        layers += [torch.nn.Linear(in_features, n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(*layers)
        ### END SOLUTION

    @staticmethod
    def create_cnn(in_channels: int, net_config: NetworkConfiguration, n_classes: int,
                   activation: torch.nn.Module) -> torch.nn.Module:
        """Create a convolutional neural network (CNN).

        :param in_channels: the number of channels C of the input images.
        :param net_config: a NetworkConfiguration giving, for each convolution, its number of
            output channels, kernel size, stride and padding, then the dense hidden layers.
        :param n_classes: the number of classes K to predict.
        :param activation: the activation module applied after every Conv2d and hidden Linear.
        :return: a module mapping (N, C, H, W) to class probabilities (N, K): each Conv2d is
            followed by `activation` and MaxPool2d(kernel_size=2), except the last one, which is
            followed by `activation`, AdaptiveMaxPool2d((4, 4)) and Flatten(); then the dense
            layers as in `create_mlp`, and a softmax output.
        """
        ### BEGIN SOLUTION
        layers = []
        channels = in_channels
        n_convs = len(net_config.n_channels)
        conv_settings = zip(net_config.n_channels, net_config.kernel_sizes, net_config.strides,
                            net_config.paddings)
        for i, (out_channels, kernel_size, stride, padding) in enumerate(conv_settings):
            layers += [torch.nn.Conv2d(channels, out_channels, kernel_size, stride=stride, padding=padding),
                       activation]
            layers.append(torch.nn.MaxPool2d(kernel_size=2) if i < n_convs - 1
                          else torch.nn.AdaptiveMaxPool2d((4, 4)))
            channels = out_channels
        # The dense part is the MLP's, written out again so that this answer stands on its own.
        layers.append(torch.nn.Flatten())
        in_features = channels * 4 * 4
        for hidden in net_config.dense_hiddens:
            layers += [torch.nn.Linear(in_features, hidden), activation]
            in_features = hidden
        layers += [torch.nn.Linear(in_features, n_classes), torch.nn.Softmax(dim=1)]
        return torch.nn.Sequential(*layers)
        ### END SOLUTION

    @staticmethod
    def create_activation_function(activation_str: str) -> torch.nn.Module:
        """Return the module for "relu", "tanh" or "sigmoid"."""
        ### BEGIN SOLUTION
        activations = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}
        if activation_str not in activations:
            raise ValueError(f"unknown activation {activation_str!r}: use one of {sorted(activations)}")
        return activations[activation_str]()
        ### END SOLUTION

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        """Integer labels (N,) in 0..K-1 -> one-hot matrix (N, K) with K = self.n_classes."""
        ### BEGIN SOLUTION
        return torch.nn.functional.one_hot(y.long(), self.n_classes).float()
        ### END SOLUTION

    def compute_loss_and_accuracy(self, X: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, float]:
        """Cross-entropy and accuracy of the current network on a batch.

        :param X: inputs (N, C, H, W).
        :param y: one-hot labels (N, K).
        :return: (loss, accuracy): the cross-entropy averaged over the batch, a scalar tensor
            still attached to the computation graph, computed from the network's probabilities
            clamped to [self.epsilon, 1 - self.epsilon]; the fraction of correct predictions,
            a Python float.
        """
        ### BEGIN SOLUTION
        probabilities = self.network(X).clamp(self.epsilon, 1 - self.epsilon)
        loss = -(y * torch.log(probabilities)).sum(dim=1).mean()
        accuracy = (probabilities.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
        return loss, accuracy
        ### END SOLUTION

    @staticmethod
    def compute_gradient_norm(network: torch.nn.Module) -> float:
        """Euclidean norm of all the parameter gradients of `network` flattened together."""
        ### BEGIN SOLUTION
        grads = [parameter.grad.flatten() for parameter in network.parameters() if parameter.grad is not None]
        return float(torch.cat(grads).norm())
        ### END SOLUTION

    def training_step(self, X_batch: torch.Tensor, y_batch: torch.Tensor) -> float:
        """One Adam step on a batch.

        :param X_batch: inputs (N, C, H, W).
        :param y_batch: one-hot labels (N, K).
        :return: the norm of the gradient of the loss w.r.t. the network's parameters on this
            batch (use `compute_loss_and_accuracy` and `compute_gradient_norm`).
        """
        ### BEGIN SOLUTION
        self.optimizer.zero_grad()
        loss, _ = self.compute_loss_and_accuracy(X_batch, y_batch)
        loss.backward()
        norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return norm
        ### END SOLUTION

    def log_metrics(self, X_train: torch.Tensor, y_train_oh: torch.Tensor,
                    X_valid: torch.Tensor, y_valid_oh: torch.Tensor) -> None:
        self.network.eval()
        with torch.inference_mode():
            train_loss, train_accuracy = self.compute_loss_and_accuracy(X_train, y_train_oh)
            valid_loss, valid_accuracy = self.compute_loss_and_accuracy(X_valid, y_valid_oh)
        self.network.train()
        self.train_logs['train_accuracy'].append(float(train_accuracy))
        self.train_logs['validation_accuracy'].append(float(valid_accuracy))
        self.train_logs['train_loss'].append(float(train_loss))
        self.train_logs['validation_loss'].append(float(valid_loss))

    def train_loop(self, n_epochs: int, run=None):
        """Train for `n_epochs`, logging the metrics before training and after every epoch.
        With `run` (a name: see solutions/runs.py) every epoch is checkpointed, and calling
        train_loop again resumes the run, or loads it when it is finished."""
        # Prepare train and validation data
        X_train, y_train = self.train
        y_train_oh = self.one_hot(y_train)
        X_valid, y_valid = self.valid
        y_valid_oh = self.one_hot(y_valid)

        n_batches = int(np.ceil(X_train.shape[0] / self.batch_size))

        self.log_metrics(X_train[:2000], y_train_oh[:2000], X_valid, y_valid_oh)
        to_train, run = epochs_to_train(run, n_epochs, self.train_logs, network=self.network, optimizer=self.optimizer)
        for epoch in tqdm(to_train, total=n_epochs, desc=f"{self.network_type} lr={self.lr:g}", leave=False):
            epoch_gradient_norms = []
            for batch in range(n_batches):
                minibatchX = X_train[self.batch_size * batch:self.batch_size * (batch + 1)]
                minibatchY = y_train_oh[self.batch_size * batch:self.batch_size * (batch + 1)]
                epoch_gradient_norms.append(self.training_step(minibatchX, minibatchY))
                if run is not None:
                    run.step()
            self.train_logs['train_gradient_norm'].append(float(np.mean(epoch_gradient_norms)))
            self.log_metrics(X_train[:2000], y_train_oh[:2000], X_valid, y_valid_oh)
        return self.train_logs

    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, float]:
        """Mean loss and accuracy of the network on (X, y).

        :param X: inputs (N, C, H, W).
        :param y: *integer* labels (N,).
        :return: (loss, accuracy): the mean cross-entropy as a scalar tensor, the accuracy as a float.
        """
        ### BEGIN SOLUTION
        with torch.no_grad():
            loss, accuracy = self.compute_loss_and_accuracy(X, self.one_hot(y))
        return loss, accuracy
        ### END SOLUTION

    @staticmethod
    def normalize(train: Tuple[torch.Tensor, torch.Tensor],
                  valid: Tuple[torch.Tensor, torch.Tensor],
                  test: Tuple[torch.Tensor, torch.Tensor]) -> Tuple[Tuple[torch.Tensor, torch.Tensor],
                                                                    Tuple[torch.Tensor, torch.Tensor],
                                                                    Tuple[torch.Tensor, torch.Tensor]]:
        """Standardize every feature (pixel) with the statistics of the training set.

        :param train, valid, test: (X, y) pairs, X of shape (N, C, H, W).
        :return: the three (X, y) pairs with X replaced by (X - mean) / std, where mean and std
            (each of shape (C, H, W)) are computed over the training images only.
        """
        ### BEGIN SOLUTION
        mean = train[0].mean(dim=0)
        std = train[0].std(dim=0)
        return tuple(((X - mean) / std, y) for X, y in (train, valid, test))
        ### END SOLUTION

    def test_equivariance(self):
        """Bonus question 1: is a small convolutional network equivariant to shifts? To rotations?

        Apply `model` (two 3x3 convolutions with ReLUs) to the first training image x, and compare
        shift(f(x)) with f(shift(x)), and rotation(f(x)) with f(rotation(x)) (`shift` and
        `rotation` are given below); show the image, the features and both differences.

        :return: a dict {"shift": float, "rotation": float}: the largest absolute difference
            max |shift(f(x)) - f(shift(x))| and max |rotation(f(x)) - f(rotation(x))|, as Python
            floats (the notebook prints them; equivariance means a gap of about 0, away from the
            borders the shift moves in).
        """
        test_im = self.train[0][0].cpu() / 255.
        conv = torch.nn.Conv2d(kernel_size=3, in_channels=1, out_channels=1, stride=1, padding=0)
        def fullconv_model(x):
            return torch.relu(conv(torch.relu(conv(x))))

        model = fullconv_model

        shift_amount = 5
        shift = partial(torchvision.transforms.functional.affine, angle=0,
                        translate=(shift_amount, shift_amount), scale=1, shear=0)
        rotation = partial(torchvision.transforms.functional.affine, angle=90,
                           translate=(0, 0), scale=1, shear=0)

        ### BEGIN SOLUTION
        with torch.no_grad():
            features = model(test_im)
            shift_gap = (shift(features) - model(shift(test_im))).abs()
            rotation_gap = (rotation(features) - model(rotation(test_im))).abs()
        panels = [(test_im, "original image x"), (features, "features f(x)"),
                  (shift_gap, "|shift(f(x)) - f(shift(x))|"), (rotation_gap, "|rot(f(x)) - f(rot(x))|")]
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
        for ax, (image, title) in zip(axes, panels):
            shown = ax.imshow(image[0], cmap="gray")
            ax.set_title(title)
            ax.axis("off")
            fig.colorbar(shown, ax=ax, fraction=0.046)
        fig.tight_layout()
        plt.show()
        return {"shift": float(shift_gap.max()), "rotation": float(rotation_gap.max())}
        ### END SOLUTION


if __name__ == "__main__":
    trainer = Trainer(network_type="mlp", normalization=True)
    logs = trainer.train_loop(n_epochs=2)
    print("validation accuracy per epoch:", logs["validation_accuracy"])
