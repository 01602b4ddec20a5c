"""`ddpm`: a denoising diffusion model on SVHN (seed 002, problem 2, 20 points)."""
from grading.assignments.ddpm.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="ddpm",
    title="SVHN: a denoising diffusion model (DDPM)",
    questions=QUESTIONS,
    notebook="ddpm_svhn.ipynb",
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot", "tqdm.auto", "einops"),
    quick_figures=8,
)
