# A file as a student of the original course handed it in (q3_solution.py): the original
# template's given code, answers written in another (correct) style, unused imports, a module-level
# device, augmentation helpers, dataset code defined but not called, and the training run under
# __main__. The grader must give it full marks.
from PIL import ImageFilter
import random

import torch
import torch.nn as nn

import torch.nn.functional as F
from torch.nn import Module

from torch import Tensor

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class GaussianBlur(object):
    """Gaussian blur augmentation in SimCLR https://arxiv.org/abs/2002.05709"""

    def __init__(self, sigma=[.1, 2.]):
        self.sigma = sigma

    def __call__(self, x):
        sigma = random.uniform(self.sigma[0], self.sigma[1])
        x = x.filter(ImageFilter.GaussianBlur(radius=sigma))
        return x


class TwoCropsTransform:
    """Take two random crops of one image as the query and key."""

    def __init__(self, base_transform):
        self.base_transform = base_transform

    def __call__(self, x):
        q = self.base_transform(x)
        k = self.base_transform(x)
        return [q, k]


class SimSiam(nn.Module):
    """
    Build a SimSiam model.
    """
    def __init__(self, base_encoder, dim=2048, pred_dim=512, stop_gradient=True, MLP_mode=None):
        """
        dim: feature dimension (default: 2048)
        pred_dim: hidden dimension of the predictor (default: 512)
        stop_gradient: if False runs the network without gradient-stopping
        """
        super(SimSiam, self).__init__()

        self.stop_gradient = stop_gradient
        self.MLP_mode = MLP_mode

        # create the encoder
        # num_classes is the output fc dimension, zero-initialize last BNs
        self.encoder = base_encoder(num_classes=dim, zero_init_residual=True)

        # build a 3-layer projector
        prev_dim = self.encoder.fc.weight.shape[1]
        self.encoder.fc = nn.Sequential(nn.Linear(prev_dim, prev_dim, bias=False),
                                        nn.BatchNorm1d(prev_dim),
                                        nn.ReLU(inplace=True), # first layer
                                        nn.Linear(prev_dim, prev_dim, bias=False),
                                        nn.BatchNorm1d(prev_dim),
                                        nn.ReLU(inplace=True), # second layer
                                        self.encoder.fc,
                                        nn.BatchNorm1d(dim, affine=False)) # output layer
        self.encoder.fc[6].bias.requires_grad = False # hack: not use bias as it is followed by BN

        # build a 2-layer predictor
        self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False),
                                        nn.BatchNorm1d(pred_dim),
                                        nn.ReLU(inplace=True), # hidden layer
                                        nn.Linear(pred_dim, dim)) # output layer

        if self.MLP_mode=='fixed_random_init':
            # freeze all layers but the last fc
            for param in self.predictor.parameters():
                param.requires_grad = False
            # init the self.predictor layer
            self.predictor[0].weight.data.normal_(mean=0.0, std=0.01)
            self.predictor[3].weight.data.normal_(mean=0.0, std=0.01)
            self.predictor[3].bias.data.zero_()

        elif self.MLP_mode=='no_pred_mlp':
            self.predictor = nn.Identity()
        else:
            pass

    def forward(self, x1, x2):
        """
        Input:
            x1: first views of images
            x2: second views of images
        Output:
            p1, p2, z1, z2: predictors and targets of the network
            See Sec. 3 of https://arxiv.org/abs/2011.10566 for detailed notations
        """
        z1 = self.encoder(x1) # NxC
        z2 = self.encoder(x2) # NxC

        p1 = self.predictor(z1) # NxC
        p2 = self.predictor(z2) # NxC

        if self.stop_gradient:
            return p1, p2, z1.detach(), z2.detach()
        return p1, p2, z1, z2

    def loss (self, p1,p2,z1,z2, similarity_function='CosineSimilarity'):
        """
        Input:
            p1,p2,z1,z2: predictors and targets of the network
        Output:
            loss: Simsiam loss
        """
        criterion = eval(similarity_function)(dim=1)
        loss = -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5
        return loss

# you might need this function when implementing CosineSimilarity forward function
def bdot(a, b):
    """Performs batch-wise dot product in pytorch"""
    B = a.shape[0]
    S = a.shape[1]
    return torch.bmm(a.view(B, 1, S), b.view(B, S, 1)).reshape(-1)

class CosineSimilarity(Module):
    r"""Returns cosine similarity between :math:`x_1` and :math:`x_2`, computed along `dim`.
    .. math ::
        \text{similarity} = \dfrac{x_1 \cdot x_2}{\max(\Vert x_1 \Vert _2 \cdot \Vert x_2 \Vert _2, \epsilon)}.
    Args:
        dim (int, optional): Dimension where cosine similarity is computed. Default: 1
        eps (float, optional): Small value to avoid division by zero.
            Default: 1e-8
    """
    __constants__ = ['dim', 'eps']
    dim: int
    eps: float

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super(CosineSimilarity, self).__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        """
        Input:
            x1,x2: two tensor
        Output:
            cos: cosine similarity between x1,x2
        """
        # each vector normalised on its own (like torch.nn.functional.cosine_similarity)
        x1_unit = x1 / x1.norm(p=2, dim=self.dim, keepdim=True).clamp(min=self.eps)
        x2_unit = x2 / x2.norm(p=2, dim=self.dim, keepdim=True).clamp(min=self.eps)
        return bdot(x1_unit, x2_unit)


def get_cifar10_loaders(root="./data", batch_size=512):
    import torchvision
    import torchvision.transforms as transforms
    normalize = transforms.Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.2023, 0.1994, 0.2010])
    augmentation = [
        transforms.RandomResizedCrop(32, scale=(0.2, 1.)),
        transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        transforms.RandomGrayscale(p=0.2),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        normalize,
    ]
    train_set = torchvision.datasets.CIFAR10(root, train=True, download=True,
                                             transform=TwoCropsTransform(transforms.Compose(augmentation)))
    return torch.utils.data.DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)


if __name__ == "__main__":
    import torchvision.models as models
    model = SimSiam(models.resnet18, 2048, 512).to(device)
    optimizer = torch.optim.SGD(model.parameters(), 0.06, momentum=0.9, weight_decay=5e-4)
    for epoch in range(100):
        for (x1, x2), _ in get_cifar10_loaders():
            p1, p2, z1, z2 = model(x1.to(device), x2.to(device))
            loss = model.loss(p1, p2, z1, z2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
