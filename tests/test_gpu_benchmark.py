"""benchmarks/paper_gpu_hours.py: it refuses to run without a GPU unless --tiny, and --tiny runs
its whole code path on the CPU (several processes at once, CUDA graphs, the projection)."""

import os
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = REPO / "benchmarks/paper_gpu_hours.py"
TINY_GRID = """
name: tiny_grid
probe: {fixed_size: 64}  # digits has 360 test images
experiments:
  tiny:
    model: lenet5
    datasets: [digits]
    batch_sizes: [64]
    epochs: 60
    weight_decay: 5.0e-4
"""


def benchmark(*args, cwd):
    # CUDA_VISIBLE_DEVICES="" hides any GPU: these tests check the CPU behaviour
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_it_refuses_to_run_without_a_gpu(tmp_path):
    result = benchmark(cwd=tmp_path)
    assert result.returncode == 1
    assert "this machine has none" in result.stderr and "--tiny" in result.stderr


@pytest.mark.slow
def test_tiny_runs_every_step_on_the_cpu(tmp_path):
    (tmp_path / "grid.yaml").write_text(TINY_GRID)
    result = benchmark(
        "--tiny", "--config", "grid.yaml", "--epochs", "1", "--jobs-per-gpu", "2", "--cuda-graphs", "on", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    # the baseline, then two processes at once with CUDA graphs (a no-op on the CPU)
    assert sum("'jobs_per_gpu': 1, 'cuda_graphs': False" in line for line in lines) == 1
    assert sum("'jobs_per_gpu': 2, 'cuda_graphs': True" in line for line in lines) == 1
    assert "projected GPU-hours of every training in grid.yaml on cpu:" in result.stdout
    assert "baseline (one job per GPU, eager):" in result.stdout
