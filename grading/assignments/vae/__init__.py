"""`vae`: a variational auto-encoder on SVHN (seed 002, problem 1, 20 points)."""
from grading.assignments.vae.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="vae",
    title="SVHN: a variational auto-encoder",
    questions=QUESTIONS,
    notebook="vae_svhn.ipynb",
    quick_figures=6,
)
