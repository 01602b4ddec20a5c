"""`trainer`: a Trainer for MLPs and CNNs on FashionMNIST (seed 001, 35 points)."""
from pathlib import Path

from data import mnist
from grading.assignments.trainer.public import QUESTIONS
from grading.rubric import Assignment


def write_box_data(box: Path) -> None:
    """A tiny FashionMNIST in ./data, for files that build a Trainer at import time."""
    mnist.write_fixture("fashion_mnist", box / "data", n_train=64, n_test=32)


ASSIGNMENT = Assignment(
    name="trainer",
    title="FashionMNIST: a Trainer for MLPs and CNNs",
    questions=QUESTIONS,
    notebook="fashionmnist_trainer.ipynb",
    aliases=("solution.py",),
    box_files=write_box_data,
    quick_figures=5,
)
