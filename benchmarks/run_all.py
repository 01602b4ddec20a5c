"""Run every benchmark script in this folder; each writes its JSON into benchmarks/results/.

Benchmarks on real data read the samples beside the kit (../shared/data, this workplace's) or the
Debian FashionMNIST package, through explicit options given below; a benchmark whose data is
absent is reported as skipped, not failed.
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
NOT_BENCHMARKS = {"run_all.py", "results_file.py", "__init__.py"}

# script -> (the data it needs, the options that point at it)
DATA = {
    "autoencoders_mnist.py": (SHARED / "mnist", ["--source", SHARED / "mnist"]),
    "captioning_decoding.py": (SHARED / "flickr8k", ["--flickr8k", SHARED / "flickr8k"]),
    "captioning_text.py": (SHARED / "flickr8k", ["--flickr8k", SHARED / "flickr8k"]),
    "ddpm_quality_proxy.py": (SHARED / "cifar10", ["--npz", SHARED / "cifar10" / "cifar10_subset.npz"]),
    "simsiam_augment_speed.py": (SHARED / "cifar10", ["--sample", SHARED / "cifar10" / "cifar10_subset.npz"]),
    "simsiam_cifar10.py": (SHARED / "cifar10", ["--sample", SHARED / "cifar10" / "cifar10_subset.npz"]),
    "trainer_fashionmnist.py": (Path("/usr/share/datasets/fashion-mnist"), []),
    "vae_cifar10.py": (SHARED / "cifar10", ["--npz", SHARED / "cifar10" / "cifar10_subset.npz"]),
}


def main() -> int:
    failed, skipped = [], []
    for script in sorted(HERE.glob("*.py")):
        if script.name in NOT_BENCHMARKS:
            continue
        needed, options = DATA.get(script.name, (None, []))
        if needed is not None and not needed.exists():
            skipped.append(f"{script.name} (no {needed})")
            continue
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script), *map(str, options)]).returncode != 0:
            failed.append(script.name)
    print("skipped: " + ", ".join(skipped) if skipped else "nothing skipped")
    print("failed: " + ", ".join(failed) if failed else "every benchmark that had its data ran")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
