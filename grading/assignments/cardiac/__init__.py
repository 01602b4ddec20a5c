"""`cardiac`: convolutional auto-encoders and a VAE of ACDC cardiac MRI segmentation maps
(seed 000, notebook 2, 20 points)."""
from grading.assignments.cardiac.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="cardiac",
    title="Cardiac MRI segmentation maps: auto-encoders and a VAE",
    questions=QUESTIONS,
    notebook="cardiac_mri_autoencoders.ipynb",
    preload=("torch", "numpy", "matplotlib.pyplot", "tqdm.auto"),
    quick_figures=8,
)
