"""Datasets for the kit: where they are kept, how to get them, and offline fixtures.

Every loader goes through torchvision's own dataset classes with `download=True`, into one cache
folder on local disk: the `root` argument of each function, else the folder named by the
environment variable KIT_DATA_ROOT, else `/content/data` on Colab, else `data/cache/` in the kit
(git-ignored). On Colab the default is outside the kit on purpose: with USE_DRIVE the kit lives on
Google Drive, and datasets there would be slow to read (Drive's FUSE mount) and fill a free Drive;
only runs and artifacts go to Drive (solutions/runs.py). Fixtures write small datasets
in the exact on-disk format the real loaders read, so tests and quick mode run the real loading
code without a network.
"""
import os
import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = KIT_ROOT / "data" / "cache"
COLAB_ROOT = Path("/content/data")  # the Colab runtime's local disk, never Drive


class DatasetUnavailable(RuntimeError):
    """A dataset is not on disk and could not be downloaded. The message says what to do."""


def on_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def default_root() -> Path:
    """Where datasets go when neither `root` nor $KIT_DATA_ROOT says: local disk, never Drive."""
    return COLAB_ROOT if on_colab() else DEFAULT_ROOT


def data_root(root=None) -> Path:
    """The dataset folder: `root` if given, else $KIT_DATA_ROOT, else /content/data on Colab,
    else data/cache in the kit."""
    chosen = Path(root or os.environ.get("KIT_DATA_ROOT") or default_root()).expanduser()
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen
