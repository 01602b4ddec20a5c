"""`vae`: a variational auto-encoder on SVHN (seed 002, problem 1, 20 points)."""
from pathlib import Path

from grading.assignments.vae.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="vae",
    title="SVHN: a variational auto-encoder",
    module="vae_solution",
    questions=QUESTIONS,
    probes_path=Path(__file__).with_name("probes.py"),
    notebook="vae_svhn.ipynb",
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot", "tqdm.auto"),
    quick_figures=6,
)
