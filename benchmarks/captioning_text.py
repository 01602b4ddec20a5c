"""Real-text check of the `captioning` text pipeline: the tokenizer and vocabulary on Flickr8k's captions.

    python benchmarks/captioning_text.py --flickr8k ../shared/data/flickr8k

Needs only Flickr8k's text files (`Flickr8k.token.txt` and the official split lists; no images).
Builds the vocabulary of the reference solution from the 30,000 training captions for several
`min_freq`, and reports its size, the [UNK] rate of the validation and test tokens, the caption
lengths against MAX_SEQ_LEN, and the tokenizer's speed. Writes benchmarks/results/captioning_text.json.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import captioning_solution as cs  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402
from data import captions  # noqa: E402


def unknown_rate(vocab, texts) -> float:
    tokens = [token for caption in texts for token in cs.tokenize(caption)]
    return round(float(np.mean([vocab[token] == cs.UNK for token in tokens])), 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flickr8k", type=Path, required=True,
                        help="folder with Flickr8k.token.txt and Flickr_8k.{train,dev,test}Images.txt")
    args = parser.parse_args()
    if not (args.flickr8k / "Flickr8k.token.txt").is_file():
        sys.exit(f"skipped: no Flickr8k.token.txt in {args.flickr8k}")
    splits = {split: [c for group in captions.flickr8k_captions(args.flickr8k, split).values() for c in group]
              for split in captions.SPLITS}

    started = time.perf_counter()
    tokenized = [cs.tokenize(caption) for caption in splits["train"]]
    tokenize_seconds = time.perf_counter() - started
    lengths = np.array([len(tokens) + 2 for tokens in tokenized])  # with [START] and [END]
    default = cs.build_vocabulary(splits["train"], min_freq=5)
    started = time.perf_counter()
    pipelined = [cs.text_pipeline(caption, default) for caption in splits["train"]]
    pipeline_seconds = (time.perf_counter() - started) / len(pipelined)

    vocabularies = {}
    for min_freq in (1, 2, 3, 5, 10):
        vocab = cs.build_vocabulary(splits["train"], min_freq=min_freq)
        assert vocab.itos[:4] == list(cs.SPECIALS)
        vocabularies[f"min_freq={min_freq}"] = {"vocabulary_size": len(vocab),
                                                "unk_rate_val": unknown_rate(vocab, splits["val"]),
                                                "unk_rate_test": unknown_rate(vocab, splits["test"])}
    result = {
        "dataset": f"Flickr8k captions ({args.flickr8k})",
        "captions": {split: len(texts) for split, texts in splits.items()},
        "distinct_training_tokens": len({token for tokens in tokenized for token in tokens}),
        "most_frequent_tokens": default.itos[4:24],
        "vocabularies": vocabularies,
        "caption_tokens_with_start_end": {"mean": round(float(lengths.mean()), 2),
                                          "p95": int(np.percentile(lengths, 95)), "max": int(lengths.max()),
                                          "fraction_cut_at_max_seq_len":
                                              round(float(np.mean(lengths > cs.MAX_SEQ_LEN)), 5)},
        "tokenize_captions_per_second": round(len(tokenized) / tokenize_seconds),
        "text_pipeline_microseconds_per_caption": round(pipeline_seconds * 1e6, 1),
    }
    write_result("captioning_text", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
