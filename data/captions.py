"""Image captions: COCO (the default) and Flickr8k, read by torchvision's own classes.

COCO captions (`coco_captions`), in ROOT/coco/, read by `torchvision.datasets.CocoCaptions`:

    annotations/captions_{train,val}2017.json   the official captions (from annotations_trainval2017.zip)
    annotations/kit_{train,val,test}.json       the kit's splits, in the same COCO format
    kit_subset.json                             how the splits were made
    train2017/, val2017/                        the images

The whole of COCO (118,287 training images, 19 GB) does not fit a Colab session, so the kit uses a
documented subset: all 5,000 images of val2017 (one 778 MB archive), split in two halves by image id
into `val` (2,500) and `test` (2,500), and for `train` the first `n_train_images` images of train2017
in a fixed random order (seed 0), downloaded one by one (default 10,000: about 1.6 GB, 50,000
captions; a larger subset extends a smaller one). With the annotations (241 MB archive) that is
about 2.6 GB to download and 2.5 GB of disk, ten minutes or so on Colab.

A copy imported with `python -m data import coco_captions FOLDER` (any part of train2017) is used as
it is, whatever `n_train_images` asks for: a smaller request takes the first present images in the
kit's order, a larger one says in one line how many there are and goes on with those. Nothing is
downloaded over an import unless `download=True` asks for the missing images; the manifest's
`source` keeps saying where the splits came from (and `train_images_downloaded` how many images the
kit fetched on top of an import).

Flickr8k (`flickr8k`), in ROOT/flickr8k/: `Flickr8k.token.txt` ("image.jpg#k<TAB>caption"), the
official split lists `Flickr_8k.{train,dev,test}Images.txt` (6,000 / 1,000 / 1,000 images) and the
images in `Flicker8k_Dataset/` (the archive's spelling). torchvision's `Flickr8k` class parses an
HTML page that is no longer distributed; its `Flickr30k` class reads this very token format, so the
kit uses it, restricted to a split.

Offline, `write_fixture` writes either dataset in its real format with generated images: coloured
shapes on a plain background, five captions each ("two red circles on a blue background ."), so
the real loading code runs and a decoder can learn something in a few steps.
"""
import contextlib
import io
import json
import shutil
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.datasets.utils import download_and_extract_archive, download_url
from tqdm.auto import tqdm

from data import DatasetUnavailable, data_root

DATASETS = ("coco_captions", "flickr8k")
SPLITS = ("train", "val", "test")
COCO_TRAIN_IMAGES = 10_000
COCO_ANNOTATIONS_URL = "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"
COCO_VAL_URL = "http://images.cocodataset.org/zips/val2017.zip"
FLICKR8K_URLS = ("https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_Dataset.zip",
                 "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/Flickr8k_text.zip")
FLICKR8K_SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt",
                        "test": "Flickr_8k.testImages.txt"}
FLICKR8K_IMAGES = "Flicker8k_Dataset"
WEB = "cocodataset.org"  # the manifest's source of a subset the kit downloaded itself
HOW_TO_GET = {
    "coco_captions": "run `python -m data fetch coco_captions` with internet access, or put annotations/"
                     "captions_train2017.json, captions_val2017.json, val2017/ and train2017/ (any subset) of "
                     "https://cocodataset.org in a folder and run `python -m data import coco_captions FOLDER`",
    "flickr8k": "get Flickr8k_Dataset.zip and Flickr8k_text.zip (https://github.com/jbrownlee/Datasets/releases), "
                "unzip both into a folder and run `python -m data import flickr8k FOLDER`",
}


def folder(name: str, root=None) -> Path:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; use one of {DATASETS}")
    return data_root(root) / ("coco" if name == "coco_captions" else "flickr8k")


def _reason(error: BaseException) -> str:
    """An exception as a short phrase (its last line), for one-line messages."""
    return str(error).strip().splitlines()[-1][:160] if str(error).strip() else type(error).__name__


def _unavailable(name: str, where: Path, error: BaseException) -> DatasetUnavailable:
    return DatasetUnavailable(f"{name} is not in {where} and could not be downloaded ({_reason(error)}). "
                              f"To get it: {HOW_TO_GET[name]}")


# -- COCO ------------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def _coco_subset(official: dict, image_ids) -> dict:
    """The official annotation file restricted to `image_ids` (same format, same order as given)."""
    keep = set(image_ids)
    images = {image["id"]: image for image in official["images"] if image["id"] in keep}
    return {"info": official.get("info", {}), "licenses": official.get("licenses", []),
            "images": [images[i] for i in image_ids if i in images],
            "annotations": [a for a in official["annotations"] if a["image_id"] in keep]}


def train_order(official_train: dict) -> list:
    """The fixed order in which the kit takes train2017 images: a seeded permutation of the ids."""
    ids = sorted(image["id"] for image in official_train["images"])
    return [ids[i] for i in np.random.default_rng(0).permutation(len(ids))]


def _fetch(url: str, path: Path, attempts: int = 3) -> None:
    """Download one file; a partial download never takes the final name."""
    partial = path.with_name(path.name + ".part")
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
                shutil.copyfileobj(response, out)
            partial.replace(path)
            return
        except OSError:
            if attempt == attempts - 1:
                raise


def _download_images(images: list, target: Path, workers: int = 16) -> int:
    """Fetch the images (COCO annotation records) missing from `target`, several at a time; return
    how many were fetched."""
    target.mkdir(parents=True, exist_ok=True)
    missing = [image for image in images if not (target / image["file_name"]).is_file()]
    if not missing:
        return 0
    with ThreadPoolExecutor(workers) as pool:  # small files: the wait is the network's, not the CPU's
        jobs = pool.map(lambda image: _fetch(image["coco_url"], target / image["file_name"]), missing)
        for _ in tqdm(jobs, total=len(missing), desc=f"downloading {len(missing)} images into {target.name}"):
            pass
    return len(missing)


def _missing_images(official: dict, images: Path) -> bool:
    return not images.is_dir() or any(not (images / image["file_name"]).is_file() for image in official["images"])


def _write_coco_splits(where: Path, n_train: int, available_only: bool, source: str, downloaded: int = 0) -> None:
    """The kit's three annotation files and the manifest, from the official annotation files.

    available_only: take the train2017 images present (an import); else download the first
    `n_train` of the kit's order that are missing. `downloaded`: images the kit fetched before on
    top of a local copy (kept in the manifest with those fetched now)."""
    annotations = where / "annotations"
    official_val = _read_json(annotations / "captions_val2017.json")
    val_ids = sorted(image["id"] for image in official_val["images"])
    half = len(val_ids) // 2
    official_train = _read_json(annotations / "captions_train2017.json")
    order = train_order(official_train)
    if available_only:
        names = {image["id"]: image["file_name"] for image in official_train["images"]}
        order = [i for i in order if (where / "train2017" / names[i]).is_file()]
    else:
        downloaded += _download_images(_coco_subset(official_train, order[:n_train])["images"], where / "train2017")
    for split, official, ids in (("train", official_train, order[:n_train]), ("val", official_val, val_ids[:half]),
                                 ("test", official_val, val_ids[half:])):
        (annotations / f"kit_{split}.json").write_text(json.dumps(_coco_subset(official, ids)))
    manifest = {"train_images": min(n_train, len(order)), "val_images": half, "test_images": len(val_ids) - half,
                "source": source}
    if available_only:
        manifest["train_images_present"] = len(order)  # lets a later, larger request skip a rebuild
    if downloaded and source != WEB:
        manifest["train_images_downloaded"] = downloaded
    (where / "kit_subset.json").write_text(json.dumps(manifest, indent=1))


def coco_manifest(root=None) -> dict:
    """How the kit's COCO splits in `root` were made ({} if there are none): the split sizes and
    `source`, "cocodataset.org" (downloaded by the kit), "imported from FOLDER" or "fixture"."""
    path = folder("coco_captions", root) / "kit_subset.json"
    return _read_json(path) if path.is_file() else {}


def _ensure_coco(root, n_train_images, download: bool = False) -> Path:
    where = folder("coco_captions", root)
    manifest = coco_manifest(root)
    if manifest and n_train_images in (None, manifest["train_images"]):
        return where.parent
    if manifest and manifest["source"] != WEB and not download:
        _use_local_coco(where, manifest, n_train_images)
        return where.parent
    n_train = n_train_images or COCO_TRAIN_IMAGES
    try:
        annotations = where / "annotations"
        if not (annotations / "captions_train2017.json").is_file():
            _download_caption_annotations(where)
        if _missing_images(_read_json(annotations / "captions_val2017.json"), where / "val2017"):
            download_and_extract_archive(COCO_VAL_URL, str(where), remove_finished=True)
        _write_coco_splits(where, n_train, available_only=False, source=manifest.get("source", WEB),
                           downloaded=manifest.get("train_images_downloaded", 0))
    except (RuntimeError, urllib.error.URLError, OSError) as error:
        if manifest:  # the data is there: say so rather than "not in"
            instead = "n_train_images=None" if manifest["source"] == WEB else "no download=True"
            raise DatasetUnavailable(f"the train2017 images missing from {where} could not be downloaded "
                                     f"({_reason(error)}); ask with {instead} to use the "
                                     f"{manifest['train_images']:,} already there") from None
        raise _unavailable("coco_captions", where, error) from None
    return where.parent


_TOLD = set()  # (folder, asked, present) already reported: one line per process, not one per split


def _use_local_coco(where: Path, manifest: dict, asked: int) -> None:
    """Fit the splits of a local copy to `asked` train2017 images without the network: the first
    present ones in the kit's order; fewer than asked are reported in one line."""
    kept, present = manifest["train_images"], manifest.get("train_images_present")
    official = where / "annotations" / "captions_train2017.json"
    if official.is_file() and (present is None or min(asked, present) != kept):
        _write_coco_splits(where, asked, available_only=True, source=manifest["source"],
                           downloaded=manifest.get("train_images_downloaded", 0))
        kept = _read_json(where / "kit_subset.json")["train_images"]
    if kept < asked and (str(where), asked, kept) not in _TOLD:
        _TOLD.add((str(where), asked, kept))
        print(f"coco_captions: {asked:,} train2017 images asked for but only {kept:,} are in {where / 'train2017'} "
              f"({manifest['source']}); going on with those {kept:,} (download=True fetches the rest)")


def _download_caption_annotations(where: Path) -> None:
    """Download the 2017 annotation archive and keep only the two caption files."""
    download_url(COCO_ANNOTATIONS_URL, str(where))
    archive = where / Path(COCO_ANNOTATIONS_URL).name
    with zipfile.ZipFile(archive) as zipped:
        for member in ("annotations/captions_train2017.json", "annotations/captions_val2017.json"):
            zipped.extract(member, where)
    archive.unlink()


# -- Flickr8k --------------------------------------------------------------------------------------

class Flickr8k(torchvision.datasets.Flickr30k):
    """Flickr8k's token file read by torchvision's `Flickr30k` class (same format), restricted to
    the images of one official split. Items: (image, list of its 5 captions)."""

    def __init__(self, root, split: str = "train", transform=None):
        where = Path(root)
        super().__init__(str(where / FLICKR8K_IMAGES), str(where / "Flickr8k.token.txt"), transform=transform)
        keep = set(split_images(where, split))
        self.ids = [image for image in self.ids if image in keep]


def split_images(where: Path, split: str) -> list:
    return (Path(where) / FLICKR8K_SPLIT_FILES[split]).read_text().split()


def flickr8k_captions(where, split: str) -> dict:
    """{image file name: its captions} of a Flickr8k split, from the text files alone (no images)."""
    where = Path(where)
    keep = set(split_images(where, split))
    captions = {}
    for line in (where / "Flickr8k.token.txt").read_text().splitlines():
        image, _, caption = line.partition("\t")
        image = image.rsplit("#", 1)[0]
        if image in keep:
            captions.setdefault(image, []).append(caption.strip())
    return captions


def _flickr8k_image_folder(source: Path):
    """The image folder of an unpacked Flickr8k, under the names its copies use."""
    return next((source / d for d in (FLICKR8K_IMAGES, "Flickr8k_Dataset", "Images") if (source / d).is_dir()), None)


def _ensure_flickr8k(root) -> Path:
    where = folder("flickr8k", root)
    if (where / "Flickr8k.token.txt").is_file() and (where / FLICKR8K_IMAGES).is_dir():
        return where.parent
    try:
        for url in FLICKR8K_URLS:
            download_and_extract_archive(url, str(where), remove_finished=True)
        images = _flickr8k_image_folder(where)
        if images is None or not (where / "Flickr8k.token.txt").is_file():
            raise RuntimeError("the archives did not hold Flickr8k.token.txt and an image folder")
        if images.name != FLICKR8K_IMAGES:
            images.rename(where / FLICKR8K_IMAGES)
    except (RuntimeError, urllib.error.URLError, OSError) as error:
        raise _unavailable("flickr8k", where, error) from None
    return where.parent


# -- the interface every data module has -------------------------------------------------------------

def ensure(name: str, root=None, n_train_images: int = None, download: bool = False) -> Path:
    """Make sure `name` is on disk, downloading it if needed; return the data root.

    For COCO, `n_train_images` is the size of the train2017 slice (None: keep the subset already
    there, else COCO_TRAIN_IMAGES). An imported copy is used as it is, at most `n_train_images` of
    its images, unless `download=True` asks to fetch the images it lacks; with no copy at all, the
    subset is downloaded. Raises DatasetUnavailable (one line) when it cannot be had.
    """
    return _ensure_coco(root, n_train_images, download) if name == "coco_captions" else _ensure_flickr8k(root)


def load(name: str, split: str, root=None, transform=None, n_train_images: int = None, download: bool = False):
    """A split as a torchvision dataset of (image, list of captions) pairs; `transform` applies to
    the PIL image (see `image_transform`). `n_train_images` and `download`: see `ensure`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    root = ensure(name, root, n_train_images, download)
    where = folder(name, root)
    if name == "flickr8k":
        return Flickr8k(where, split, transform=transform)
    images = where / ("train2017" if split == "train" else "val2017")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        return torchvision.datasets.CocoCaptions(str(images), str(where / "annotations" / f"kit_{split}.json"),
                                                 transform=transform)


def captions_of(dataset) -> list:
    """The captions of every image of a dataset from `load`, in its order, without reading any image."""
    if isinstance(dataset, torchvision.datasets.CocoCaptions):
        return [[annotation["caption"] for annotation in dataset.coco.imgToAnns[i]] for i in dataset.ids]
    return [dataset.annotations[i] for i in dataset.ids]


def _rgb(image):
    """COCO holds greyscale (mode L) and a few CMYK JPEGs; the encoder takes 3 channels."""
    return image if image.mode == "RGB" else image.convert("RGB")


def image_transform(size: int = 256):
    """PIL image of any mode -> uint8 tensor (3, size, size): what the captioning notebook feeds its
    encoder."""
    from torchvision import transforms
    # a module-level function, not a lambda: DataLoader workers receive the transform pickled
    return transforms.Compose([transforms.Lambda(_rgb), transforms.Resize((size, size), antialias=True),
                               transforms.PILToTensor()])


def import_files(name: str, source, root=None) -> Path:
    """Copy a local copy of the dataset into the cache (see HOW_TO_GET for what it must hold).

    COCO: the kit's train split is made of the train2017 images present, in the kit's order.
    """
    source, where = Path(source), folder(name, root)
    if name == "flickr8k":
        needed = ["Flickr8k.token.txt", *FLICKR8K_SPLIT_FILES.values()]
        images = _flickr8k_image_folder(source)
        if images is None or not all((source / f).is_file() for f in needed):
            raise DatasetUnavailable(f"{source} lacks {', '.join(needed)} or the image folder. To get it: "
                                     f"{HOW_TO_GET[name]}")
        where.mkdir(parents=True, exist_ok=True)
        for file in needed:
            shutil.copyfile(source / file, where / file)
        shutil.copytree(images, where / FLICKR8K_IMAGES, dirs_exist_ok=True)
        return where.parent
    needed = [source / "annotations" / f"captions_{split}2017.json" for split in ("train", "val")]
    if not all(path.is_file() for path in needed) or not (source / "val2017").is_dir():
        raise DatasetUnavailable(f"{source} lacks annotations/captions_train2017.json, captions_val2017.json or "
                                 f"val2017/. To get it: {HOW_TO_GET[name]}")
    (where / "annotations").mkdir(parents=True, exist_ok=True)
    for path in needed:
        shutil.copyfile(path, where / "annotations" / path.name)
    for images in ("val2017", "train2017"):
        if (source / images).is_dir():
            shutil.copytree(source / images, where / images, dirs_exist_ok=True)
    _write_coco_splits(where, n_train=len(list((where / "train2017").glob("*.jpg"))), available_only=True,
                       source=f"imported from {source}")
    return where.parent


# -- fixtures --------------------------------------------------------------------------------------

COLOURS = {"red": (215, 40, 40), "green": (40, 170, 60), "blue": (45, 75, 215), "yellow": (235, 205, 35)}
BACKGROUNDS = {"white": (235, 235, 235), "black": (25, 25, 25), "grey": (128, 128, 128)}
SHAPES = ("circle", "square")
COUNT_WORDS = ("one", "two", "three")
TEMPLATES = ("{a_count} {colour} {shapes} on a {background} background .",
             "a picture of {count} {colour} {shapes} .",
             "there {are} {count} {colour} {shapes} in the image .",
             "{count} {shapes} , all {colour} , on {background} .",
             "a {background} background with {a_count} {colour} {shapes} .")


def _draw(size: int, shape: str, colour, background, count: int, rng) -> np.ndarray:
    image = np.empty((size, size, 3), np.float64)
    image[:] = background
    rows, cols = np.mgrid[0:size, 0:size]
    radius = size / 9
    cells = rng.permutation(9)[:count]  # one shape per cell of a 3x3 grid: they never overlap
    for cell in cells:
        centre = (np.array(divmod(cell, 3)) + 0.5) * size / 3 + rng.uniform(-size / 20, size / 20, 2)
        if shape == "circle":
            inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius ** 2
        else:
            inside = (np.abs(rows - centre[0]) <= radius * 0.9) & (np.abs(cols - centre[1]) <= radius * 0.9)
        image[inside] = colour
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def synthetic_scenes(n: int, seed: int = 0, size: int = 64):
    """`n` images (uint8 (n, size, size, 3)) of one to three shapes of one colour on a plain
    background, and for each its five captions (lists of str), every attribute in the words."""
    rng = np.random.default_rng(seed)
    images, captions = [], []
    for _ in range(n):
        colour, background = rng.choice(list(COLOURS)), rng.choice(list(BACKGROUNDS))
        shape, count = rng.choice(SHAPES), int(rng.integers(1, 4))
        images.append(_draw(size, shape, COLOURS[colour], BACKGROUNDS[background], count, rng))
        words = {"colour": colour, "background": background, "count": COUNT_WORDS[count - 1],
                 "a_count": "a" if count == 1 else COUNT_WORDS[count - 1],
                 "shapes": shape + ("s" if count > 1 else ""), "are": "is" if count == 1 else "are"}
        captions.append([template.format(**words) for template in TEMPLATES])
    return np.stack(images), captions


def _save_images(images, target: Path, names, greyscale=()) -> None:
    """JPEG files of uint8 (N, H, W, 3) images; those named in `greyscale` are saved in mode L
    (one channel), as some of COCO's photographs are."""
    from PIL import Image
    target.mkdir(parents=True, exist_ok=True)
    for image, file_name in zip(images, names):
        picture = Image.fromarray(image)
        (picture.convert("L") if file_name in greyscale else picture).save(target / file_name, quality=95)


def write_fixture(name: str, root, n_train: int = 60, n_val: int = 12, n_test: int = 24, seed: int = 0,
                  size: int = 64) -> Path:
    """Write a small synthetic `name` in its real on-disk format under `root`; return `root`.

    COCO: the three kit annotation files (COCO format) with images in train2017/ and val2017/, and
    the manifest, so `ensure` finds the subset and nothing is downloaded; the last training image
    is a greyscale JPEG, as some of COCO's are (its captions still name the colour it was drawn
    in). Flickr8k: the token file, the three split lists and the JPEG images.
    """
    root = Path(root)
    where = folder(name, root)
    counts = {"train": n_train, "val": n_val, "test": n_test}
    next_id = 1
    token_lines = []
    for index, split in enumerate(SPLITS):
        images, captions = synthetic_scenes(counts[split], seed + index, size)
        ids = list(range(next_id, next_id + len(images)))
        next_id += len(images)
        if name == "coco_captions":
            directory = "train2017" if split == "train" else "val2017"
            names = [f"{i:012d}.jpg" for i in ids]
            _save_images(images, where / directory, names, greyscale=names[-1:] if split == "train" else ())
            annotation = {"info": {"description": "kit fixture: synthetic shapes"}, "licenses": [],
                          "images": [{"id": i, "file_name": f, "width": size, "height": size,
                                      "coco_url": (where / directory / f).resolve().as_uri()}
                                     for i, f in zip(ids, names)],
                          "annotations": [{"id": 10 * i + k, "image_id": i, "caption": caption}
                                          for i, texts in zip(ids, captions) for k, caption in enumerate(texts)]}
            (where / "annotations").mkdir(parents=True, exist_ok=True)
            (where / "annotations" / f"kit_{split}.json").write_text(json.dumps(annotation))
        else:
            names = [f"{i:06d}_fixture.jpg" for i in ids]
            _save_images(images, where / FLICKR8K_IMAGES, names)
            (where / FLICKR8K_SPLIT_FILES[split]).write_text("".join(f"{f}\n" for f in names))
            token_lines += [f"{f}#{k}\t{caption}" for f, texts in zip(names, captions)
                            for k, caption in enumerate(texts)]
    if name == "coco_captions":
        manifest = {"train_images": n_train, "val_images": n_val, "test_images": n_test, "source": "fixture"}
        (where / "kit_subset.json").write_text(json.dumps(manifest, indent=1))
    else:
        (where / "Flickr8k.token.txt").write_text("\n".join(token_lines) + "\n")
    return root


def load_images(dataset, limit: int = None) -> torch.Tensor:
    """The first `limit` images of a dataset built with `image_transform`, stacked (N, 3, S, S)."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    return torch.stack([dataset[i][0] for i in range(count)])
