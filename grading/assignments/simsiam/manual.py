"""`simsiam`: the written report (seed 002, problem 3, questions 4 to 9: 34 points), graded by hand.
The statement gives question 5 nine points for (a), (b) and (c): three each here."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("q4-answer", "Q4: with and without stop-gradient", 8,
               "Training loss and kNN accuracy per epoch, with and without stop-gradient; without it the "
               "loss falls to -1 and accuracy collapses (trivial constant representation); stop-gradient "
               "prevents collapse."),
    ReportItem("q5a-answer", "Q5(a): the predictor replaced by the identity", 3,
               "Curves with the identity predictor; the model collapses (loss to -1, accuracy down): the "
               "trained predictor is needed."),
    ReportItem("q5b-answer", "Q5(b): the projector's output dimension, 2048 to 4096", 3,
               "Curves for both dimensions and what changes (little; the reference saw 4096 behind for 75 "
               "epochs, then slightly ahead)."),
    ReportItem("q5c-answer", "Q5(c): would Barlow Twins behave the same way?", 3,
               "No: Barlow Twins decorrelates the output dimensions and keeps improving with larger "
               "dimensions, so it is much more sensitive to this dimension."),
    ReportItem("q6-answer", "Q6: heavy augmentations", 4,
               "DSSL: heavy views derived from standard views, asymmetric loss pulling heavy views towards "
               "their standard view only; yes, SimSiam uses augmentations, on the two views fed to the "
               "encoder."),
    ReportItem("q7-answer", "Q7: avoiding collapse (VICReg)", 4,
               "VICReg's variance term (std of each dimension above a threshold) and covariance term "
               "(decorrelation), with the invariance term; or negatives / asymmetry as alternatives."),
    ReportItem("q8-answer", "Q8: BYOL and SimSiam", 5,
               "BYOL's target encoder is a momentum (EMA) copy, SimSiam shares the weights; both use a "
               "predictor and stop-gradient; the roles of EMA (slow, stable targets) and of the predictor."),
    ReportItem("q9-answer", "Q9: why asymmetry", 4,
               "Asymmetry (predictor + stop-gradient) avoids the trivial constant solution without negative "
               "pairs; the EM-like alternating view; benefits: no large batches or negatives, richer "
               "representations."),
]
