"""`autoencoders`: MLP auto-encoders, denoising, a VAE and a sparse auto-encoder on MNIST
(seeds 003, 000 and 004, 20 points)."""
from grading.assignments.autoencoders.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="autoencoders",
    title="MNIST: auto-encoders, denoising, sparsity and a VAE",
    questions=QUESTIONS,
    notebook="mnist_autoencoders.ipynb",
    quick_figures=9,
)
