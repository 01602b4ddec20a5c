"""ACDC cardiac MRI segmentation maps: the challenge's NIfTI volumes, or synthetic phantoms.

ACDC (Bernard et al., IEEE TMI 2018) is handed out after registration on the challenge's site, so
nothing downloads it: `python -m data import acdc FOLDER` copies the labelled frames of a local
copy into the kit's cache, and `load` reads them with nibabel. The training set's layout:

    patient001/Info.cfg                       "ED: 1", "ES: 12", ... (the labelled frames)
    patient001/patient001_frame01.nii.gz      the short-axis MRI at end-diastole (X, Y, slices)
    patient001/patient001_frame01_gt.nii.gz   its labels: 0 background, 1 right ventricle,
    patient001/patient001_frame12.nii.gz        2 myocardium, 3 left ventricle
    patient001/patient001_frame12_gt.nii.gz   (end-systole)
    patient001/patient001_4d.nii.gz           every frame, unlabelled (not used, not copied)

`load` keeps every slice of the ED and ES label volumes that holds some heart, pads it to a
square with background and resizes it to 256x256 with nearest-neighbour interpolation (labels
must stay labels). The maps face the way cardiac MRI is usually displayed (radiological
convention, read from each volume's NIfTI affine): the patient's right on the image's left and
anterior at the top, so the right ventricle lies to the left of the left ventricle, as in the
phantoms.

`phantoms` draws plausible maps without ACDC: a left-ventricle blood pool inside a myocardium
ring, the right ventricle as a crescent beside it, with random size, position, wall thickness,
elongation and rotation. `lv_to_rv_direction` measures which way maps face. `write_fixture`
writes tiny volumes in the real layout, drawn from phantoms, so that tests and quick mode run the
real reader.
"""
import re
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from data import DatasetUnavailable, data_root

DATASETS = ("acdc",)
IMAGE_SIZE = 256
PHASES = ("ED", "ES")
HOW_TO_GET = ("register on https://acdc.creatis.insa-lyon.fr, download the training set (patientXXX folders), "
              "then run `python -m data import acdc FOLDER_WITH_THE_PATIENT_FOLDERS`")
_PATIENT = re.compile(r"patient\d{3}$")


def acdc_folder(root=None) -> Path:
    """Where the kit keeps ACDC: ROOT/ACDC, ROOT being the kit's data root (see data_root)."""
    return data_root(root) / "ACDC"


def patient_folders(folder) -> list:
    """The patientXXX folders of `folder` that hold an Info.cfg, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _PATIENT.match(p.name) and (p / "Info.cfg").is_file())


def ensure(name: str = "acdc", root=None) -> Path:
    """The folder holding ACDC's patient folders; DatasetUnavailable (one line: where and how)
    when there are none, since ACDC cannot be downloaded without registering."""
    folder = acdc_folder(root)
    if not patient_folders(folder):
        raise DatasetUnavailable(f"ACDC is not in {folder} and cannot be downloaded automatically. "
                                 f"To get it: {HOW_TO_GET}")
    return folder


def read_info(path) -> dict:
    """Info.cfg as a dict of strings ({"ED": "1", "ES": "12", "Group": "DCM", ...})."""
    pairs = (line.split(":", 1) for line in Path(path).read_text().splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def label_volume_path(patient: Path, frame: int) -> Path:
    return patient / f"{patient.name}_frame{frame:02d}_gt.nii.gz"


def square_and_resize(slices: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Label maps (S, H, W) -> (S, size, size): centred padding to a square with background (the
    anatomy keeps its proportions), then nearest-neighbour resizing (no label is ever blended)."""
    height, width = slices.shape[-2:]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    padded = F.pad(slices, (left, side - width - left, top, side - height - top))
    resized = F.interpolate(padded[:, None].float(), size=(size, size), mode="nearest-exact")
    return resized[:, 0].to(torch.uint8)


def display_slices(image) -> np.ndarray:
    """The slices of a NIfTI volume (nibabel image) as displayed: (slices, rows, cols), the slices
    from inferior to superior, each with the patient's right on the image's left and anterior at
    the top (radiological convention).

    The stored axes follow the scanner's (ACDC's are left, posterior, superior, other files differ),
    so the affine decides: first to RAS+ (voxel axes towards the patient's Right, Anterior,
    Superior), then both in-plane axes reversed and swapped to rows and columns.
    """
    import nibabel
    ras = np.asanyarray(nibabel.as_closest_canonical(image).dataobj)  # (R, A, S)
    # reversed: (towards the left, towards posterior, S); columns then go right -> left, rows
    # anterior -> posterior
    return np.ascontiguousarray(ras[::-1, ::-1].transpose(2, 1, 0))


def read_folder(folder, size: int = IMAGE_SIZE, phases=PHASES, keep_empty: bool = False):
    """Every labelled slice of the patient folders in `folder` (the layout above).

    The maps face the way cardiac MRI is usually displayed (radiological convention, read from each
    volume's NIfTI affine): the patient's right on the image's left and anterior at the top, so the
    right ventricle lies to the left of the left ventricle, as in the phantoms.

    :return: (maps, patients): uint8 label maps (N, size, size) and, for each, the patient's
        number (int64 (N,)), to split the data by patient.
    """
    import nibabel
    maps, patients = [], []
    for patient in patient_folders(folder):
        info = read_info(patient / "Info.cfg")
        for phase in phases:
            volume = display_slices(nibabel.load(label_volume_path(patient, int(info[phase]))))
            slices = torch.from_numpy(volume.astype(np.uint8))
            if not keep_empty:
                slices = slices[slices.flatten(1).amax(dim=1) > 0]
            maps.append(square_and_resize(slices, size))
            patients.append(torch.full((len(slices),), int(patient.name[-3:])))
    if not maps:
        raise DatasetUnavailable(f"no patientXXX folder with an Info.cfg in {folder}. To get ACDC: {HOW_TO_GET}")
    return torch.cat(maps), torch.cat(patients)


def load(root=None, size: int = IMAGE_SIZE, phases=PHASES):
    """ACDC's labelled slices from the kit's cache, (N, size, size) uint8, and their patients: see
    `read_folder`. The right ventricle lies on the image's left of the left ventricle."""
    return read_folder(ensure("acdc", root), size, phases)


def import_files(name: str, source, root=None) -> Path:
    """Copy the labelled frames (Info.cfg, frame and _gt volumes; not the 4d files) of the patient
    folders found in `source` (or in its training/ or database/training/ subfolder) into the cache."""
    source = Path(source)
    candidates = [source, source / "training", source / "database" / "training"]
    found = next((patient_folders(c) for c in candidates if patient_folders(c)), [])
    if not found:
        raise DatasetUnavailable(f"no patientXXX folder with an Info.cfg in {source}. To get ACDC: {HOW_TO_GET}")
    target = acdc_folder(root)
    for patient in found:
        (target / patient.name).mkdir(parents=True, exist_ok=True)
        info = read_info(patient / "Info.cfg")
        files = [patient / "Info.cfg"]
        for phase in PHASES:
            labels = label_volume_path(patient, int(info[phase]))
            files += [labels, labels.with_name(labels.name.replace("_gt", ""))]
        for path in files:
            if path.is_file():
                shutil.copyfile(path, target / patient.name / path.name)
    return target.parent


# -- phantoms -------------------------------------------------------------------------------------

def _uniform(generator, n, low, high):
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def phantom_parameters(n: int, seed: int = 0, max_rotation: float = 40.0) -> dict:
    """Random shapes for `phantoms`, in pixels of a 256x256 map (float64 tensors (n,))."""
    generator = torch.Generator().manual_seed(seed)
    lv_radius = _uniform(generator, n, 10, 24)
    thickness = _uniform(generator, n, 5, 10)
    return {
        "center_row": 128 + _uniform(generator, n, -20, 20), "center_col": 128 + _uniform(generator, n, -20, 20),
        "lv_radius": lv_radius, "elongation": _uniform(generator, n, 0.0, 0.15), "thickness": thickness,
        # the right ventricle sits on the image's left of the left ventricle, rotated by up to max_rotation
        "angle": torch.pi + torch.deg2rad(_uniform(generator, n, -max_rotation, max_rotation)),
        "rv_offset": _uniform(generator, n, 0.25, 0.55), "rv_depth": _uniform(generator, n, 0.95, 1.25),
        "rv_span": _uniform(generator, n, 1.15, 1.5),
    }


def draw_phantoms(parameters: dict, size: int = IMAGE_SIZE, device=None) -> torch.Tensor:
    """Label maps (n, size, size), uint8, for the shapes of `phantom_parameters`, all at once."""
    p = {key: value.to(device=device, dtype=torch.float32).view(-1, 1, 1) * (size / IMAGE_SIZE if key in
         ("center_row", "center_col", "lv_radius", "thickness") else 1) for key, value in parameters.items()}
    grid = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    rows, cols = grid.view(1, -1, 1) - p["center_row"], grid.view(1, 1, -1) - p["center_col"]
    # u points from the left ventricle towards the right ventricle, v across
    cos, sin = torch.cos(p["angle"]), torch.sin(p["angle"])
    u, v = cols * cos + rows * sin, -cols * sin + rows * cos
    a, b = p["lv_radius"] * (1 + p["elongation"]), p["lv_radius"] * (1 - p["elongation"])
    outer_a, outer_b = a + p["thickness"], b + p["thickness"]

    def inside(u_scaled, v_scaled):
        return u_scaled * u_scaled + v_scaled * v_scaled <= 1

    blood_pool = inside(u / a, v / b)
    epicardium = inside(u / outer_a, v / outer_b)
    # an ellipse straddling the heart's wall on the u side, minus the heart: a crescent
    right_ventricle = inside((u - p["rv_offset"] * outer_a) / (p["rv_depth"] * outer_a), v / (p["rv_span"] * outer_b))
    # torch.where, not masked assignment: a boolean-mask write is many times slower on the CPU
    maps = torch.where(epicardium, torch.where(blood_pool, 3, 2), torch.where(right_ventricle, 1, 0))
    return maps.to(torch.uint8)


def phantoms(n: int, size: int = IMAGE_SIZE, seed: int = 0, device=None, chunk: int = None) -> torch.Tensor:
    """`n` synthetic label maps (n, size, size), uint8, on `device` (the same maps on any device
    for a given seed), drawn `chunk` maps at a time.

    Drawing is a few elementwise operations per pixel, bound by memory traffic: a GPU draws a
    thousand maps at once, while a CPU is fastest one map at a time, when the temporaries stay
    in its cache (benchmarks/cardiac_speed.py measures both).
    """
    device = torch.device(device or "cpu")
    chunk = chunk or (1024 if device.type == "cuda" else 1)
    parameters = phantom_parameters(n, seed)
    parts = [draw_phantoms({key: value[start:start + chunk] for key, value in parameters.items()}, size, device)
             for start in range(0, n, chunk)]
    return torch.cat(parts) if parts else torch.zeros(0, size, size, dtype=torch.uint8, device=device)


def lv_to_rv_direction(maps: torch.Tensor) -> tuple:
    """Which way the maps face: the mean unit vector (d_row, d_col) from the left ventricle's
    centroid to the right ventricle's, over the maps (N, H, W) that show both. (0, -1): the right
    ventricle on the image's left; (-1, 0): above."""
    maps = maps[((maps == 1).flatten(1).any(1)) & ((maps == 3).flatten(1).any(1))]
    rows = torch.arange(maps.shape[1], dtype=torch.float64).view(1, -1, 1)
    cols = torch.arange(maps.shape[2], dtype=torch.float64).view(1, 1, -1)

    def centroid(mask):  # (N, 2): mean row and column of each map's mask
        count = mask.flatten(1).sum(1)
        return torch.stack([(mask * rows).flatten(1).sum(1), (mask * cols).flatten(1).sum(1)], 1) / count[:, None]

    step = centroid(maps == 1) - centroid(maps == 3)
    mean = (step / step.norm(dim=1, keepdim=True)).mean(0)
    return float(mean[0]), float(mean[1])


# ACDC's headers (qform and sform) point the stored axes to the patient's left, posterior, superior
ACDC_AFFINE = np.diag([-1.5, -1.5, 10.0, 1.0])


def write_fixture(name: str, root, n_patients: int = 3, n_slices: int = 4, shape=(40, 48), seed: int = 0) -> Path:
    """Write `n_patients` tiny patient folders in ACDC's layout (Info.cfg, ED and ES frames with
    their _gt label volumes of `shape` x `n_slices`, drawn from phantoms; the first and last
    slices hold no heart, as at the base and apex) under ROOT/ACDC; return ROOT (what `load` takes).

    The volumes are stored as ACDC's are, along (left, posterior, superior) with ACDC_AFFINE: a
    phantom of `shape[1]` rows and `shape[0]` columns, transposed, so that `load` shows it as drawn."""
    import nibabel
    folder = Path(root) / "ACDC"
    rng = np.random.default_rng(seed)
    columns, rows = shape  # the stored volume's first axis is the displayed columns
    for index in range(n_patients):
        patient = folder / f"patient{index + 1:03d}"
        patient.mkdir(parents=True, exist_ok=True)
        frames = {"ED": 1, "ES": int(rng.integers(8, 15))}
        (patient / "Info.cfg").write_text(f"ED: {frames['ED']}\nES: {frames['ES']}\nGroup: NOR\nHeight: 175.0\n"
                                          f"NbFrame: 30\nWeight: 70.0\n")
        for number, frame in enumerate(frames.values()):
            maps = phantoms(n_slices, size=max(shape), seed=seed * 1000 + index * 10 + number).numpy()
            maps = maps[:, :rows, :columns].copy()  # (slices, rows, columns) as displayed
            maps[[0, -1]] = 0
            labels = maps.transpose(2, 1, 0)  # stored (columns, rows, slices): left, posterior, superior
            # the MRI: brighter blood pools than muscle, and noise
            image = np.choose(labels, [20, 180, 70, 200]).astype(np.float32) + rng.normal(0, 8, labels.shape)
            base = patient / f"{patient.name}_frame{frame:02d}"
            nibabel.save(nibabel.Nifti1Image(labels.astype(np.uint8), ACDC_AFFINE), f"{base}_gt.nii.gz")
            nibabel.save(nibabel.Nifti1Image(image.astype(np.float32), ACDC_AFFINE), f"{base}.nii.gz")
    return Path(root)
