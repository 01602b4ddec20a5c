"""Runs that survive a disconnected Colab session (given code: nothing to complete here).

A *run* is one training configuration ("ddpm_T500", "simsiam_no_stopgrad"...) with a folder of its
own in the runs folder. The training loops of the kit take an optional `run=` argument (a name or
a `Run`); with one, they

- save a checkpoint after every epoch, and every `save_every_s` seconds inside a long epoch: the
  model, optimizer, scheduler and gradient scaler, every random generator (Python's, NumPy's,
  torch's on the CPU and on CUDA, and any `torch.Generator` the loop uses) and the logged history;
- resume from it when the cell is re-run (the history then covers the whole run, so the figures
  show it all, and the result is the one an uninterrupted run gives);
- load a finished run instead of training it again.

Where runs go: `$KIT_RUNS` if set; else, when Google Drive is mounted (the set-up cell's
`USE_DRIVE = True`), `/content/drive/MyDrive/dl-course-kit-runs`; else `runs/` in the kit
(git-ignored). Datasets never go there (see `data.data_root`).

A checkpoint is written to a temporary file in the same folder, then renamed over the old one:
a session cut off while saving leaves the previous checkpoint intact.

Use in a loop of your own:

    run = Run("my_experiment")
    history = {"loss": []}
    for epoch in run.epochs(20, history, model=model, optimizer=optimizer):
        history["loss"].append(train_one_epoch(...))
    # here the model holds the final weights, whether they were trained now or loaded
"""
import hashlib
import os
import random
import re
import tempfile
import time
import weakref
from pathlib import Path
from typing import Dict, Iterator, Optional, Union

import numpy as np
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
DRIVE = Path("/content/drive/MyDrive")
DRIVE_RUNS = DRIVE / "dl-course-kit-runs"
SAVE_EVERY_S = 300.0  # inside an epoch: a checkpoint at most every 5 minutes


def runs_root() -> Path:
    """The runs folder: $KIT_RUNS, else a Drive folder when Drive is mounted, else <kit>/runs."""
    if os.environ.get("KIT_RUNS"):
        return Path(os.environ["KIT_RUNS"]).expanduser()
    if DRIVE.is_dir():
        return DRIVE_RUNS
    return KIT_ROOT / "runs"


def _rng_states() -> dict:
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def _state_of(thing):
    if isinstance(thing, torch.Generator):
        return thing.get_state()
    return thing.state_dict()


def _load_into(thing, state) -> None:
    if isinstance(thing, torch.Generator):
        thing.set_state(state)
    else:
        thing.load_state_dict(state)


class Run:
    """One training configuration's checkpoints, in `<runs folder>/<name>/checkpoint.pt`."""

    def __init__(self, name: str, root: Union[str, Path, None] = None, save_every_s: float = SAVE_EVERY_S,
                 code: Optional[str] = None):
        if not re.fullmatch(r"[A-Za-z0-9_.=,+-]+", name or ""):
            raise ValueError(f"run name {name!r}: use letters, digits and _ . = , + - only (it names a folder)")
        self.name = name
        self.folder = Path(root).expanduser() / name if root else runs_root() / name
        self.path = self.folder / "checkpoint.pt"
        self.save_every_s = save_every_s
        self.code = code        # a fingerprint of the code that trains (see `fingerprint`), or None
        self.steps = 0          # optimizer steps taken by this process (the loops count them)
        self.loaded = False     # True when the run was found finished and loaded, not trained
        self._objects: Dict[str, object] = {}
        self._history: Optional[dict] = None
        self._epoch = 0
        self._inner = None
        self._last_save = time.monotonic()

    def __repr__(self):
        return f"Run({self.name!r}, folder={str(self.folder)!r})"

    # -- the state on disk ----------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.path.exists()

    @property
    def finished(self) -> bool:
        return (self.folder / "finished").exists()

    def read(self) -> Optional[dict]:
        """The checkpoint as saved (None if there is none)."""
        if not self.path.exists():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=False)

    def save(self, inner=None, finished: bool = False) -> None:
        """Write the checkpoint now (through a temporary file and a rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {"name": self.name, "code": self.code, "epoch": self._epoch, "history": self._history, "inner": inner,
                 "finished": finished, "rng": _rng_states(),
                 "objects": {key: _state_of(thing) for key, thing in self._objects.items()}}
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        torch.save(state, temporary)
        os.replace(temporary, self.path)
        if finished:
            (self.folder / "finished").write_text(f"{self._epoch} epochs\n")
        self._last_save = time.monotonic()

    def restore(self) -> Optional[dict]:
        """Load the checkpoint into the objects and the history given to `epochs`, and the random
        generators; returns the checkpoint (None if there is none)."""
        state = self.read()
        if state is None:
            return None
        missing = set(self._objects) - set(state["objects"])
        if missing:
            raise RuntimeError(f"run {self.name!r} in {self.folder}: its checkpoint lacks {sorted(missing)}; "
                               "another configuration used this name? Choose another name, or delete the folder")
        for key, thing in self._objects.items():
            _load_into(thing, state["objects"][key])
        if self._history is not None and state["history"] is not None:
            self._history.clear()
            self._history.update(state["history"])
        _set_rng_states(state["rng"])
        return state

    # -- what a training loop calls -------------------------------------------------------------

    def epochs(self, n_epochs: int, history: Optional[dict] = None, **objects) -> Iterator[int]:
        """The epochs still to train, 0-based: range(n_epochs) for a new run, what is left of it
        after a checkpoint, nothing for a finished run (then loaded into `objects` and `history`).

        `objects` are what the checkpoint holds: modules, optimizers, schedulers, scalers (anything
        with state_dict / load_state_dict) and torch.Generators; `history` is the loop's log (a
        dict), filled in place. A checkpoint is saved after every epoch the loop completes.
        """
        self._objects = {key: thing for key, thing in objects.items() if thing is not None}
        self._history = history
        self._epoch, self._inner = 0, None
        state = self.restore()
        if state is not None:
            if self.code is not None and state.get("code") not in (None, self.code):
                print(f"run {self.name}: your code has changed since this run was saved; to train it again with "
                      f"the new code, delete {self.folder} (or give the run another name)")
            if state["finished"] and state["epoch"] >= n_epochs:
                self.loaded = True
                print(f"run {self.name}: finished ({state['epoch']} epochs), loaded from {self.folder} "
                      "(delete that folder to train it again)")
                return
            self._epoch, self._inner = state["epoch"], state["inner"]
            where = f", inside epoch {self._epoch + 1}" if self._inner is not None else ""
            print(f"run {self.name}: resuming after epoch {self._epoch}{where} (from {self.folder})")
        self._last_save = time.monotonic()
        for epoch in range(self._epoch, n_epochs):
            yield epoch
            self._epoch, self._inner = epoch + 1, None
            self.save(finished=epoch + 1 == n_epochs)

    def take_inner(self):
        """The saved state of an interrupted epoch (the loop's own: order, step, sums), once; None
        when the epoch starts afresh."""
        inner, self._inner = self._inner, None
        return inner

    def step(self, inner_state=None) -> None:
        """Count one optimizer step; inside a long epoch, checkpoint when `save_every_s` seconds
        have passed. `inner_state` is a callable returning what `take_inner` will give back
        (called only when saving, so it may copy tensors)."""
        self.steps += 1
        if inner_state is not None and time.monotonic() - self._last_save >= self.save_every_s:
            self.save(inner=inner_state())


def as_run(run: Union[None, str, Run]) -> Optional[Run]:
    """None stays None, a name becomes a `Run` in the runs folder, a `Run` is itself."""
    if run is None or isinstance(run, Run):
        return run
    return Run(str(run))


def epochs_to_train(run, n_epochs: int, history: dict, **objects):
    """(epochs to train, run) for a given training loop: `range(n_epochs)` and None without a run;
    with one (a name or a `Run`) the epochs left, checkpointed after each, resumed or loaded when
    the cell runs again. `objects` are what a checkpoint saves (model=..., optimizer=...)."""
    if run is None:
        return range(n_epochs), None
    run = as_run(run)
    return run.epochs(n_epochs, history, **objects), run


def artifact_path(name: str) -> Path:
    """Where a file shared between notebooks lives: `<runs folder>/artifacts/<name>`."""
    return runs_root() / "artifacts" / name


# Files one notebook writes for another: which notebook and cell make them.
PRODUCERS = {
    "vae_final_samples.pt": ("notebooks/vae_svhn.ipynb", "the cell of Figure 4 (64 samples after the last epoch)"),
    "ddpm_final_samples.pt": ("notebooks/ddpm_svhn.ipynb", "the cell of the ancestral sampler's final samples"),
}


def load_artifact(name: str):
    """A file another notebook saved in the runs folder (torch.load); if it is missing, a
    FileNotFoundError that says which notebook and which cell write it."""
    path = artifact_path(name)
    if not path.exists():
        notebook, cell = PRODUCERS.get(name, ("the notebook that writes it", "its cell"))
        raise FileNotFoundError(
            f"{path} does not exist. It is written by {notebook}, {cell}, in full mode (QUICK = False), "
            f"into the same runs folder ({runs_root()}; on Colab use USE_DRIVE = True in both notebooks so "
            "that they share it, or set $KIT_RUNS). Run that notebook, then this cell again.")
    return torch.load(path, map_location="cpu", weights_only=False)


def save_artifact(name: str, value) -> Path:
    """Save `value` for another notebook (atomically), in `<runs folder>/artifacts/<name>`."""
    path = artifact_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{name}.{os.getpid()}.tmp")
    torch.save(value, temporary)
    os.replace(temporary, path)
    return path


_COMPILED = weakref.WeakKeyDictionary()


def compile_enabled() -> bool:
    """torch.compile is opt-in: set $KIT_COMPILE=1 (os.environ["KIT_COMPILE"] = "1" in a notebook).
    It pays on a GPU for long runs (the first steps compile, for a minute or so); on the CPU and for
    short runs it costs more than it saves."""
    return os.environ.get("KIT_COMPILE", "").lower() in ("1", "true", "yes")


def compiled(module):
    """`module` itself, or with $KIT_COMPILE=1 its torch.compile'd version (made once per module;
    it shares the module's parameters, so checkpoints keep saving `module`)."""
    if not compile_enabled():
        return module
    if module not in _COMPILED:
        _COMPILED[module] = torch.compile(module)
    return _COMPILED[module]


# -- budgets ---------------------------------------------------------------------------------------
# Each notebook's settings cell has BUDGET = "statement" (the statement's hyperparameters) or
# "colab" (that notebook's full mode in about an hour on a free Colab T4, every figure still drawn:
# fewer epochs or a subset, said in the figure titles). The settings per budget live here, once;
# benchmarks/gpu_fullmode.py extrapolates the time of both from them.
BUDGETS = {
    "fashionmnist_trainer": {"statement": {"EPOCHS": 50}, "colab": {"EPOCHS": 50}},
    "mnist_autoencoders": {"statement": {"EPOCHS": 20}, "colab": {"EPOCHS": 20}},
    "cardiac_mri_autoencoders": {"statement": {"EPOCHS": 40}, "colab": {"EPOCHS": 40}},
    "rnn_image_captioning": {"statement": {"EPOCHS": 10, "COCO_TRAIN_IMAGES": 10_000},
                             "colab": {"EPOCHS": 10, "COCO_TRAIN_IMAGES": 10_000}},
    "ddpm_svhn": {"statement": {"EPOCHS": 30, "OPTIONAL_EPOCHS": 10, "N_EVAL": 1000},
                  "colab": {"EPOCHS": 15, "OPTIONAL_EPOCHS": 5, "N_EVAL": 500}},
    "vae_svhn": {"statement": {"EPOCHS": 30, "LL_IMAGES": None, "LL_K": 100},
                 "colab": {"EPOCHS": 30, "LL_IMAGES": 5000, "LL_K": 100}},
    "simsiam_cifar10": {"statement": {"EPOCHS": 100, "SUBSET": None, "LINEAR_EPOCHS": 100},
                        "colab": {"EPOCHS": 10, "SUBSET": None, "LINEAR_EPOCHS": 30}},
}


def budget(notebook: str, name: str = "statement") -> dict:
    """The settings of `notebook` (its file name without .ipynb) under budget `name`."""
    if name not in ("statement", "colab"):
        raise ValueError(f'BUDGET = {name!r}: use "statement" or "colab"')
    return dict(BUDGETS[notebook][name])


class NotebookRuns:
    """The runs of one notebook: `runs = NotebookRuns("ddpm_svhn", BUDGET, QUICK)`, then
    `runs("T500")` is the Run "ddpm_svhn.statement.T500" (or ".colab.", or ".quick."), so that
    each budget and each configuration keeps its own checkpoints. In quick mode the runs go to a
    new temporary folder (every execution trains afresh) unless $KIT_RUNS is set."""

    def __init__(self, notebook: str, budget_name: str, quick: bool = False, code=()):
        self.prefix = f"{notebook}.{'quick' if quick else budget_name}"
        self.code = fingerprint(*code) if code else None
        self.root = None
        if quick and not os.environ.get("KIT_RUNS"):
            self.root = Path(tempfile.mkdtemp(prefix="kit-quick-runs-"))

    def __call__(self, name: str, **options) -> Run:
        options.setdefault("code", self.code)
        return Run(f"{self.prefix}.{re.sub(r'[^A-Za-z0-9_.=,+-]+', '_', name)}", root=self.root, **options)


def cached(run: Run, key: str, compute):
    """`compute()`'s value, computed once per run: kept in the run's folder as `<key>.pt` (samples
    drawn from a finished model, a measure), so that re-running the cell loads it."""
    path = run.folder / f"{key}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=False)
    value = compute()
    run.folder.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(value, temporary)
    os.replace(temporary, path)
    return value


def fingerprint(*things) -> str:
    """A short hash of files (paths) and functions (their bytecode and constants): what a run or a
    cached result depends on, so that a change of code can be noticed."""
    digest = hashlib.sha1()
    for thing in things:
        if callable(thing) and hasattr(thing, "__code__"):
            digest.update(thing.__code__.co_code + repr(thing.__code__.co_consts).encode())
        else:
            digest.update(Path(thing).read_bytes())
    return digest.hexdigest()[:10]
