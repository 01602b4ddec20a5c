"""Speed of SimSiam's two-view augmentation: the kit's batched pipeline against torchvision's.

    python benchmarks/simsiam_augment_speed.py [--sample ../shared/data/cifar10/cifar10_subset.npz]
                                               [--batch-size 512] [--batches 10] [--workers 2]

Both pipelines make two augmented views (random resized crop, colour jitter p = 0.8, grayscale
p = 0.2, flip, normalisation) of CIFAR-10 images, in the same run:

- baseline: torchvision's per-sample transforms on PIL images, in a DataLoader with `--workers`
  worker processes (2: Colab's CPU cores), batches collated as float tensors;
- batched: `data.augment.Augment` on a whole batch of uint8 tensors, on the CPU (all its
  threads), and on the GPU when there is one (the images stay there).

Records augmented images (views) per second, the best of `--repeats` timings of each pipeline
(the machine may be shared), and the speed-up of each batched run over the baseline. On the CPU
the batched pipeline is timed with torch's threads and with one thread. Images: the real CIFAR-10
sample when `--sample` is given, else synthetic ones (the speed does not depend on the content).
Writes benchmarks/results/simsiam_augment_speed.json.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import torch
from PIL import Image

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(KIT_ROOT))

from benchmarks.results_file import write_result  # noqa: E402
from data import cifar10  # noqa: E402
from data.augment import Augment, torchvision_pipeline  # noqa: E402


class TwoViews(torch.utils.data.Dataset):
    """uint8 images (N, 3, H, W) -> (view1, view2) by torchvision's per-sample transforms."""

    def __init__(self, images: torch.Tensor):
        self.images = images.permute(0, 2, 3, 1).numpy()
        self.transform = torchvision_pipeline(Augment())

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = Image.fromarray(self.images[index])
        return self.transform(image), self.transform(image)


def torchvision_views_per_second(images, batch_size: int, batches: int, workers: int) -> float:
    loader = torch.utils.data.DataLoader(TwoViews(images), batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers)
    iterator = iter(loader)
    next(iterator)  # workers started, first batch ready: not timed
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - started
    del iterator  # stops the workers before the batched pipeline is timed
    return 2 * batch_size * batches / seconds


def batched_views_per_second(images, batch_size: int, batches: int, device: torch.device) -> float:
    images = images.to(device)
    augment, generator = Augment(), torch.Generator(device=device).manual_seed(0)

    def run_batch():
        batch = images[torch.randint(len(images), (batch_size,), device=device, generator=generator)]
        return augment.two_views(batch, generator)

    run_batch()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(batches):
        run_batch()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * batch_size * batches / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, help="the real CIFAR-10 sample (cifar10_subset.npz)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per pipeline")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    parser.add_argument("--repeats", type=int, default=3, help="timings of each pipeline (the best is kept)")
    args = parser.parse_args()

    if args.sample:
        images, source = cifar10.load_sample(args.sample)["train"][0], f"real CIFAR-10 sample ({args.sample.name})"
    else:
        images, source = torch.from_numpy(cifar10.synthetic_objects(5000)[0]), "synthetic 32x32 images"
    def best(measure, *arguments):
        return max(measure(images, args.batch_size, args.batches, *arguments) for _ in range(args.repeats))

    baseline = best(torchvision_views_per_second, args.workers)
    result = {"images": source, "batch_size": args.batch_size, "timed_batches": args.batches,
              "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
              "torchvision_dataloader": {"workers": args.workers, "views_per_second": round(baseline)}}
    def record(name, device, speed):
        result[name] = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                        "views_per_second": round(speed), "speedup_over_torchvision": round(speed / baseline, 2)}

    cpu, threads = torch.device("cpu"), torch.get_num_threads()
    record("batched_cpu", cpu, best(batched_views_per_second, cpu))
    torch.set_num_threads(1)
    record("batched_cpu_1_thread", cpu, best(batched_views_per_second, cpu))
    torch.set_num_threads(threads)
    if torch.cuda.is_available():
        record("batched_cuda", torch.device("cuda"), best(batched_views_per_second, torch.device("cuda")))
    if not torch.cuda.is_available():
        result["batched_cuda"] = "no GPU on this machine"
    write_result("simsiam_augment_speed", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
