"""Runs that survive (solutions/runs.py), tested for real.

- A training process is killed with SIGKILL just after a checkpoint (inside an epoch, for the
  DDPM's `train_epoch` and SimSiam's `pretrain`),
  resumed in a new process, and its final weights and history are compared with an uninterrupted
  run of the same loop without a run: they are *bitwise* equal on the CPU (tolerance 0). This holds
  because the checkpoint restores every random generator (Python, NumPy, torch, the loops' own
  torch.Generators), the optimizer and scaler states and an interrupted epoch's batch order and
  partial sums, and both processes compute on one thread (the same reduction order).
- Every given training loop (seven) accepts a run and resumes one after a stop between epochs,
  again bitwise equal to an uninterrupted run.
- Calling a loop again on a finished run loads it: no optimizer step, same weights and history.

The file is also the worker of the subprocess tests: `python tests/test_runs.py LOOP MODE OUT`.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

KIT_ROOT = Path(__file__).resolve().parent.parent
for folder in (KIT_ROOT, KIT_ROOT / "solutions"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import runs  # noqa: E402

ALL_LOOPS = ("autoencoders", "cardiac", "captioning", "ddpm", "vae", "simsiam", "trainer")


# -- the seven loops on tiny data (deterministic: every call starts from the same seeds) ------------

def _uint8_images(n, seed=0):
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def loop_autoencoders(run, epochs):
    import autoencoders_solution as m
    torch.manual_seed(0)
    images = torch.rand(80, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model = m.AutoEncoder(d=2, hidden=(16,))
    history = m.fit(model, images[:64], images[64:], m.ae_objective(), epochs=epochs, batch_size=16, run=run)
    return model.state_dict(), history


def loop_cardiac(run, epochs):
    import cardiac_solution as m
    torch.manual_seed(0)
    maps = torch.randint(0, 4, (24, 32, 32), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    encoder, decoder = m.Encoder(latent_dim=4, image_size=32), m.Decoder(latent_dim=2, image_size=32)
    history = m.train(m.vae_forward_pass, encoder, decoder, maps[:16], maps[16:], epochs, batch_size=8,
                      device=torch.device("cpu"), run=run)
    return {**{f"e.{k}": v for k, v in encoder.state_dict().items()},
            **{f"d.{k}": v for k, v in decoder.state_dict().items()}}, history


def loop_captioning(run, epochs):
    import captioning_solution as m
    torch.manual_seed(0)
    texts = [["a red circle ."], ["two blue squares on grey ."], ["a green square ."], ["three yellow circles ."]]
    vocab = m.build_vocabulary(t for group in texts for t in group)
    features = 0.1 * torch.randn(4, 2048, 1, 1)
    tokens, index = m.caption_tensors(texts, vocab, max_seq_len=10)
    decoder = m.RNNDecoder(8, 16, len(vocab), "cpu")
    history = m.train_decoder(decoder, features, tokens, index, epochs=epochs, batch_size=2, lr=1e-2,
                              valid=(features, tokens, index), run=run)
    return decoder.state_dict(), history


def loop_ddpm(run, epochs):
    import ddpm_solution as m
    m.fix_experiment_seed()
    model = m.prepare(m.Unet(dim=8, dim_mults=(1, 2, 2), resnet_block_groups=4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, history = _uint8_images(48), {"loss": []}
    run = runs.as_run(run)
    for _ in (run.epochs(epochs, history, model=model, optimizer=optimizer) if run else range(epochs)):
        history["loss"].append(m.train_epoch(model, optimizer, images, 16, desc="ddpm", run=run))
    return model.state_dict(), history


def loop_vae(run, epochs):
    import vae_solution as m
    m.fix_experiment_seed(0)
    model = m.VAE(in_channels=3, input_size=32, z_dim=4, decoder_features=8, encoder_features=8, device="cpu")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtype, scaler = m.mixed_precision("cpu")
    images, history = _uint8_images(48), {"loss": []}
    run = runs.as_run(run)
    objects = dict(model=model, optimizer=optimizer, scaler=scaler)
    for _ in (run.epochs(epochs, history, **objects) if run else range(epochs)):
        history["loss"].append(m.train_epoch(model, optimizer, images, 16, scaler, dtype, desc="vae", run=run))
    return model.state_dict(), history


def loop_simsiam(run, epochs):
    import simsiam_solution as ss
    import simsiam_training as st
    st.seed_everything(1234)
    model = ss.SimSiam(st.small_resnet(width=8, blocks=(1, 1)), dim=16, pred_dim=8)
    labels = torch.arange(48) % 4
    history = st.pretrain(model, (_uint8_images(48), labels), (_uint8_images(16, seed=1), labels[:16]),
                          st.PretrainConfig(epochs=epochs, batch_size=16, knn_k=5), description="simsiam", run=run)
    return model.state_dict(), history


def loop_trainer(run, epochs):
    import trainer_solution as m

    from data import mnist
    root = Path(os.environ["RUNS_TEST_DATA"])
    if not (root / "FashionMNIST").exists():
        mnist.write_fixture("fashion_mnist", root, n_train=96, n_test=2010)
    torch.manual_seed(0)
    trainer = m.Trainer("cnn", m.NetworkConfiguration(n_channels=(4, 8), kernel_sizes=(3, 3), strides=(1, 1),
                                                      paddings=(1, 1), dense_hiddens=(16,)),
                        datapath=str(root), batch_size=32, lr=1e-3)
    history = trainer.train_loop(epochs, run=run)
    return trainer.network.state_dict(), history


LOOPS = {name: globals()[f"loop_{name}"] for name in ALL_LOOPS}


def assert_same(result, expected):
    (weights, history), (expected_weights, expected_history) = result, expected
    assert history == expected_history
    assert weights.keys() == expected_weights.keys()
    for key in weights:
        assert torch.equal(weights[key], expected_weights[key]), key


@pytest.fixture
def runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("RUNS_TEST_DATA", str(tmp_path / "data"))
    return tmp_path / "runs"


# -- in one process: every loop resumes, and loads a finished run ------------------------------------

def interrupt_after_saves(run, count):
    """Make `run` raise KeyboardInterrupt (a stopped cell) right after its `count`-th checkpoint."""
    save, saved = run.save, [0]

    def save_then_stop(*args, **kwargs):
        save(*args, **kwargs)
        saved[0] += 1
        if saved[0] == count:
            raise KeyboardInterrupt
    run.save = save_then_stop


@pytest.mark.parametrize("loop", ALL_LOOPS)
def test_every_loop_resumes_between_epochs_and_loads_a_finished_run(loop, runs_folder, one_thread):
    train = LOOPS[loop]
    expected = train(None, 3)

    first = runs.Run(f"{loop}_run")
    interrupt_after_saves(first, 2)
    with pytest.raises(KeyboardInterrupt):  # the session stops just after the checkpoint of epoch 2
        train(first, 3)
    assert first.steps > 0 and (runs_folder / f"{loop}_run" / "checkpoint.pt").exists()
    second = runs.Run(f"{loop}_run")
    result = train(second, 3)
    assert not second.loaded and second.steps == first.steps / 2  # only the third epoch was trained
    assert_same(result, expected)

    third = runs.Run(f"{loop}_run")
    assert third.finished
    again = train(third, 3)
    assert third.loaded and third.steps == 0
    assert_same(again, expected)


def test_loading_a_finished_run_takes_no_training_time(runs_folder, one_thread):
    started = time.perf_counter()
    expected = loop_ddpm("ddpm_timed", 3)
    trained_s = time.perf_counter() - started
    run = runs.Run("ddpm_timed")
    started = time.perf_counter()
    result = loop_ddpm(run, 3)
    loaded_s = time.perf_counter() - started
    assert run.loaded and run.steps == 0
    assert_same(result, expected)
    assert loaded_s < trained_s / 3, (loaded_s, trained_s)


def test_a_name_cannot_be_a_path():
    for name in ("../escape", "a/b", "", "with space"):
        with pytest.raises(ValueError):
            runs.Run(name)


def test_the_runs_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_RUNS", str(tmp_path / "mine"))
    assert runs.runs_root() == tmp_path / "mine"
    monkeypatch.delenv("KIT_RUNS")
    monkeypatch.setattr(runs, "DRIVE", tmp_path / "drive" / "MyDrive")
    assert runs.runs_root() == runs.KIT_ROOT / "runs"
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)  # Drive mounted: USE_DRIVE = True
    monkeypatch.setattr(runs, "DRIVE_RUNS", tmp_path / "drive" / "MyDrive" / "kit-runs")
    assert runs.runs_root() == tmp_path / "drive" / "MyDrive" / "kit-runs"


def test_a_missing_artifact_names_the_notebook_and_cell_that_write_it(runs_folder):
    with pytest.raises(FileNotFoundError, match=r"vae_svhn\.ipynb.*Figure 4"):
        runs.load_artifact("vae_final_samples.pt")
    runs.save_artifact("vae_final_samples.pt", torch.ones(2, 3))
    assert torch.equal(runs.load_artifact("vae_final_samples.pt"), torch.ones(2, 3))
    assert (runs_folder / "artifacts" / "vae_final_samples.pt").exists()


def test_on_colab_with_drive_datasets_stay_local_and_runs_go_to_drive(tmp_path, monkeypatch, one_thread):
    """USE_DRIVE = True on Colab: Drive is mounted, the kit is cloned into it and $KIT_RUNS points
    into it (as the set-up cell does). A dataset fetched with the notebooks' DATA_ROOT = None lands
    on the local disk (/content/data, here a temporary stand-in), never on Drive; the run's
    checkpoint lands on Drive."""
    import data
    from data import mnist
    drive, local = tmp_path / "drive" / "MyDrive", tmp_path / "content" / "data"
    kit = drive / "dl-course-kit"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-test")
    monkeypatch.delenv("KIT_DATA_ROOT", raising=False)
    monkeypatch.setenv("KIT_RUNS", str(drive / "dl-course-kit-runs"))
    monkeypatch.setattr(data, "COLAB_ROOT", local)
    monkeypatch.setattr(data, "DEFAULT_ROOT", kit / "data" / "cache")  # the kit's own folder is on Drive
    assert data.on_colab() and data.data_root() == local

    source = mnist.write_fixture("mnist", tmp_path / "downloaded", n_train=80, n_test=16)
    mnist.import_files("mnist", source / "MNIST" / "raw")  # what a download does, offline
    images, _ = mnist.load("mnist")  # DATA_ROOT = None in the notebook
    assert (local / "MNIST" / "raw").is_dir()

    import autoencoders_solution as m
    model = m.AutoEncoder(d=2, hidden=(8,))
    x = images[:64].float().unsqueeze(1) / 255
    m.fit(model, x[:48], x[48:], m.ae_objective(), epochs=1, batch_size=16, run="ae_on_drive")
    on_drive = sorted(path.relative_to(drive).as_posix() for path in drive.rglob("*") if path.is_file())
    assert on_drive == ["dl-course-kit-runs/ae_on_drive/checkpoint.pt", "dl-course-kit-runs/ae_on_drive/finished"]

    monkeypatch.setenv("KIT_DATA_ROOT", str(tmp_path / "elsewhere"))  # the variable still wins
    assert data.data_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("COLAB_RELEASE_TAG")
    monkeypatch.delenv("KIT_DATA_ROOT")
    assert data.data_root() == kit / "data" / "cache"  # off Colab: the kit's folder, as before


# -- across processes: SIGKILL after a checkpoint, resume, compare ----------------------------------

# (loop, epochs, checkpoint every step?, saves before the kill, where the kill lands)
# (Between epochs, every loop is tested in one process above; each process here spends most of its
# time importing torch, so two loops are killed for real.)
KILLED = [("ddpm", 2, True, 5, "inside epoch 2, after its first batch"),
          ("simsiam", 2, True, 5, "inside epoch 2, after its first batch")]


def _worker(loop, mode, out, epochs, every_step, kill_after):
    torch.set_num_threads(1)
    run = None
    if mode != "plain":
        run = runs.Run(f"{loop}_killed", save_every_s=0.0 if every_step else runs.SAVE_EVERY_S)
    if mode == "killed":  # stop (for the parent's SIGKILL) right after the `kill_after`-th checkpoint
        save, count = runs.Run.save, [0]

        def save_then_wait(self, *args, **kwargs):
            save(self, *args, **kwargs)
            count[0] += 1
            if count[0] == kill_after:
                Path(out).write_text("checkpointed")
                time.sleep(600)
        runs.Run.save = save_then_wait
    weights, history = LOOPS[loop](run, epochs)
    torch.save({"weights": weights, "history": history, "steps": run.steps if run else None}, out)


def _start(loop, mode, out, case, env):
    return subprocess.Popen([sys.executable, __file__, loop, mode, str(out), *map(str, case)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("loop, epochs, every_step, kill_after, where", KILLED, ids=[k[0] for k in KILLED])
def test_a_killed_run_resumes_to_the_uninterrupted_result(loop, epochs, every_step, kill_after, where,
                                                          runs_folder, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    case = (epochs, int(every_step), kill_after)
    plain = _start(loop, "plain", tmp_path / "plain.pt", case, env)
    flag = tmp_path / "killed.flag"
    killed = _start(loop, "killed", flag, case, env)
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert killed.poll() is None, killed.communicate()[0]
        assert time.monotonic() < deadline, "no checkpoint in 4 minutes"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    checkpoint = runs.Run(f"{loop}_killed").read()
    assert not checkpoint["finished"] and checkpoint["epoch"] < epochs
    assert (checkpoint["inner"] is not None) == every_step, where

    resumed = _start(loop, "resume", tmp_path / "resumed.pt", case, env)
    output = resumed.communicate(timeout=240)[0]
    assert resumed.returncode == 0, output
    assert "resuming after epoch" in output
    assert plain.wait(timeout=240) == 0, plain.communicate()[0]
    result, expected = torch.load(tmp_path / "resumed.pt"), torch.load(tmp_path / "plain.pt")
    assert 0 < result["steps"]
    assert_same((result["weights"], result["history"]), (expected["weights"], expected["history"]))


if __name__ == "__main__":
    loop, mode, out, epochs, every_step, kill_after = sys.argv[1:7]
    _worker(loop, mode, out, int(epochs), bool(int(every_step)), int(kill_after))


# -- a notebook executed twice with the same runs folder reuses its finished runs ------------------

def test_a_notebook_run_again_loads_its_finished_runs(tmp_path, monkeypatch):
    """vae_svhn.ipynb in quick mode, twice, with the same $KIT_RUNS: the second execution loads the
    run instead of training (its training cell prints so and takes a fraction of the time)."""
    import nbformat

    from grading.quickrun import run_quick
    monkeypatch.setenv("KIT_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    durations, outputs = [], []
    for attempt in ("first", "second"):
        result = run_quick("vae_svhn.ipynb", tmp_path / attempt)
        assert result.ok, result.error
        notebook = nbformat.read(result.output, as_version=4)
        cell = next(cell for cell in notebook.cells if cell.cell_type == "code" and "run.epochs(" in cell.source)
        durations.append(cell.metadata["papermill"]["duration"])
        outputs.append("".join(output.get("text", "") for output in cell.outputs))
    assert "loaded from" not in outputs[0] and "finished (2 epochs), loaded from" in outputs[1]
    assert list((tmp_path / "runs").glob("vae_svhn.quick.vae/checkpoint.pt"))
    assert durations[1] < durations[0] / 2, durations
