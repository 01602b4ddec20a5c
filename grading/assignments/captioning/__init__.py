"""`captioning`: image captioning with a frozen ResNet-50 encoder and an LSTM decoder (seed 000, 22 points)."""
from pathlib import Path

from grading.assignments.captioning.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="captioning",
    title="Image captioning: a ResNet-50 encoder and an LSTM decoder",
    module="captioning_solution",
    questions=QUESTIONS,
    probes_path=Path(__file__).with_name("probes.py"),
    notebook="rnn_image_captioning.ipynb",
    preload=("torch", "torchvision", "numpy", "matplotlib.pyplot", "tqdm.auto"),
    quick_figures=6,
)
