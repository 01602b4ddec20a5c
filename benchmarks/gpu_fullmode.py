"""Full mode on a GPU: the cost of every notebook's long runs, per step and extrapolated.

    python benchmarks/gpu_fullmode.py [--steps K] [--warmup W] [--only NOTEBOOK ...] [--out NAME]
                                      [--write-notebooks]

For each of the seven notebooks, its full-mode workloads (the statement's models at their real
sizes; synthetic data of the real shape, since speed does not depend on the pixels) are built from
the solution modules, and for each workload:

- FLOPs per step, counted with torch.utils.flop_counter on one step (forward and backward for
  training; matrix products, convolutions and attention, as flop_counter counts);
- on CUDA: K steps after W warm-up steps, timed (seconds per step, images per second) and the peak
  GPU memory of the notebook;
- the number of steps each budget of the notebook runs (`runs.BUDGETS`: "statement" and "colab"),
  and the extrapolated time of the full notebook for each budget: measured step times on this
  GPU, and on the CPU or for other GPUs an estimate, FLOPs / an assumed sustained throughput
  (`ASSUMED_TFLOPS`), with a floor per step for launch overheads (`STEP_FLOOR_S`).

On a CPU it counts FLOPs only (unless --time-on-cpu), on a small batch scaled linearly to the
real one (convolutions and matrix products are linear in the batch), so CI can run it.
On one H100, the default K = 20 runs all seven notebooks in about two minutes.
Writes benchmarks/results/gpu_fullmode.json (or --out NAME); with --write-notebooks, also the
times paragraph at the end of each notebook's first cell (measured times first when on a GPU).
"""
import argparse
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

os.environ.setdefault("TQDM_DISABLE", "1")  # the loops' progress bars
KIT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(KIT_ROOT), str(KIT_ROOT / "solutions")]

import runs  # noqa: E402

from benchmarks.results_file import peak_memory_mb, write_result  # noqa: E402

NOTEBOOKS = ("fashionmnist_trainer", "mnist_autoencoders", "cardiac_mri_autoencoders", "rnn_image_captioning",
             "ddpm_svhn", "vae_svhn", "simsiam_cifar10")

# Assumed *sustained* throughput in mixed precision on small and medium networks (TFLOP/s): far
# below the datasheets' peaks (T4 65 fp16, A100 312 bf16, H100 990 bf16 dense), since these
# networks are small and memory-bound. The T4's 6 is the middle of the 4-8 the issue assumed.
ASSUMED_TFLOPS = {"T4": 6.0, "A100": 35.0, "H100": 60.0}
STEP_FLOOR_S = {"T4": 2.0e-3, "A100": 1.0e-3, "H100": 0.8e-3}  # kernel launches, optimizer, Python

# Dataset sizes (full mode)
MNIST_TRAIN = 60_000
SVHN_TRAIN, SVHN_TEST = 73_257, 26_032
CIFAR_TRAIN, CIFAR_TEST = 50_000, 10_000
CARDIAC_TRAIN = 2_400            # 3,000 phantoms x 80 % (ACDC: about 1,900 maps of 70 patients)
COCO_CAPTIONS_PER_IMAGE = 5
COCO_VOCABULARY = 3_000          # tokens seen 5 times in the captions of 10,000 COCO images (about)
COCO_EVAL_IMAGES = 2 * 1_000     # validation and test images encoded (about)


class Workload:
    """A kind of step of a notebook: `make(batch)` builds the model and data and returns a
    zero-argument step function; `steps[budget]` is how many steps the notebook runs."""

    def __init__(self, label, batch, make, steps, note=""):
        self.label, self.batch, self.make, self.steps, self.note = label, batch, make, steps, note


def _images_u8(n, channels=3, size=32, device="cpu"):
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, device=device)


def _settings(notebook):
    return {budget: runs.budget(notebook, budget) for budget in ("statement", "colab")}


# -- the seven notebooks ---------------------------------------------------------------------------

def trainer_workloads(device):
    import trainer_solution as ts
    budgets = _settings("fashionmnist_trainer")
    steps_per_epoch = math.ceil(MNIST_TRAIN / 128)

    def make(kind):
        def build(batch):
            trainer = ts.Trainer.__new__(ts.Trainer)  # the real training_step, without loading data
            config = ts.NetworkConfiguration() if kind == "mlp" else ts.NetworkConfiguration(n_channels=(16, 32, 45))
            create = ts.Trainer.create_mlp if kind == "mlp" else ts.Trainer.create_cnn
            trainer.network = create(784 if kind == "mlp" else 1, config, 10, nn.ReLU()).to(device)
            trainer.optimizer = torch.optim.Adam(trainer.network.parameters(), lr=1e-4)
            trainer.n_classes, trainer.epsilon = 10, 1e-9
            x = torch.randn(batch, 1, 28, 28, device=device)
            y = F.one_hot(torch.randint(0, 10, (batch,), device=device), 10).float()
            return lambda: trainer.training_step(x, y)
        return build

    # 6 MLP runs (2 normalizations x 3 learning rates) and the deep MLP; 3 CNNs
    return [Workload("MLP training step (7 runs)", 128, make("mlp"),
                     {b: 7 * s["EPOCHS"] * steps_per_epoch for b, s in budgets.items()}),
            Workload("CNN training step (3 runs)", 128, make("cnn"),
                     {b: 3 * s["EPOCHS"] * steps_per_epoch for b, s in budgets.items()})]


def autoencoders_workloads(device):
    import autoencoders_solution as ae
    budgets = _settings("mnist_autoencoders")
    steps_per_epoch = math.ceil(MNIST_TRAIN / 128)

    def make(vae):
        def build(batch):
            model = (ae.VAE(2) if vae else ae.AutoEncoder(32)).to(device)
            objective = ae.vae_objective() if vae else ae.ae_objective()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            x = torch.rand(batch, 1, 28, 28, device=device)

            def step():  # ae.fit's step
                with ae._mixed_precision(x.device):
                    outputs = model(x)
                loss = objective(ae._as_float32(outputs), x, model, 0)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            return step
        return build

    # 4 AEs, the perceptron and 4 sparse AEs; 1 VAE
    return [Workload("AE training step (9 runs)", 128, make(False),
                     {b: 9 * s["EPOCHS"] * steps_per_epoch for b, s in budgets.items()}),
            Workload("VAE training step (1 run)", 128, make(True),
                     {b: s["EPOCHS"] * steps_per_epoch for b, s in budgets.items()})]


def cardiac_workloads(device):
    import cardiac_solution as cs
    budgets = _settings("cardiac_mri_autoencoders")
    steps_per_epoch = math.ceil(CARDIAC_TRAIN / 32)

    def build(batch):
        encoder, decoder = cs.Encoder(latent_dim=4), cs.Decoder(latent_dim=4)
        cs._to_device(encoder, decoder, device)
        optimizer = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
        scaler = torch.amp.GradScaler(device.type, enabled=cs._half_dtype(device) == torch.float16)
        maps = torch.randint(0, 4, (batch, 256, 256), device=device)

        def step():  # cs.train's step
            with cs._autocast(device):
                loss = cs.ae_forward_pass(encoder, decoder, maps)[0]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return step

    return [Workload("AE/VAE training step, 256x256 (3 runs)", 32, build,
                     {b: 3 * s["EPOCHS"] * steps_per_epoch for b, s in budgets.items()})]


def captioning_workloads(device):
    import captioning_solution as cs
    budgets = _settings("rnn_image_captioning")

    def encode(batch):
        encoder = cs.CNNEncoder(pretrained=False).to(device).eval()
        images = torch.rand(batch, 3, 256, 256, device=device)

        def step():
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                encoder(cs.normalize_images(images))
        return step

    def train(batch):
        decoder = cs.RNNDecoder(256, 512, COCO_VOCABULARY, device).to(device)
        optimizer = torch.optim.Adam(decoder.parameters(), lr=4e-4)
        cuda = device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=cuda)
        features = torch.randn(batch, 2048, 1, 1, device=device)
        captions = torch.randint(4, COCO_VOCABULARY, (batch, cs.MAX_SEQ_LEN), device=device)
        captions[:, 0] = cs.START
        lengths = torch.full((batch,), cs.MAX_SEQ_LEN, device=device)
        loss_fn = nn.CrossEntropyLoss()

        def step():  # cs.train_decoder's step
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                loss, _ = cs.forward_pass(nn.Identity(), decoder, loss_fn, features, captions, lengths)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(decoder.parameters(), 5.0)
            scaler.step(optimizer)
            scaler.update()
        return step

    return [Workload("ResNet-50 encoding, 256x256 (once)", 64, encode,
                     {b: math.ceil((s["COCO_TRAIN_IMAGES"] + COCO_EVAL_IMAGES) / 64) for b, s in budgets.items()},
                     note="decoding the JPEGs on Colab's 2 CPU cores, not timed here, usually dominates"),
            Workload("LSTM decoder training step", 128, train,
                     {b: s["EPOCHS"] * math.ceil(s["COCO_TRAIN_IMAGES"] * COCO_CAPTIONS_PER_IMAGE / 128)
                      + math.ceil(300 * 16 / 128) for b, s in budgets.items()},
                     note="vocabulary of about 3,000 tokens assumed")]


def ddpm_workloads(device):
    import ddpm_solution as ddpm
    budgets = _settings("ddpm_svhn")
    unet = dict(dim=ddpm.image_size, channels=ddpm.input_channels, dim_mults=(1, 2, 4, 8))
    steps_per_epoch = SVHN_TRAIN // 64

    def train(batch):
        model = ddpm.prepare(ddpm.Unet(**unet))
        optimizer = torch.optim.Adam(model.parameters(), lr=ddpm.lr)
        scaler = ddpm.make_scaler()
        images = _images_u8(batch, device=ddpm.device)
        return lambda: ddpm.train_epoch(model, optimizer, images, batch, scaler, desc="benchmark")

    def sample(batch):
        model = ddpm.prepare(ddpm.Unet(**unet)).eval()
        x = torch.randn(batch, 3, 32, 32, device=ddpm.device)
        t = torch.full((batch,), 10, device=ddpm.device, dtype=torch.long)

        def step():
            with torch.no_grad(), ddpm.autocast():
                ddpm.p_sample(model, x, t, 10)
        return step

    def sampling_steps(s):  # model evaluations of 500 images each
        n = s["N_EVAL"]
        evaluations = (n * 1000                          # the final ancestral samples
                       + n * (500 + 1000 + 1500)         # the study of T: N_EVAL images per model
                       + 8 * 1000 * (s["EPOCHS"] // 5)   # 8 samples every 5 epochs
                       + n * 50 * 2                      # DDIM, and its comparison
                       + 64 * 1000 * 2)                  # t* and reconstructions (about)
        return math.ceil(evaluations / 500)

    return [Workload("U-Net training step (T = 1000, 500, 1500)", 64, train,
                     {b: (s["EPOCHS"] + 2 * s["OPTIONAL_EPOCHS"]) * steps_per_epoch for b, s in budgets.items()}),
            Workload("U-Net sampling step (500 images)", 500, sample,
                     {b: sampling_steps(s) for b, s in budgets.items()})]


def vae_workloads(device):
    import vae_solution as vs
    budgets = _settings("vae_svhn")
    steps_per_epoch = SVHN_TRAIN // 64

    def new_model():
        return vs.VAE(in_channels=3, input_size=32, z_dim=32, decoder_features=32, encoder_features=32,
                      device=device).to(device)

    def train(batch):
        model = new_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=vs.lr)
        dtype, scaler = vs.mixed_precision(device)
        images = _images_u8(batch, device=device)
        return lambda: vs.train_epoch(model, optimizer, images, batch, scaler, dtype, desc="benchmark")

    def likelihood(batch):
        model = new_model().eval()
        x = vs.to_model_range(_images_u8(batch, device=device))

        def step():
            with torch.no_grad():
                model(x)
        return step

    return [Workload("VAE training step", 64, train, {b: s["EPOCHS"] * steps_per_epoch for b, s in budgets.items()}),
            Workload("log-likelihood estimate, 1,000 samples", 1000, likelihood,
                     {b: math.ceil((s["LL_IMAGES"] or SVHN_TEST) * s["LL_K"] / 1000) for b, s in budgets.items()})]


def simsiam_workloads(device):
    import simsiam_solution as ss
    import simsiam_training as st

    from data.augment import Augment
    budgets = _settings("simsiam_cifar10")

    def train(batch):
        model = ss.SimSiam(st.resnet18_cifar, dim=2048, pred_dim=512).to(device)
        if device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        optimizer = st.make_optimizer(model, 0.06, st.PretrainConfig())
        scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
        images, augment = _images_u8(batch, device=device), Augment()
        generator = torch.Generator(device=device).manual_seed(0)

        def step():  # st.pretrain's step
            x1, x2 = (st._on_device(view) for view in augment.two_views(images, generator))
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                p1, p2, z1, z2 = model(x1, x2)
            loss = model.loss(p1.float(), p2.float(), z1.float(), z2.float())
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return step

    def embed(batch):
        encoder = st.resnet18_cifar(num_classes=2048).to(device)
        images = _images_u8(batch, device=device)
        return lambda: st.embed(encoder, images)

    runs_ = 5
    return [Workload("SimSiam training step, two views (5 runs)", 512, train,
                     {b: runs_ * s["EPOCHS"] * ((s["SUBSET"] or CIFAR_TRAIN) // 512) for b, s in budgets.items()}),
            Workload("kNN monitor and linear evaluation features (1,024 images)", 1024, embed,
                     {b: runs_ * (s["EPOCHS"] + 1) * math.ceil(((s["SUBSET"] or CIFAR_TRAIN) + CIFAR_TEST) / 1024)
                      for b, s in budgets.items()})]


BUILDERS = {"fashionmnist_trainer": trainer_workloads, "mnist_autoencoders": autoencoders_workloads,
            "cardiac_mri_autoencoders": cardiac_workloads, "rnn_image_captioning": captioning_workloads,
            "ddpm_svhn": ddpm_workloads, "vae_svhn": vae_workloads, "simsiam_cifar10": simsiam_workloads}


# -- measuring -------------------------------------------------------------------------------------

def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def count_flops(workload, batch, device):
    """FLOPs of one step at `batch`, scaled linearly to the workload's batch."""
    step = workload.make(batch)
    if device.type == "cuda":
        step()  # the first call builds lazily (cuDNN plans, optimizer state); the same FLOPs on the CPU
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() * workload.batch / batch


def time_steps(workload, device, steps, warmup):
    step = workload.make(workload.batch)
    for _ in range(warmup):
        step()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - started) / steps


def estimate_s(flops, gpu):
    return max(flops / (ASSUMED_TFLOPS[gpu] * 1e12), STEP_FLOOR_S[gpu])


def _minutes(seconds):
    minutes = seconds / 60
    if minutes >= 120:
        return f"{minutes / 60:.1f} h"
    return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min" if minutes >= 1 else "under a minute"


def times_paragraph(entry, device_name, timed):
    """The markdown paragraph of a notebook's first cell that states its times, both budgets."""
    estimated = entry["estimated_total_s"]
    lines = []
    for budget in ("statement", "colab"):
        parts = [f"{_minutes(estimated[gpu][budget])} on a{'n' if gpu[0] in 'AH' else ''} {gpu}" for gpu in estimated]
        if timed:
            parts.insert(0, f"**{_minutes(entry['measured_total_s'][budget])} measured on {device_name}**")
        lines.append(f'`BUDGET = "{budget}"`: ' + ", ".join(parts))
    flops = "; ".join(f"{label}: {value / 1e9:,.1f} GFLOP" for label, value in entry["flops_per_step"].items())
    return (TIMES_BEGIN + "\n**How long the full runs take** (`QUICK = False`; the networks' training and sampling "
            "steps, not the downloads or data loading). " + "; ".join(lines)
            + ". The T4, A100 and H100 times are *estimates*: "
            f"FLOPs per step counted by `benchmarks/gpu_fullmode.py` with torch.utils.flop_counter ({flops}), "
            "divided by an assumed sustained " + ", ".join(f"{v:g}" for v in ASSUMED_TFLOPS.values())
            + " TFLOP/s (T4, A100, H100), at least " + ", ".join(f"{1e3 * v:g}" for v in STEP_FLOOR_S.values())
            + " ms per step. Every training run is checkpointed in the runs folder (`solutions/runs.py`): "
            "after a disconnection, re-running the cells resumes it, and a finished run is loaded, not "
            "trained again.\n" + TIMES_END)


def write_notebooks(result):
    """Put (or replace) each notebook's times paragraph at the end of its first cell."""
    import nbformat
    for name, entry in result["notebooks"].items():
        path = KIT_ROOT / "notebooks" / f"{name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        cell = notebook.cells[0]
        text = cell.source
        if TIMES_BEGIN in text:
            text = text[:text.index(TIMES_BEGIN)].rstrip() + text[text.index(TIMES_END) + len(TIMES_END):]
        cell.source = text.rstrip() + "\n\n" + times_paragraph(entry, result["device"], result["timed"])
        nbformat.write(notebook, path)


TIMES_BEGIN, TIMES_END = "<!-- times: written by benchmarks/gpu_fullmode.py -->", "<!-- /times -->"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per workload (K)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--flop-batch", type=int, default=None,
                        help="batch on which FLOPs are counted (default: the real one on CUDA, 2 on CPU)")
    parser.add_argument("--time-on-cpu", action="store_true", help="also time the steps on a CPU (slow)")
    parser.add_argument("--only", nargs="*", choices=NOTEBOOKS, default=list(NOTEBOOKS))
    parser.add_argument("--out", default="gpu_fullmode")
    parser.add_argument("--write-notebooks", action="store_true",
                        help="state the times in the first cell of every notebook (all seven must be measured)")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    timing = device.type == "cuda" or args.time_on_cpu
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    started = time.perf_counter()
    result = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "steps": args.steps, "warmup": args.warmup, "timed": timing,
              "assumed_sustained_tflops": ASSUMED_TFLOPS, "step_floor_s": STEP_FLOOR_S,
              "estimate_basis": "per step: max(FLOPs / assumed sustained TFLOP/s, floor); summed over the steps "
                                "of each budget (runs.BUDGETS); data loading and evaluation not modelled",
              "notebooks": {}}
    for notebook in args.only:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        entry = {"budgets": _settings(notebook), "workloads": [], "total_s": {}}
        for workload in BUILDERS[notebook](device):
            flop_batch = args.flop_batch or (workload.batch if device.type == "cuda" else 2)
            flops = count_flops(workload, min(flop_batch, workload.batch), device)
            row = {"workload": workload.label, "batch": workload.batch, "flops_per_step": flops,
                   "flops_counted_on_batch": min(flop_batch, workload.batch), "steps": workload.steps}
            if workload.note:
                row["note"] = workload.note
            if timing:
                seconds = time_steps(workload, device, args.steps, args.warmup)
                row.update(step_s=seconds, images_per_s=workload.batch / seconds,
                           achieved_tflops=flops / seconds / 1e12,
                           measured_total_s={b: n * seconds for b, n in workload.steps.items()})
            row["estimated_total_s"] = {gpu: {b: n * estimate_s(flops, gpu) for b, n in workload.steps.items()}
                                        for gpu in ASSUMED_TFLOPS}
            entry["workloads"].append(row)
            print(f"{notebook}: {workload.label}: {flops / 1e9:.2f} GFLOP/step"
                  + (f", {row['step_s'] * 1e3:.2f} ms/step" if timing else ""), flush=True)
        entry["flops_per_step"] = {row["workload"]: row["flops_per_step"] for row in entry["workloads"]}
        entry["total_flops"] = {b: sum(row["flops_per_step"] * row["steps"][b] for row in entry["workloads"])
                                for b in ("statement", "colab")}
        entry["estimated_total_s"] = {gpu: {b: sum(row["estimated_total_s"][gpu][b] for row in entry["workloads"])
                                            for b in ("statement", "colab")} for gpu in ASSUMED_TFLOPS}
        if timing:
            entry["measured_total_s"] = {b: sum(row["measured_total_s"][b] for row in entry["workloads"])
                                         for b in ("statement", "colab")}
        if device.type == "cuda":
            entry["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        result["notebooks"][notebook] = entry
    result["wall_s"] = round(time.perf_counter() - started, 1)
    result["peak_host_memory_mb"] = peak_memory_mb()
    write_result(args.out, result)
    if args.write_notebooks:
        write_notebooks(result)


if __name__ == "__main__":
    main()
