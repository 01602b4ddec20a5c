"""`cardiac`: convolutional auto-encoders and a VAE of ACDC cardiac MRI segmentation maps
(seed 000, notebook 2, 20 points)."""
from pathlib import Path

from grading.assignments.cardiac.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="cardiac",
    title="Cardiac MRI segmentation maps: auto-encoders and a VAE",
    module="cardiac_solution",
    questions=QUESTIONS,
    probes_path=Path(__file__).with_name("probes.py"),
    notebook="cardiac_mri_autoencoders.ipynb",
    preload=("torch", "numpy", "matplotlib.pyplot", "tqdm.auto"),
    quick_figures=8,
)
