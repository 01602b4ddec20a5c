"""Datasets for the kit: where they are kept, how to get them, and offline fixtures.

Every loader goes through torchvision's own dataset classes with `download=True`, into one cache
folder that git ignores: `data/cache/` in the kit, or the folder named by the environment
variable KIT_DATA_ROOT, or the `root` argument of each function. Fixtures write small datasets
in the exact on-disk format the real loaders read, so tests and quick mode run the real loading
code without a network.
"""
import os
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = KIT_ROOT / "data" / "cache"


class DatasetUnavailable(RuntimeError):
    """A dataset is not on disk and could not be downloaded. The message says what to do."""


def data_root(root=None) -> Path:
    """The dataset folder: `root` if given, else $KIT_DATA_ROOT, else data/cache in the kit."""
    chosen = Path(root or os.environ.get("KIT_DATA_ROOT") or DEFAULT_ROOT).expanduser()
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen
