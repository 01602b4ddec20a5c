"""`vae`: the written report (seed 002, problem 1, question 3: 20 points), graded by hand."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("vae-3a", "3(a) Wall-clock time of training", 2,
               "A plot of the cumulative training time per epoch; says it grows linearly with the epochs "
               "(every epoch does the same work)."),
    ReportItem("vae-3b", "3(b) Samples during training", 2,
               "Samples every 5 epochs (the epochs named); describes the progression from blurry or noisy "
               "images to digit-like samples."),
    ReportItem("vae-3c", "3(c) Test reconstructions during training", 4,
               "Test images and their reconstructions every 5 epochs; reconstructions improve and stay "
               "blurry."),
    ReportItem("vae-3d", "3(d) Samples at the end of training", 4,
               "Final samples shown; digit patterns visible, samples blurry, with a reason (mean of a "
               "Gaussian decoder, squared error favours averages, KL pull towards the prior)."),
    ReportItem("vae-3e", "3(e) Latent profile of each class", 6,
               "One bar chart per class of the mean latent of a few training images; identifies peaks on "
               "some latent dimensions and differences between classes (similar digits, similar profiles)."),
    ReportItem("vae-3f", "3(f) Interpolation in the latent space", 2,
               "Interpolation images between two latents; says whether the transition is smooth (it is: "
               "digits morph progressively)."),
]
