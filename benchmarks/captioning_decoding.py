"""Greedy decoding against beam search, on real captions (Flickr8k's text; no images needed).

    python benchmarks/captioning_decoding.py --flickr8k ../shared/data/flickr8k [--train-images 2000] [--epochs 4]

No Flickr8k image can be had offline, so the "image" of each picture is a stand-in built from its
first caption: the bag of its words through a fixed random projection to 2048 non-negative numbers
(a perfect detector of the objects named, with no layout). The reference decoder learns to write
the picture's four other captions from it, and its greedy and beam-search captions of held-out
pictures are scored against those four with BLEU-1..4 and CIDEr (pycocoevalcap's scorers). What
is measured is the effect of the decoding on real language, not the quality of a captioner.
Writes benchmarks/results/captioning_decoding.json.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import captioning_solution as cs  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402
from data import captions  # noqa: E402


def stand_in_features(first_captions, vocab, seed: int = 0) -> torch.Tensor:
    """(N, 2048, 1, 1): ReLU of a fixed random projection of each caption's bag of words."""
    bags = torch.zeros(len(first_captions), len(vocab))
    for i, caption in enumerate(first_captions):
        for token in vocab(cs.tokenize(caption)):
            if token >= len(cs.SPECIALS):
                bags[i, token] = 1.0
    projection = torch.randn(len(vocab), cs.FEATURE_SIZE, generator=torch.Generator().manual_seed(seed))
    features = torch.relu(bags @ projection / bags.sum(1, keepdim=True).clamp(min=1).sqrt())
    return (features * 0.5).view(len(first_captions), cs.FEATURE_SIZE, 1, 1)  # about ImageNet features' scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flickr8k", type=Path, required=True,
                        help="folder with Flickr8k.token.txt and the split lists")
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--test-images", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--embed-size", type=int, default=64)
    parser.add_argument("--decoder-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: on a shared machine more threads contend more than they help)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.flickr8k / "Flickr8k.token.txt").is_file():
        sys.exit(f"skipped: no Flickr8k.token.txt in {args.flickr8k}")
    torch.manual_seed(0)
    device = cs.DEVICE
    train = list(captions.flickr8k_captions(args.flickr8k, "train").values())[:args.train_images]
    test = list(captions.flickr8k_captions(args.flickr8k, "test").values())[:args.test_images]
    vocab = cs.build_vocabulary([c for group in train for c in group[1:]], min_freq=5)
    features = {name: stand_in_features([group[0] for group in groups], vocab).to(device)
                for name, groups in (("train", train), ("test", test))}
    tokens, index = cs.caption_tensors([group[1:] for group in train], vocab)

    decoder = cs.RNNDecoder(args.embed_size, args.decoder_size, len(vocab), device).to(device)
    started = time.perf_counter()
    logs = cs.train_decoder(decoder, features["train"], tokens, index, epochs=args.epochs, batch_size=64, lr=2e-3)
    train_seconds = time.perf_counter() - started

    references = [group[1:] for group in test]
    results = {}
    for name, beam_size, penalty in (("greedy", 1, None), ("beam 3", 3, 0.7), ("beam 5", 5, 0.7),
                                     ("beam 3, no length normalization", 3, 0.0)):
        started = time.perf_counter()
        if beam_size == 1:
            rows = cs.generate(decoder, features["test"])
        else:
            rows = torch.cat([cs.beam_search(decoder, chunk, beam_size, length_penalty=penalty)
                              for chunk in features["test"].split(100)])
        seconds = time.perf_counter() - started
        hypotheses = [cs.ids_to_caption(row, vocab) for row in rows]
        results[name] = {**{k: round(v, 4) for k, v in cs.caption_metrics(references, hypotheses).items()},
                         "mean_words": round(float(np.mean([len(h.split()) for h in hypotheses])), 2),
                         "distinct_captions": len(set(hypotheses)),
                         "milliseconds_per_image": round(1000 * seconds / len(hypotheses), 2),
                         "examples": hypotheses[:3]}
    result = {"data": f"Flickr8k captions ({args.flickr8k}); 'images' are bag-of-words stand-ins of caption #0",
              "device": str(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
              "train_images": len(train), "test_images": len(test),
              "vocabulary_size": len(vocab),
              "decoder": {"embed_size": args.embed_size, "decoder_size": args.decoder_size},
              "epochs": args.epochs, "train_seconds": round(train_seconds),
              "final_train_loss": round(logs["train_loss"][-1], 3),
              "test_references_examples": references[0][:2], "decoding": results}
    write_result("captioning_decoding", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
