"""ACDC's reader on fixtures in the real NIfTI layout, and the phantom generator."""
import shutil

import nibabel
import numpy as np
import pytest
import torch

from data import DatasetUnavailable, acdc


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    return acdc.write_fixture("acdc", tmp_path_factory.mktemp("acdc"), n_patients=2, n_slices=4, shape=(40, 48))


def test_the_fixture_has_the_challenges_layout(fixture_root):
    patient = fixture_root / "ACDC" / "patient002"
    info = acdc.read_info(patient / "Info.cfg")
    assert info["ED"] == "1" and int(info["ES"]) > 1 and info["NbFrame"] == "30"
    labels = nibabel.load(patient / f"patient002_frame{int(info['ES']):02d}_gt.nii.gz")
    assert labels.shape == (40, 48, 4) and labels.get_data_dtype() == np.uint8
    assert (patient / "patient002_frame01.nii.gz").is_file()


def test_load_keeps_the_labelled_slices_at_256x256(fixture_root):
    maps, patients = acdc.load(fixture_root)
    # 2 patients x (ED, ES) x 4 slices, of which the first and last hold no heart
    assert maps.shape == (2 * 2 * 2, 256, 256) and maps.dtype == torch.uint8
    assert patients.tolist() == [1] * 4 + [2] * 4
    assert set(maps.unique().tolist()) == {0, 1, 2, 3}
    assert (maps.flatten(1).amax(dim=1) == 3).all()  # every kept slice shows the left ventricle


def test_resizing_keeps_labels_and_proportions():
    square = torch.zeros(1, 40, 48, dtype=torch.uint8)
    square[0, 10:30, 14:34] = 2  # a 20x20 square
    resized = acdc.square_and_resize(square, 96)  # 48x48 after padding, then x2
    assert resized.shape == (1, 96, 96)
    assert set(resized.unique().tolist()) == {0, 2}  # nearest neighbour: no blended label
    rows, cols = torch.nonzero(resized[0] == 2, as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (40, 40)  # still a square


def test_a_missing_acdc_says_where_and_how_in_one_line(tmp_path, offline):
    with pytest.raises(DatasetUnavailable) as error:
        acdc.load(tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / "ACDC") in message and "python -m data import acdc" in message


def test_import_copies_the_labelled_frames_only(fixture_root, tmp_path):
    source = tmp_path / "download" / "database" / "training"
    source.mkdir(parents=True)
    shutil.copytree(fixture_root / "ACDC" / "patient001", source / "patient001")
    (source / "patient001" / "patient001_4d.nii.gz").write_bytes(b"not copied")
    root = acdc.import_files("acdc", tmp_path / "download", tmp_path / "cache")
    copied = sorted(p.name for p in (root / "ACDC" / "patient001").iterdir())
    assert "patient001_4d.nii.gz" not in copied and "Info.cfg" in copied and len(copied) == 5
    assert acdc.load(root)[0].shape == (4, 256, 256)
    with pytest.raises(DatasetUnavailable):
        acdc.import_files("acdc", tmp_path / "nowhere", tmp_path / "cache")


def test_the_command_line_writes_a_fixture(tmp_path):
    from data.__main__ import main
    assert main(["--root", str(tmp_path), "fixture", "acdc"]) == 0
    assert len(acdc.patient_folders(tmp_path / "ACDC")) == 3


def test_phantoms_are_plausible_hearts():
    maps = acdc.phantoms(16, size=128, seed=3)
    assert maps.shape == (16, 128, 128) and maps.dtype == torch.uint8
    for label_map in maps:
        assert set(label_map.unique().tolist()) == {0, 1, 2, 3}
        lv = label_map == 3
        # the blood pool is enclosed by the myocardium: its 4 neighbours are LV or myocardium
        neighbours = torch.stack([lv.roll(shift, dim) for shift in (1, -1) for dim in (0, 1)])
        assert torch.isin(label_map[neighbours.any(0) & ~lv], torch.tensor([2, 3], dtype=torch.uint8)).all()
        # the right ventricle touches the myocardium (the septum), never the blood pool
        rv = label_map == 1
        rv_neighbours = torch.stack([rv.roll(shift, dim) for shift in (1, -1) for dim in (0, 1)]).any(0)
        assert (rv_neighbours & (label_map == 2)).any() and not (rv_neighbours & lv).any()
    areas = (maps == 3).flatten(1).sum(1).float()
    assert areas.std() / areas.mean() > 0.2  # sizes vary


def test_phantoms_depend_on_the_seed_only():
    assert torch.equal(acdc.phantoms(5, size=64, seed=7), acdc.phantoms(5, size=64, seed=7, chunk=2))
    assert not torch.equal(acdc.phantoms(5, size=64, seed=7), acdc.phantoms(5, size=64, seed=8))


def test_lv_to_rv_direction_measures_where_the_rv_lies():
    maps = torch.zeros(2, 32, 32, dtype=torch.uint8)
    maps[:, 14:18, 14:18] = 3
    maps[0, 14:18, 4:8] = 1  # on the image's left of the LV
    maps[1, 2:6, 14:18] = 1  # above it
    assert acdc.lv_to_rv_direction(maps[:1]) == pytest.approx((0.0, -1.0))
    assert acdc.lv_to_rv_direction(maps[1:]) == pytest.approx((-1.0, 0.0))
    assert acdc.lv_to_rv_direction(torch.cat([maps, torch.zeros(1, 32, 32, dtype=torch.uint8)])) == pytest.approx(
        (-0.5, -0.5))  # maps without both ventricles do not count


def test_phantoms_put_the_rv_on_the_images_left():
    d_row, d_col = acdc.lv_to_rv_direction(acdc.phantoms(64, size=96, seed=0))
    assert d_col < -0.85 and abs(d_row) < 0.15


def rotation_z(degrees):
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# voxel axes -> the patient's frame (RAS+, mm), and the stored shape
AFFINES = {
    "acdc": (np.diag([-1.3158, -1.3158, 10.0]), (40, 40, 3)),  # ACDC's qform: left, posterior, superior
    "ras": (np.diag([1.5, 1.5, 10.0]), (30, 36, 3)),
    "slices first": (np.array([[0, 0, 1.5], [0, -1.5, 0], [10.0, 0, 0]]), (3, 36, 30)),  # superior, posterior, right
    "oblique": (rotation_z(10) @ np.diag([-1.3, -1.3, 10.0]), (40, 40, 3)),
}


def heart_volume(linear, shape) -> tuple:
    """A label volume of `shape` whose voxels lie where `linear` (3x3, voxel steps -> RAS+ mm) puts
    them, centred on the heart: the LV (blood pool 3 in a myocardium ring 2) at the origin, the RV
    (1) 20 mm to the patient's right of it and 10 mm anterior. :return: (labels, 4x4 affine)."""
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = -linear @ ((np.array(shape) - 1) / 2)
    voxels = np.stack(np.meshgrid(*map(np.arange, shape), indexing="ij"), -1)
    world = voxels @ linear.T + affine[:3, 3]
    lv, rv = np.hypot(world[..., 0], world[..., 1]), np.hypot(world[..., 0] - 20, world[..., 1] - 10)
    labels = np.where(lv <= 8, 3, np.where(lv <= 12, 2, np.where(rv <= 6, 1, 0)))
    return labels.astype(np.uint8), affine


@pytest.mark.parametrize("name", AFFINES)
def test_maps_face_the_radiological_way_whatever_the_affine(name, tmp_path):
    """Right on the image's left, anterior at the top: the RV, right of and anterior to the LV,
    lies left of it and a little above, at (-10, -20) / 22.4 as (rows, columns)."""
    labels, affine = heart_volume(*AFFINES[name])
    assert name == "ras" or nibabel.aff2axcodes(affine) != ("R", "A", "S")  # the reorientation has work to do
    patient = tmp_path / "patient001"
    patient.mkdir()
    (patient / "Info.cfg").write_text("ED: 1\nES: 2\n")
    for frame in (1, 2):
        nibabel.save(nibabel.Nifti1Image(labels, affine), acdc.label_volume_path(patient, frame))
    maps, _ = acdc.read_folder(tmp_path, size=64)
    assert maps.shape == (2 * 3, 64, 64)
    measured = np.array(acdc.lv_to_rv_direction(maps))
    expected = np.array([-10.0, -20.0]) / np.hypot(10, 20)
    angle = np.degrees(np.arccos(measured @ expected / np.linalg.norm(measured)))
    assert angle < (15 if name == "oblique" else 3), (name, measured)  # a transposed map is 37 degrees off


def test_the_fixture_loads_back_as_the_phantoms_it_was_drawn_from(fixture_root):
    maps, _ = acdc.read_folder(fixture_root / "ACDC", size=48, phases=("ED",), keep_empty=True)
    drawn = acdc.phantoms(4, size=48, seed=0)[:, :48, :40].clone()  # patient001's ED: rows x columns
    drawn[[0, -1]] = 0
    assert torch.equal(maps[:4], torch.nn.functional.pad(drawn, (4, 4)))  # padded to a square
    d_row, d_col = acdc.lv_to_rv_direction(acdc.load(fixture_root)[0])
    assert d_col < -0.8 and abs(d_row) < 0.3
