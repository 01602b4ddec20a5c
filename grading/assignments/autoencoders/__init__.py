"""`autoencoders`: MLP auto-encoders, denoising, a VAE and a sparse auto-encoder on MNIST
(seeds 003, 000 and 004, 20 points)."""
from pathlib import Path

from grading.assignments.autoencoders.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="autoencoders",
    title="MNIST: auto-encoders, denoising, sparsity and a VAE",
    module="autoencoders_solution",
    questions=QUESTIONS,
    probes_path=Path(__file__).with_name("probes.py"),
    notebook="mnist_autoencoders.ipynb",
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot", "tqdm.auto"),
    quick_figures=9,
)
