"""Real-data check of the `simsiam` assignment: pre-training on real CIFAR-10 images, with and
without stop-gradient, on a CPU in minutes.

    python benchmarks/simsiam_cifar10.py --sample ../shared/data/cifar10/cifar10_subset.npz [--threads 1]
                                         [--epochs 16] [--train-images 10000] [--width 8] [--dim 512]

The sample holds 10,000 training and 2,000 test images of the real CIFAR-10. The reference
SimSiam (solutions/simsiam_solution.py) around a narrow ResNet (`SmallResNet`) is pre-trained by
the given training code (two batched views per image, SGD lr 0.03 x batch / 256, cosine
schedule, fixed predictor lr), once with stop-gradient and once without, from the same
initialisation. Records per epoch the training loss, the kNN accuracy (k = 200, t = 0.1, test
images against the training set) and the std of the l2-normalised outputs z (1/sqrt(d) when
spread, 0 when collapsed); at the end, the std of z and of the predictions p in units of
1/sqrt(d), and a linear evaluation. About 20 minutes for the two runs on two shared CPU cores
(`--threads 1` avoids oversubscribing a busy machine). The statement's runs (ResNet-18, 100 epochs, the
50,000 images, d = 2048) need a GPU; this is the CPU-sized version of the same comparison.
Writes benchmarks/results/simsiam_cifar10.json.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import simsiam_solution as ss  # noqa: E402
import simsiam_training as st  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402
from data import DatasetUnavailable, cifar10  # noqa: E402
from data.augment import Augment  # noqa: E402


@torch.no_grad()
def spread(model, images, dim: int) -> dict:
    """std of the l2-normalised z and p over a batch of two-view training images, in units of
    1/sqrt(d): 1 when spread over the sphere, 0 when every output points the same way."""
    model.train()  # as in training: BatchNorm with the batch's statistics
    p1, _, z1, _ = model(*(view.to(st.DEVICE) for view in Augment().two_views(images.to(st.DEVICE))))
    return {name: round(st.output_std(output).item() * dim ** 0.5, 3) for name, output in (("z", z1), ("p", p1))}


def run(stop_gradient: bool, train_set, test_set, args) -> dict:
    st.seed_everything(args.seed)  # the same initial weights for both runs
    model = ss.SimSiam(st.small_resnet(args.width), dim=args.dim, pred_dim=args.pred_dim, stop_gradient=stop_gradient)
    knn_at_init = st.knn_accuracy(model.encoder, train_set, test_set)
    started = time.monotonic()
    config = st.PretrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    history = st.pretrain(model, train_set, test_set, config, description=f"stop_gradient={stop_gradient}")
    seconds = time.monotonic() - started
    final_spread = spread(model, train_set[0][:512], args.dim)
    linear = st.linear_evaluation(model.encoder, train_set, test_set, epochs=args.linear_epochs)
    rounded = {key: [round(v, 4) for v in values] for key, values in history.items()}
    return {"knn_accuracy_at_init": round(knn_at_init, 4), "final_knn_accuracy": rounded["knn_accuracy"][-1],
            "final_loss": rounded["loss"][-1], "final_output_std": rounded["output_std"][-1],
            "final_output_std_times_sqrt_d": final_spread,
            "linear_evaluation": {k: round(v, 4) for k, v in linear.items()},
            "pretrain_seconds": round(seconds, 1), "per_epoch": rounded}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=Path, help="cifar10_subset.npz (the real CIFAR-10 sample)")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--width", type=int, default=8, help="SmallResNet channels of its first stage")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--pred-dim", type=int, default=128)
    parser.add_argument("--linear-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.sample is None:
        sys.exit("skipped: pass --sample PATH, the real CIFAR-10 sample (cifar10_subset.npz)")
    try:
        sample = cifar10.load_sample(args.sample)
    except DatasetUnavailable as problem:
        sys.exit(f"skipped: {problem}")
    train_set = tuple(tensor[:args.train_images] for tensor in sample["train"])
    test_set = sample["test"]

    result = {"dataset": f"real CIFAR-10 sample: {len(train_set[0])} training, {len(test_set[0])} test images",
              "device": str(st.DEVICE), "torch_threads": torch.get_num_threads(),
              "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
              "settings": {k: v for k, v in vars(args).items() if k not in ("sample", "threads")}
              | {"encoder": f"SmallResNet(width={args.width}, blocks=(1, 1, 1))",
                 "lr": 0.03 * args.batch_size / 256, "knn": "k=200, t=0.1"}}
    for stop_gradient in (True, False):
        result["with_stop_gradient" if stop_gradient else "without_stop_gradient"] = run(stop_gradient, train_set,
                                                                                       test_set, args)
    with_sg, without_sg = result["with_stop_gradient"], result["without_stop_gradient"]
    result["summary"] = {
        "knn_accuracy": {"at_init": with_sg["knn_accuracy_at_init"],
                         "with_stop_gradient": with_sg["final_knn_accuracy"],
                         "without_stop_gradient": without_sg["final_knn_accuracy"]},
        "std_of_normalised_outputs_times_sqrt_d (1 = spread, 0 = collapsed)": {
            "with_stop_gradient": with_sg["final_output_std_times_sqrt_d"],
            "without_stop_gradient": without_sg["final_output_std_times_sqrt_d"]},
        "peak_memory_mb": peak_memory_mb()}
    write_result("simsiam_cifar10", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
