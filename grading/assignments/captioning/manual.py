"""`captioning`: the written report (seed 000, TP3 image captioning), graded by hand. The statement
gives no points to its questions: one point per question asked."""
from grading.manual import ReportItem

ITEMS = [
    ReportItem("q1-specials", "Q1: the special tokens", 1,
               "[START] begins a caption, [END] ends it, [PAD] fills to a fixed length, [UNK] replaces words "
               "outside the vocabulary."),
    ReportItem("q2-encoder", "Q2: the pretrained encoder and its output", 2,
               "Transfer learning: ImageNet features, less data and time needed; the output is a "
               "14 x 14 x 2048 grid of ResNet-50 features (what and where)."),
    ReportItem("q3-decoder", "Q3: embedding layer, forward and predict", 3,
               "Dense word vectors instead of one-hot; forward returns scores per position, predict token "
               "ids; teacher forcing (true previous tokens) against the model's own previous token."),
    ReportItem("q4-loss", "Q4: why the cross-entropy", 1,
               "Each step is a classification over the vocabulary (softmax probabilities): cross-entropy is "
               "the likelihood; L2 is not suited."),
    ReportItem("q5-analysis", "Q5: imprecise captions, vocabulary size, characters", 3,
               "The decoder sees one pooled feature vector (spatial detail lost; attention is the fix); the "
               "vocabulary size of the run; characters: small vocabulary and fewer parameters but much "
               "longer sequences and a harder problem."),
]
