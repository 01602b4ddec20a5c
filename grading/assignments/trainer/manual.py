"""`trainer`: the written report of part 2 (seed 001: 20 bonus points), graded by hand."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("q1-answers", "Part 2, Q1: equivariance of convolutions", 5,
               "The four figures (image, features, shift difference, rotation difference); convolutions are "
               "equivariant to translations, not rotations; usefulness depends on the data distribution."),
    ReportItem("q2-answers", "Part 2, Q2: learning rate and normalization", 3,
               "Validation accuracy for lr 0.01, 1e-4, 1e-8 without and with normalization; effect of "
               "normalization on convergence; too small an lr does not learn, too large oscillates; best "
               "above 80%."),
    ReportItem("q3-answers", "Part 2, Q3: a deep MLP of 64-unit layers", 5,
               "(a) 269,322 parameters; (b) about 54 hidden layers of 64 (within 10,000); (c) accuracies "
               "and (d) gradient norms plotted; (e) vanishing gradients of the deep MLP explain its slower, "
               "worse training."),
    ReportItem("q4-answers", "Part 2, Q4: a CNN with about as many parameters", 2,
               "The kernel size found; accuracy curves of the CNN and the MLP; the CNN generalizes better "
               "(locality, weight sharing)."),
    ReportItem("q5-answers", "Part 2, Q5: depth and width of convolutions", 5,
               "1x1 convolutions are per-pixel fully-connected layers; a 28x28 kernel is a fully-connected "
               "layer; curves of the three CNNs with a comparison and hypothesis. Accept that the deep 1x1 "
               "CNN cannot meet the 10k rule (333,578 parameters against 269,322)."),
]
