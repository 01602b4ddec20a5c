"""Caption datasets: fixtures in the real formats, read by torchvision's own classes; the subset
manifest; local imports; one line when a dataset is missing and the network is off."""
import json
import shutil

import pytest
import torch
import torchvision

from data import DatasetUnavailable, captions


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("captions")
    for name in captions.DATASETS:
        captions.write_fixture(name, root, n_train=12, n_val=4, n_test=6)
    return root


def test_the_coco_fixture_is_read_by_torchvision_cococaptions(fixture_root):
    where = fixture_root / "coco"
    dataset = torchvision.datasets.CocoCaptions(str(where / "train2017"), str(where / "annotations" / "kit_train.json"))
    assert len(dataset) == 12
    image, texts = dataset[0]
    assert image.size == (64, 64) and image.mode == "RGB"
    assert len(texts) == 5 and all(isinstance(text, str) for text in texts)
    colour = next(word for word in captions.COLOURS if word in texts[0])
    assert all(colour in text for text in texts)  # the five captions describe the same scene


def test_load_uses_the_fixture_without_downloading(fixture_root, offline):
    for name in captions.DATASETS:
        sizes = {split: len(captions.load(name, split, fixture_root)) for split in captions.SPLITS}
        assert sizes == {"train": 12, "val": 4, "test": 6}, name
    images = captions.load_images(captions.load("coco_captions", "val", fixture_root,
                                                transform=captions.image_transform(32)))
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.uint8
    assert captions.coco_manifest(fixture_root)["source"] == "fixture"


def test_the_flickr8k_fixture_and_the_text_only_reader_agree(fixture_root):
    dataset = captions.Flickr8k(fixture_root / "flickr8k", "test")
    assert isinstance(dataset, torchvision.datasets.Flickr30k) and len(dataset) == 6
    text_only = captions.flickr8k_captions(fixture_root / "flickr8k", "test")
    assert len(text_only) == 6
    first_image = sorted(text_only)[0]
    assert dataset[0][1] == text_only[first_image]


def test_the_scenes_are_described_by_their_captions():
    images, texts = captions.synthetic_scenes(30, seed=3, size=48)
    assert images.shape == (30, 48, 48, 3) and images.dtype.name == "uint8"
    for image, scene in zip(images, texts):
        colour = next(c for c in captions.COLOURS if c in scene[0])
        background = next(b for b in captions.BACKGROUNDS if b in scene[0])
        assert all(background in text for text in scene if "picture" not in text and "there" not in text)
        pixels = image.reshape(-1, 3).astype(int)
        distance = abs(pixels - captions.COLOURS[colour]).sum(axis=1)
        assert (distance < 60).sum() > 40  # the shapes are drawn in the colour the captions name


def test_a_missing_dataset_without_network_says_where_and_how(tmp_path, offline):
    for name, command in (("coco_captions", "python -m data import coco_captions"),
                          ("flickr8k", "python -m data import flickr8k")):
        with pytest.raises(DatasetUnavailable) as error:
            captions.ensure(name, tmp_path)
        message = str(error.value)
        assert "\n" not in message and command in message
        assert str(captions.folder(name, tmp_path)) in message


def official_copy(fixture_root, target):
    """A folder laid out like the official COCO 2017 download, made from the fixture."""
    where = fixture_root / "coco"
    (target / "annotations").mkdir(parents=True)
    train = json.loads((where / "annotations" / "kit_train.json").read_text())
    val = json.loads((where / "annotations" / "kit_val.json").read_text())
    test = json.loads((where / "annotations" / "kit_test.json").read_text())
    val = {**val, "images": val["images"] + test["images"], "annotations": val["annotations"] + test["annotations"]}
    (target / "annotations" / "captions_train2017.json").write_text(json.dumps(train))
    (target / "annotations" / "captions_val2017.json").write_text(json.dumps(val))
    shutil.copytree(where / "val2017", target / "val2017")
    (target / "train2017").mkdir()
    for image in train["images"][:7]:  # only part of train2017 is there
        shutil.copy(where / "train2017" / image["file_name"], target / "train2017")
    return train


def test_importing_a_partial_local_coco_copy(fixture_root, tmp_path, offline):
    train = official_copy(fixture_root, tmp_path / "official")
    root = captions.import_files("coco_captions", tmp_path / "official", tmp_path / "cache")
    manifest = captions.coco_manifest(root)
    assert manifest["train_images"] == 7 and manifest["val_images"] + manifest["test_images"] == 10
    dataset = captions.load("coco_captions", "train", root)
    kept = {image["id"] for image in train["images"][:7]}
    assert set(dataset.ids) == kept
    order = captions.train_order(train)  # the kit's fixed order, whatever the files' order
    assert sorted(order) == sorted(image["id"] for image in train["images"])
    assert order == captions.train_order({"images": list(reversed(train["images"]))})
    val_ids = captions.load("coco_captions", "val", root).ids
    test_ids = captions.load("coco_captions", "test", root).ids
    assert not set(val_ids) & set(test_ids) and max(val_ids) < min(test_ids)


def test_importing_flickr8k_and_the_command_line(fixture_root, tmp_path):
    from data.__main__ import main
    root = captions.import_files("flickr8k", fixture_root / "flickr8k", tmp_path / "cache")
    assert len(captions.load("flickr8k", "train", root)) == 12
    assert main(["--root", str(tmp_path / "cli"), "fixture", "coco_captions"]) == 0
    assert (tmp_path / "cli" / "coco" / "annotations" / "kit_test.json").is_file()
    assert main(["--root", str(tmp_path / "x"), "import", "flickr8k", str(tmp_path / "nowhere")]) == 1


def test_the_train_slice_is_downloaded_image_by_image(fixture_root, tmp_path, offline):
    """`ensure` with the official annotations and val2017 there fetches the first images of the
    kit's train2017 order from their `coco_url` (file:// URLs here: the real code, no network)."""
    train = official_copy(fixture_root, tmp_path / "cache" / "coco")
    shutil.rmtree(tmp_path / "cache" / "coco" / "train2017")
    (tmp_path / "cache" / "coco" / "train2017").mkdir()
    (tmp_path / "cache" / "coco" / "train2017" / "stale.jpg.part").write_bytes(b"half a file")
    root = captions.ensure("coco_captions", tmp_path / "cache", n_train_images=5)
    expected = set(captions.train_order(train)[:5])
    assert set(captions.load("coco_captions", "train", root).ids) == expected
    assert len(list((root / "coco" / "train2017").glob("*.jpg"))) == 5
    root = captions.ensure("coco_captions", root, n_train_images=9)  # a larger slice extends the smaller one
    assert set(captions.load("coco_captions", "train", root).ids) >= expected
    assert captions.coco_manifest(root)["train_images"] == 9


@pytest.fixture
def no_download(monkeypatch):
    """Every way data/captions.py reaches the network, replaced by a recorder that refuses: the
    names called end up in the returned list."""
    import urllib.request
    calls = []

    def refuse(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise OSError(f"{name} called")
        return call

    for name in ("_fetch", "_download_images", "_download_caption_annotations", "download_url",
                 "download_and_extract_archive"):
        monkeypatch.setattr(captions, name, refuse(name))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    return calls


def test_a_partial_import_loads_offline_at_the_notebooks_default_size(fixture_root, tmp_path, offline, no_download,
                                                                      capsys):
    """The notebook's call (every split, COCO_TRAIN_IMAGES = 10,000) on 7 imported train2017 images:
    those 7, one line saying so, no download, and the manifest still names the import."""
    train = official_copy(fixture_root, tmp_path / "official")
    root = captions.import_files("coco_captions", tmp_path / "official", tmp_path / "cache")
    capsys.readouterr()
    splits = {split: captions.load("coco_captions", split, root, transform=captions.image_transform(32),
                                   n_train_images=captions.COCO_TRAIN_IMAGES) for split in captions.SPLITS}
    assert no_download == []
    assert set(splits["train"].ids) == {image["id"] for image in train["images"][:7]}
    assert (len(splits["val"]), len(splits["test"])) == (5, 5)
    assert captions.load_images(splits["train"]).shape == (7, 3, 32, 32)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "10,000" in lines[0] and "only 7" in lines[0], lines
    manifest = captions.coco_manifest(root)
    assert manifest["source"] == f"imported from {tmp_path / 'official'}" and manifest["train_images"] == 7


def test_a_smaller_request_takes_the_first_imported_images_and_keeps_the_source(fixture_root, tmp_path, offline,
                                                                                no_download, capsys):
    train = official_copy(fixture_root, tmp_path / "official")
    root = captions.import_files("coco_captions", tmp_path / "official", tmp_path / "cache")
    present = {image["id"] for image in train["images"][:7]}
    first_three = [i for i in captions.train_order(train) if i in present][:3]
    assert captions.load("coco_captions", "train", root, n_train_images=3).ids == sorted(first_three)
    assert captions.coco_manifest(root)["source"].startswith("imported from ")
    # asking for more again brings every imported image back, still without the network
    assert set(captions.load("coco_captions", "train", root, n_train_images=10_000).ids) == present
    assert no_download == [] and "only 7" in capsys.readouterr().out


def test_download_true_fetches_what_an_import_lacks(fixture_root, tmp_path, offline):
    """The opt-in: the missing images of the first 10 in the kit's order come from their coco_url
    (file:// URLs here: the real download code, no network); the manifest says what came from where."""
    train = official_copy(fixture_root, tmp_path / "official")
    root = captions.import_files("coco_captions", tmp_path / "official", tmp_path / "cache")
    wanted = captions.train_order(train)[:10]
    imported = {image["id"] for image in train["images"][:7]}
    dataset = captions.load("coco_captions", "train", root, n_train_images=10, download=True)
    assert dataset.ids == sorted(wanted)  # CocoCaptions sorts its ids
    manifest = captions.coco_manifest(root)
    assert manifest["source"] == f"imported from {tmp_path / 'official'}"
    assert manifest["train_images_downloaded"] == len(set(wanted) - imported) > 0


def test_a_greyscale_coco_image_gives_three_channels(fixture_root):
    from PIL import Image
    where = fixture_root / "coco"
    last = json.loads((where / "annotations" / "kit_train.json").read_text())["images"][-1]
    with Image.open(where / "train2017" / last["file_name"]) as picture:
        assert picture.mode == "L" and picture.format == "JPEG"  # one channel on disk, as in COCO
        tensor = captions.image_transform(32)(picture)
    assert tensor.shape == (3, 32, 32) and tensor.dtype == torch.uint8
    assert torch.equal(tensor[0], tensor[1]) and torch.equal(tensor[1], tensor[2])
    dataset = captions.load("coco_captions", "train", fixture_root, transform=captions.image_transform(32))
    assert dataset.ids[-1] == last["id"]
    assert torch.equal(dataset[len(dataset) - 1][0], tensor)
