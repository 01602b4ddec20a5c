"""`ddpm`: a denoising diffusion model on SVHN (seed 002, problem 2, 20 points)."""
from pathlib import Path

from grading.assignments.ddpm.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="ddpm",
    title="SVHN: a denoising diffusion model (DDPM)",
    module="ddpm_solution",
    questions=QUESTIONS,
    probes_path=Path(__file__).with_name("probes.py"),
    notebook="ddpm_svhn.ipynb",
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot", "tqdm.auto", "einops"),
    quick_figures=8,
)
