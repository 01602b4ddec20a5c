"""benchmarks/gpu_fullmode.py runs on a CPU with K = 1 (FLOPs only) and names all seven notebooks
with their FLOPs per step and the extrapolated times of both budgets."""
import json
import os
import subprocess
import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {path.stem for path in (KIT_ROOT / "notebooks").glob("*.ipynb")}


def test_gpu_fullmode_counts_the_flops_of_every_notebook_on_cpu():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, str(KIT_ROOT / "benchmarks" / "gpu_fullmode.py"), "--steps", "1",
                           "--warmup", "0", "--out", "gpu_fullmode_test"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((KIT_ROOT / "benchmarks" / "results" / "gpu_fullmode_test.json").read_text())
    assert result["device"] == "cpu" and not result["timed"]
    assert set(result["notebooks"]) == NOTEBOOKS and len(NOTEBOOKS) == 7
    for name, entry in result["notebooks"].items():
        assert entry["flops_per_step"] and all(flops > 0 for flops in entry["flops_per_step"].values()), name
        for gpu in ("T4", "A100", "H100"):
            times = entry["estimated_total_s"][gpu]
            assert 0 < times["colab"] <= times["statement"], (name, gpu, times)
    # the basis of the estimates is written down with them
    assert result["assumed_sustained_tflops"]["T4"] > 0 and "FLOPs" in result["estimate_basis"]
