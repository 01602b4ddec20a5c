"""`cardiac`: the written report (seed 000, TP3 cardiac MRI), graded by hand. The statement gives no
points to its questions: one point per question asked."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("q1-answers", "Q1: neurons, parameters and latent size of the encoder", 3,
               "2,777,092 neurons (outputs of every layer, input not counted); 798,148 parameters; latent "
               "size 4."),
    ReportItem("q2-answers", "Q2: the ConvTranspose2d operation", 1,
               "Each input value scales the kernel, copies placed stride apart and summed; doubles the size "
               "with stride 2; needed to bring the feature maps back to 256 x 256."),
    ReportItem("q3-answers", "Q3: vae_forward_pass here and on MNIST", 1,
               "MNIST flattens the input and uses a binary cross-entropy; here the label map becomes a "
               "one-hot tensor of 4 channels and the loss is a multi-class cross-entropy."),
    ReportItem("q4-answers", "Q4: a 2-D latent space", 1,
               "Information is lost with 2 dimensions (worse shapes, lower Dice); not blurry because each "
               "pixel gets one class (argmax of a categorical), and the maps are simple."),
]
