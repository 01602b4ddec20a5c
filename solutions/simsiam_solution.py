"""SimSiam: self-supervised learning without negative pairs (homework 3, problem 3).

Complete every part marked `# WRITE CODE HERE`: `SimSiam.forward` (2 points),
`CosineSimilarity.forward` (2 points) and `SimSiam.loss` (2 points). Keep the names and the
signatures: the autograder imports this file (under any name, `q3_solution.py` included) and
calls them directly. The constructor, `bdot` and the training code
(`solutions/simsiam_training.py`) are given.

Shapes used in the docstrings: B is a batch size, C, H, W the channels, height and width of an
image (3, 32, 32 for CIFAR-10), d the feature dimension `dim` (2048 by default).

Reference: Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021
(https://arxiv.org/abs/2011.10566), section 3 and algorithm 1.
"""
import torch
import torch.nn as nn
from torch import Tensor
from torch.nn import Module


class SimSiam(nn.Module):
    """SimSiam: an encoder f (backbone + 3-layer projection MLP) and a predictor h (2-layer MLP)."""

    def __init__(self, base_encoder, dim=2048, pred_dim=512, stop_gradient=True, MLP_mode=None):
        """
        :param base_encoder: a constructor like `torchvision.models.resnet18`, called as
            `base_encoder(num_classes=dim, zero_init_residual=True)`; the module it returns must
            have a Linear head named `fc`.
        :param dim: feature dimension d of the projector's output (2048).
        :param pred_dim: hidden dimension of the predictor (512).
        :param stop_gradient: if True, no gradient flows back through the targets z.
        :param MLP_mode: None (a trainable predictor), 'fixed_random_init' (a predictor
            initialised at random and frozen) or 'no_pred_mlp' (the predictor is the identity).
        """
        super(SimSiam, self).__init__()
        self.stop_gradient = stop_gradient
        self.MLP_mode = MLP_mode

        # The encoder; num_classes is the output dimension of its fc layer, and the last BN of
        # each residual block starts at zero.
        self.encoder = base_encoder(num_classes=dim, zero_init_residual=True)

        # A 3-layer projector in place of the fc layer.
        prev_dim = self.encoder.fc.weight.shape[1]
        self.encoder.fc = nn.Sequential(nn.Linear(prev_dim, prev_dim, bias=False),
                                        nn.BatchNorm1d(prev_dim),
                                        nn.ReLU(inplace=True),  # first layer
                                        nn.Linear(prev_dim, prev_dim, bias=False),
                                        nn.BatchNorm1d(prev_dim),
                                        nn.ReLU(inplace=True),  # second layer
                                        self.encoder.fc,
                                        nn.BatchNorm1d(dim, affine=False))  # output layer
        self.encoder.fc[6].bias.requires_grad = False  # the bias is useless before a BatchNorm

        # A 2-layer predictor (a bottleneck of pred_dim units).
        self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False),
                                       nn.BatchNorm1d(pred_dim),
                                       nn.ReLU(inplace=True),  # hidden layer
                                       nn.Linear(pred_dim, dim))  # output layer

        if self.MLP_mode == 'fixed_random_init':
            # Weights drawn from N(0, 0.01) and never trained.
            for param in self.predictor.parameters():
                param.requires_grad = False
            self.predictor[0].weight.data.normal_(mean=0.0, std=0.01)
            self.predictor[3].weight.data.normal_(mean=0.0, std=0.01)
            self.predictor[3].bias.data.zero_()
        elif self.MLP_mode == 'no_pred_mlp':
            self.predictor = nn.Identity()

    def forward(self, x1, x2):
        """The outputs of the two branches for two augmented views of the same images.

        z1 = f(x1), p1 = h(z1), and the same for x2. The encoder is called once per view (its
        BatchNorm layers use the statistics of each view's batch, as in the paper's code).
        With `self.stop_gradient`, z1 and z2 are returned detached from the graph: they are
        targets, no gradient flows back through them (p1 and p2 still carry gradients).

        :param x1: first views, (B, C, H, W).
        :param x2: second views, (B, C, H, W).
        :return: p1, p2, z1, z2, each (B, d).
        """
        ### BEGIN SOLUTION
        z1 = self.encoder(x1)
        z2 = self.encoder(x2)
        p1 = self.predictor(z1)
        p2 = self.predictor(z2)
        if self.stop_gradient:
            z1, z2 = z1.detach(), z2.detach()
        return p1, p2, z1, z2
        ### END SOLUTION

    def loss(self, p1, p2, z1, z2, similarity_function='CosineSimilarity'):
        """The symmetric SimSiam loss, L = 1/2 D(p1, z2) + 1/2 D(p2, z1), where D(p, z) is the
        negative cosine similarity of p and z averaged over the batch.

        It is -1 when every prediction points the same way as the other view's target. Use the
        class named by `similarity_function` (`CosineSimilarity` below). The targets arrive
        already detached when `self.stop_gradient` is True (see `forward`); do not detach them
        here, or turning the stop-gradient off would change nothing.

        :param p1, p2: predictions, (B, d).
        :param z1, z2: targets, (B, d).
        :return: the loss, a scalar tensor.
        """
        ### BEGIN SOLUTION
        similarity = {'CosineSimilarity': CosineSimilarity}[similarity_function]()
        return -0.5 * (similarity(p1, z2).mean() + similarity(p2, z1).mean())
        ### END SOLUTION


# You might need this function to implement CosineSimilarity.forward.
def bdot(a, b):
    """Batched dot product: (B, S) and (B, S) -> (B,), out[i] = a[i] . b[i]."""
    B = a.shape[0]
    S = a.shape[1]
    return torch.bmm(a.view(B, 1, S), b.view(B, S, 1)).reshape(-1)


class CosineSimilarity(Module):
    r"""Cosine similarity between the rows of x1 and x2:

    .. math ::
        \text{similarity} = \dfrac{x_1 \cdot x_2}{\max(\Vert x_1 \Vert _2 \cdot \Vert x_2 \Vert _2, \epsilon)}

    Args:
        dim (int, optional): the dimension of the vectors (1 for rows of a (B, S) batch). Default: 1
        eps (float, optional): small value to avoid division by zero. Default: 1e-8

    Example::
        >>> cos = CosineSimilarity(dim=1, eps=1e-6)
        >>> output = cos(torch.randn(100, 128), torch.randn(100, 128))  # shape (100,)
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
        :param x1: (B, S): vectors along `self.dim` (1: rows).
        :param x2: same shape as x1.
        :return: cosine similarity of each pair of vectors along `self.dim`: (B,) for rows. A zero
            vector gives 0 (never NaN). The grader also uses other dims (e.g. dim=0 for columns);
            there, `bdot` computes the dot products along that dim.
        """
        ### BEGIN SOLUTION
        norms = x1.norm(dim=self.dim) * x2.norm(dim=self.dim)
        return bdot(x1, x2) / norms.clamp(min=self.eps)
        ### END SOLUTION
