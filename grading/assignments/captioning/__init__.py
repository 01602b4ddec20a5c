"""`captioning`: image captioning with a frozen ResNet-50 encoder and an LSTM decoder (seed 000, 22 points)."""
from grading.assignments.captioning.public import QUESTIONS
from grading.rubric import Assignment

ASSIGNMENT = Assignment(
    name="captioning",
    title="Image captioning: a ResNet-50 encoder and an LSTM decoder",
    questions=QUESTIONS,
    notebook="rnn_image_captioning.ipynb",
    quick_figures=6,
)
