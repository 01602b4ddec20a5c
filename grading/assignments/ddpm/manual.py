"""`ddpm`: the written report (seed 002, problem 2, question 2: 14 points), graded by hand.
The optional part (T = 500 / 1500, U-Net representations) is not graded."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("answer-a", "2(a) Wall-clock time of training", 2,
               "A plot of the cumulative training time per epoch; grows linearly with the epochs."),
    ReportItem("answer-b", "2(b) Samples during training", 2,
               "Samples every 5 epochs (the epochs named); from noise or colour patches to digit-like "
               "samples."),
    ReportItem("answer-c", "2(c) Reconstructions from noised test images, and t*", 6,
               "Test images noised to several t' (e.g. 16 to 256) and denoised by the reverse process; "
               "names a t* past which the original is no longer restored (the reference answer: full "
               "recovery up to about 64, recognisable up to about 176) and says what happens beyond."),
    ReportItem("answer-d", "2(d) Final samples, compared with the VAE's", 4,
               "Final samples shown; digits visible, sharper and more varied than the VAE's, some "
               "ambiguous; a comparison with the VAE's samples."),
]
