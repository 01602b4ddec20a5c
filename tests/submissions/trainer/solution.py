# A file as a student of the original course handed it in: the original template's given code,
# answers written in another (correct) style, helpers, plotting code, a Trainer built at import
# time, and experiments under __main__. The grader must give it full marks.
import random
import numpy as np
import torch
from typing import Tuple, Callable, List, NamedTuple
import torchvision
import tqdm
import matplotlib.pyplot as plt
import json

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


# Pytorch preliminaries
def gradient_norm(function: Callable, *tensor_list: List[torch.Tensor]) -> float:
    for t in tensor_list:
        t.grad = None
    function(*tensor_list).backward()
    squares = 0.0
    for t in tensor_list:
        squares += (t.grad ** 2).sum()
    return squares.sqrt().item()


def jacobian_norm(function: Callable, input_tensor: torch.Tensor) -> float:
    jac = torch.autograd.functional.jacobian(function, input_tensor)
    return torch.sqrt(torch.sum(jac ** 2)).item()


def dense_layers(in_features, hiddens, n_classes, activation):
    layers = []
    for h in hiddens:
        layers.append(torch.nn.Linear(in_features, h))
        layers.append(activation)
        in_features = h
    layers.append(torch.nn.Linear(in_features, n_classes))
    layers.append(torch.nn.Softmax(dim=-1))
    return layers


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
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)
        self.datapath = datapath
        self.n_classes = n_classes
        self.lr = lr
        self.batch_size = batch_size
        self.epsilon = 1e-9

        self.train_logs = {'train_accuracy': [], 'validation_accuracy': [], 'train_loss': [], 'validation_loss': [],
                           'train_gradient_norm': []}

    @staticmethod
    def load_dataset(datapath: str):
        trainset = torchvision.datasets.FashionMNIST(root=datapath, download=True, train=True)
        testset = torchvision.datasets.FashionMNIST(root=datapath, download=True, train=False)
        X_train = trainset.data.view(-1, 1, 28, 28).float()
        y_train = trainset.targets
        X_ = testset.data.view(-1, 1, 28, 28).float()
        y_ = testset.targets
        return (X_train, y_train), (X_[:2000], y_[:2000]), (X_[2000:], y_[2000:])

    @staticmethod
    def create_mlp(input_dim: int, net_config: NetworkConfiguration, n_classes: int,
                   activation: torch.nn.Module) -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Flatten(),
                                   *dense_layers(input_dim, net_config.dense_hiddens, n_classes, activation))

    @staticmethod
    def create_cnn(in_channels: int, net_config: NetworkConfiguration, n_classes: int,
                   activation: torch.nn.Module) -> torch.nn.Module:
        layers = []
        n = len(net_config.n_channels)
        for i in range(n):
            layers.append(torch.nn.Conv2d(in_channels, net_config.n_channels[i], net_config.kernel_sizes[i],
                                          net_config.strides[i], net_config.paddings[i]))
            layers.append(activation)
            if i == n - 1:
                layers.append(torch.nn.AdaptiveMaxPool2d((4, 4)))
            else:
                layers.append(torch.nn.MaxPool2d(kernel_size=2))
            in_channels = net_config.n_channels[i]
        layers.append(torch.nn.Flatten())
        layers += dense_layers(16 * in_channels, net_config.dense_hiddens, n_classes, activation)
        return torch.nn.Sequential(*layers)

    @staticmethod
    def create_activation_function(activation_str: str) -> torch.nn.Module:
        if activation_str == "relu":
            return torch.nn.ReLU()
        elif activation_str == "tanh":
            return torch.nn.Tanh()
        elif activation_str == "sigmoid":
            return torch.nn.Sigmoid()

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        return torch.eye(self.n_classes, device=y.device)[y]

    def compute_loss_and_accuracy(self, X: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, float]:
        out = self.network(X)
        out = torch.clamp(out, min=self.epsilon, max=1 - self.epsilon)
        loss = torch.mean(-torch.sum(y * torch.log(out), dim=1))
        accuracy = torch.mean((torch.argmax(out, dim=1) == torch.argmax(y, dim=1)).float())
        return loss, accuracy

    @staticmethod
    def compute_gradient_norm(network: torch.nn.Module) -> float:
        total = 0
        for p in network.parameters():
            total += torch.sum(p.grad ** 2)
        return float(total ** 0.5)

    def training_step(self, X_batch: torch.Tensor, y_batch: torch.Tensor) -> float:
        self.optimizer.zero_grad()
        loss = self.compute_loss_and_accuracy(X_batch, y_batch)[0]
        loss.backward()
        norm = self.compute_gradient_norm(self.network)
        self.optimizer.step()
        return norm

    def log_metrics(self, X_train: torch.Tensor, y_train_oh: torch.Tensor,
                    X_valid: torch.Tensor, y_valid_oh: torch.Tensor) -> None:
        self.network.eval()
        with torch.inference_mode():
            train_loss, train_accuracy = self.compute_loss_and_accuracy(X_train, y_train_oh)
            valid_loss, valid_accuracy = self.compute_loss_and_accuracy(X_valid, y_valid_oh)
        self.train_logs['train_accuracy'].append(train_accuracy)
        self.train_logs['validation_accuracy'].append(valid_accuracy)
        self.train_logs['train_loss'].append(float(train_loss))
        self.train_logs['validation_loss'].append(float(valid_loss))

    def train_loop(self, n_epochs: int):
        X_train, y_train = self.train
        y_train_oh = self.one_hot(y_train)
        X_valid, y_valid = self.valid
        y_valid_oh = self.one_hot(y_valid)
        n_batches = int(np.ceil(X_train.shape[0] / self.batch_size))
        self.log_metrics(X_train[:2000], y_train_oh[:2000], X_valid, y_valid_oh)
        for epoch in tqdm.tqdm(range(n_epochs)):
            for batch in range(n_batches):
                minibatchX = X_train[self.batch_size * batch:self.batch_size * (batch + 1), :]
                minibatchY = y_train_oh[self.batch_size * batch:self.batch_size * (batch + 1), :]
                gradient_norm = self.training_step(minibatchX, minibatchY)
            self.train_logs['train_gradient_norm'].append(gradient_norm)
            self.log_metrics(X_train[:2000], y_train_oh[:2000], X_valid, y_valid_oh)
        return self.train_logs

    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, float]:
        with torch.no_grad():
            return self.compute_loss_and_accuracy(X, self.one_hot(y))

    @staticmethod
    def normalize(train, valid, test):
        mean = train[0].mean(axis=0)
        std = train[0].std(axis=0, unbiased=False)
        return ((train[0] - mean) / std, train[1]), ((valid[0] - mean) / std, valid[1]), \
               ((test[0] - mean) / std, test[1])

    def test_equivariance(self):
        from functools import partial
        test_im = self.train[0][0] / 255.
        conv = torch.nn.Conv2d(kernel_size=3, in_channels=1, out_channels=1, stride=1, padding=0)
        fullconv_model = lambda x: torch.relu(conv((torch.relu(conv((x))))))
        model = fullconv_model
        shift_amount = 5
        shift = partial(torchvision.transforms.functional.affine, angle=0,
                        translate=(shift_amount, shift_amount), scale=1, shear=0)
        rotation = partial(torchvision.transforms.functional.affine, angle=90,
                           translate=(0, 0), scale=1, shear=0)
        plt.imshow(test_im[0], cmap="gray")
        plt.show()
        plt.imshow((shift(model(test_im)) - model(shift(test_im))).abs()[0].detach(), cmap="gray")
        plt.show()


def plot_logs(logs, title):
    plt.title(title)
    plt.plot(logs["validation_accuracy"])
    plt.show()


# Built at import time (a common habit): the grader provides a tiny ./data so this works.
sanity_trainer = Trainer(normalization=False)
print("parameters:", sum(p.numel() for p in sanity_trainer.network.parameters()))

if __name__ == "__main__":
    results = {}
    for lr in [0.01, 0.0001, 0.00000001]:
        trainer = Trainer(lr=lr, normalization=False)
        results[lr] = trainer.train_loop(n_epochs=50)
        plot_logs(results[lr], f"lr={lr}")
    with open("q2.json", "w") as f:
        json.dump({str(k): v["validation_accuracy"] for k, v in results.items()}, f)
