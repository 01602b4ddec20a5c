"""`autoencoders`: the written report (seeds 000 TP3, 003 lab 3), graded by hand. The statements give
no points to their questions: one point per question asked."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("tp3-q1", "TP3 Q1: the encoder, the decoder and the sigmoid", 3,
               "The decoder mirrors the encoder (784 -> 256 -> d and back); sigmoid because pixels are in "
               "[0, 1] (and for the binary cross-entropy); the latent size d (32 by default)."),
    ReportItem("tp3-q2", "TP3 Q2: the DataLoader and the forward pass", 2,
               "The DataLoader iterates over shuffled mini-batches of the dataset; the forward pass encodes "
               "the images to codes and decodes them back; inputs images, outputs reconstruction (and code), "
               "loss between reconstruction and input."),
    ReportItem("q-best-d", "Lab 3: which latent size reconstructs best?", 1,
               "Loss curves and reconstructions for several d; the largest d (64) reconstructs best, with "
               "diminishing returns after 16-32."),
    ReportItem("q-representation", "Lab 3: why a representation, parameter count, compression", 3,
               "Uses of a learned representation (compression, denoising, features, generation); "
               "N(d) = (2H + 1) d + 1570 H + 784 for one hidden layer of H units; ratio d / 784."),
    ReportItem("q-decoder-weights", "Lab 3: the decoder's weights as images", 1,
               "Decoder weights shown as 28x28 images; some look like strokes or parts of digits."),
    ReportItem("q-denoising", "Lab 3: denoising against the noise amplitude", 1,
               "Error against the clean image for several amplitudes; denoising helps more as the noise "
               "grows, until the digits are lost."),
    ReportItem("q-vae", "TP3 Q3 to Q5: the 2-D latent space and the VAE", 5,
               "2-D codes are blurrier (too little information, averages); 2 x d outputs for mean and "
               "(log-)variance; latent size 2; the reparameterization trick z = mu + sigma * eps for "
               "gradients; the VAE's latent space is compact around the origin, the AE's spread out."),
    ReportItem("q-sparse", "Lab 3, going further: the sparse auto-encoder", 1,
               "More near-zero codes as lambda1 grows, at some reconstruction cost; the L2 term prevents "
               "rescaling; lambda1 raised progressively."),
]
