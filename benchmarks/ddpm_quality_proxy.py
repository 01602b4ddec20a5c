"""Real-image check of the `ddpm` notebook's offline quality proxy (`ddpm.proxy_fd`, a Frechet
distance on the features of a fixed random convolutional network), which stands in for the FID
where Inception's weights cannot be downloaded.

    python benchmarks/ddpm_quality_proxy.py [--npz ../shared/data/cifar10/cifar10_subset.npz] [--fid]

SVHN is not available offline; real CIFAR-10 images (32x32, colour) are. Between two disjoint
sets of real images the proxy should be small, and it should grow steadily as the second set is
degraded: by the forward diffusion itself (q_sample at growing t), by blur, by pure noise. Also
records how the value depends on the number of images (it is biased upwards for small sets, as
the FID is). With --fid, also the FID when Inception's weights can be had. Writes
benchmarks/results/ddpm_quality_proxy.json.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import ddpm_solution as ddpm  # noqa: E402

from benchmarks.results_file import write_result  # noqa: E402


def as_images(array) -> torch.Tensor:
    """(N, 32, 32, 3) uint8 -> (N, 3, 32, 32) floats in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float() / 127.5 - 1


def blurred(images, factor):
    return F.interpolate(F.avg_pool2d(images, factor), scale_factor=factor, mode="bilinear", align_corners=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--npz", type=Path,
                        default=KIT_ROOT.parent / "shared" / "data" / "cifar10" / "cifar10_subset.npz",
                        help="cifar10_subset.npz (x_train, x_test uint8 NHWC); default: the workplace's shared copy")
    parser.add_argument("--n", type=int, default=1000, help="images per set")
    parser.add_argument("--fid", action="store_true", help="also the FID, if Inception's weights can be had")
    args = parser.parse_args()
    if not args.npz.is_file():
        print(f"skipped: {args.npz} not found (real CIFAR-10 images are needed; pass --npz)")
        return 0
    data = np.load(args.npz)
    rng = np.random.default_rng(0)  # the arrays are sorted by class: draw both sets at random
    reference = as_images(data["x_train"][rng.permutation(len(data["x_train"]))[:args.n]])
    other = as_images(data["x_test"][rng.permutation(len(data["x_test"]))[:args.n]])

    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(other.shape, generator=generator)
    degradations = {"real (disjoint sets)": other}
    for t in (25, 50, 100, 200, 400):
        noisy = ddpm.q_sample(other, torch.full((len(other),), t), noise=noise)
        degradations[f"q_sample, t = {t}"] = noisy.clamp(-1, 1)
    for factor in (2, 4, 8):
        degradations[f"blur, {factor}x{factor} average"] = blurred(other, factor)
    degradations["pure noise"] = noise.clamp(-1, 1)

    started = time.perf_counter()
    reference_features = ddpm.proxy_features(reference)  # what proxy_fd computes, done once here
    proxy = {name: round(ddpm.frechet_distance(reference_features, ddpm.proxy_features(images)), 3)
             for name, images in degradations.items()}
    seconds = time.perf_counter() - started
    diffusion = [proxy["real (disjoint sets)"]] + [proxy[f"q_sample, t = {t}"] for t in (25, 50, 100, 200, 400)]
    blur = [proxy["real (disjoint sets)"]] + [proxy[f"blur, {f}x{f} average"] for f in (2, 4, 8)]
    by_size = {n: round(ddpm.proxy_fd(reference[:n], other[:n]), 3) for n in (100, 250, 500, args.n)}
    result = {"data": f"real CIFAR-10 images from {args.npz.name}, {args.n} per set", "proxy_fd": proxy,
              "increases_with_diffusion_noise": all(a < b for a, b in zip(diffusion, diffusion[1:])),
              "increases_with_blur": all(a < b for a, b in zip(blur, blur[1:])),
              "noise_is_worst": max(proxy, key=proxy.get) == "pure noise",
              "real_vs_real_by_set_size": by_size,
              "seconds_for_all_proxies": round(seconds, 1), "torch_threads": torch.get_num_threads()}
    if args.fid:
        weights = ddpm.inception_weights()
        result["fid"] = ({name: round(ddpm.fid(reference, images, weights), 2) for name, images in degradations.items()}
                         if weights else "not measured: Inception weights not downloadable here")
    write_result("ddpm_quality_proxy", result)
    return 0 if result["increases_with_diffusion_noise"] and result["noise_is_worst"] else 1


if __name__ == "__main__":
    sys.exit(main())
