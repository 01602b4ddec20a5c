"""`simsiam`: SimSiam self-supervised learning on CIFAR-10 (seed 002, problem 3, 6 points)."""
from grading.assignments.simsiam.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="simsiam",
    title="CIFAR-10: SimSiam self-supervised learning",
    questions=QUESTIONS,
    notebook="simsiam_cifar10.ipynb",
    aliases=("q3_solution.py",),  # the original course's file name
    preload=("torch", "torchvision", "numpy", "PIL.Image"),
    quick_figures=5,
)
