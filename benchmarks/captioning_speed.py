"""Training speed of the `captioning` decoder: the plain loop against the cached encoder features.

    python benchmarks/captioning_speed.py [--batch-size 16] [--image-size 256] [--steps 3]

The plain loop runs the frozen ResNet-50 on the images of every batch (under no_grad; half
precision and channels-last on a GPU), then the decoder's training step. The cached loop runs the
encoder once per image beforehand (`encode_images`) and then only the decoder. Both use the
reference solution with the notebook's sizes (embed 256, decoder 512, a 5,000-token vocabulary),
on random images (speed does not depend on the pixels). Reports steps per second of each, their
ratio, the one-off cost of the cache per image, and an estimate of one epoch on the default COCO
subset (10,000 images, 50,000 captions) both ways. Uses CUDA when present. Writes
benchmarks/results/captioning_speed.json.
"""
import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import captioning_solution as cs  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402

VOCAB_SIZE, EMBED_SIZE, DECODER_SIZE = 5000, 256, 512


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def encode(encoder, images, device):
    """What the plain loop does at every step (and the cache once per image)."""
    cuda = device.type == "cuda"
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
        x = cs.normalize_images(images)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return encoder(x).float()


def timed_steps(step, n_steps, device) -> float:
    step()  # warm-up (allocations, cuDNN's choice of algorithms)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(n_steps):
        step()
    synchronize(device)
    return (time.perf_counter() - started) / n_steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=None, help="default: 128 on a GPU, 16 on a CPU")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=None, help="timed steps of the plain loop (default 3 on CPU)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: on a shared machine more threads contend more than they help)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = cs.DEVICE
    cuda = device.type == "cuda"
    batch_size = args.batch_size or (128 if cuda else 16)
    plain_steps = args.steps or (20 if cuda else 3)
    torch.manual_seed(0)

    encoder = cs.CNNEncoder(pretrained=False).to(device)
    if cuda:
        encoder = encoder.to(memory_format=torch.channels_last)
    decoder = cs.RNNDecoder(EMBED_SIZE, DECODER_SIZE, VOCAB_SIZE, device).to(device).train()
    optimizer = torch.optim.Adam(decoder.parameters(), lr=4e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.randint(0, 256, (batch_size, 3, args.image_size, args.image_size), dtype=torch.uint8, device=device)
    lengths = torch.randint(8, cs.MAX_SEQ_LEN + 1, (batch_size,), device=device)
    captions = torch.randint(4, VOCAB_SIZE, (batch_size, cs.MAX_SEQ_LEN), device=device)
    captions[:, 0] = cs.START
    positions = torch.arange(cs.MAX_SEQ_LEN, device=device)
    captions[positions >= lengths.unsqueeze(1)] = cs.PAD
    captions[torch.arange(batch_size, device=device), lengths - 1] = cs.END

    def decoder_step(features):
        with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
            loss, _ = cs.forward_pass(nn.Identity(), decoder, loss_fn, features, captions, lengths)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    cached_features = encode(encoder, images, device).mean(dim=(2, 3), keepdim=True)
    plain = timed_steps(lambda: decoder_step(encode(encoder, images, device)), plain_steps, device)
    cached = timed_steps(lambda: decoder_step(cached_features), plain_steps * 5, device)
    encode_once = timed_steps(lambda: encode(encoder, images, device), plain_steps, device) / batch_size

    images_per_epoch, pairs_per_epoch = 10_000, 50_000
    steps_per_epoch = pairs_per_epoch / batch_size
    result = {
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "batch_size": batch_size, "image_size": args.image_size,
        "decoder": {"embed_size": EMBED_SIZE, "decoder_size": DECODER_SIZE, "vocab_size": VOCAB_SIZE},
        "plain_steps_per_second": round(1 / plain, 3),
        "cached_steps_per_second": round(1 / cached, 3),
        "speedup_steps_per_second": round(plain / cached, 1),
        "cache_seconds_per_image_once": round(encode_once, 4),
        "coco_default_subset_epoch_estimate_seconds": {
            "plain_loop": round(steps_per_epoch * plain),
            "cached_first_epoch_including_cache": round(images_per_epoch * encode_once + steps_per_epoch * cached),
            "cached_later_epochs": round(steps_per_epoch * cached)},
        "peak_memory_mb": peak_memory_mb(),
        "note": "plain: ResNet-50 on every batch (no_grad, autocast + channels_last on CUDA) then the decoder step; "
                "cached: the decoder step on features computed once per image",
    }
    write_result("captioning_speed", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
