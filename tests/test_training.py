"""Training: one device per job, resume after SIGKILL, divergence reported rather than fatal."""

import dataclasses
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch

from conftest import copy_project, digits_run_settings, run_settings, snakemake
from rankgap import device, train


def hold_a_device(lock_dir, devices, seconds, log, jobs_per_gpu=1):
    index = device.lease(devices, lock_dir, jobs_per_gpu, poll_seconds=0.01)
    start = time.monotonic()
    time.sleep(seconds)
    with open(log, "a") as f:
        f.write(f"{devices[index]} {start} {time.monotonic()}\n")


@pytest.mark.parametrize("jobs_per_gpu", [1, 3])
def test_more_jobs_than_slots_never_exceed_the_shares_of_a_device(tmp_path, jobs_per_gpu):
    log = tmp_path / "leases.txt"
    jobs = [
        multiprocessing.Process(target=hold_a_device, args=(tmp_path / "locks", ["0", "1"], 0.3, log, jobs_per_gpu))
        for _ in range(4 * jobs_per_gpu + 2)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(30)
        assert job.exitcode == 0
    leases = [line.split() for line in log.read_text().splitlines()]
    assert len(leases) == len(jobs) and {d for d, _, _ in leases} == {"0", "1"}
    for dev in ("0", "1"):
        spans = [(float(a), float(b)) for d, a, b in leases if d == dev]
        # at no start of a lease do more than jobs_per_gpu leases of the device overlap
        most = max(sum(a <= start < b for a, b in spans) for start, _ in spans)
        assert most <= jobs_per_gpu
        if jobs_per_gpu > 1:
            assert most > 1  # and the slots are used: jobs do share a device


def test_a_killed_job_frees_its_device_at_once(tmp_path):
    holder = multiprocessing.Process(target=hold_a_device, args=(tmp_path / "locks", ["0"], 60, tmp_path / "log"))
    holder.start()
    deadline = time.monotonic() + 10
    while not (tmp_path / "locks" / "gpu-0.lock").exists() or (tmp_path / "locks" / "gpu-0.lock").stat().st_size == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    tic = time.monotonic()
    assert device.lease(["0"], tmp_path / "locks", poll_seconds=0.01) == 0
    assert time.monotonic() - tic < 1


def test_auto_computes_on_the_cpu_when_there_is_no_gpu_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with caplog.at_level("WARNING", logger="rankgap.device"):
        assert device.acquire(tmp_path) == torch.device("cpu")
    assert "asked for a GPU and computes on the CPU" in caplog.text and "CUDA_VISIBLE_DEVICES=''" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="rankgap.device"):
        assert device.acquire(tmp_path, want_gpu=False) == torch.device("cpu")
    assert not caplog.text  # a job that wants no GPU has nothing to say


def test_cuda_without_a_gpu_fails_naming_the_host_the_visible_devices_and_the_build(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    with pytest.raises(device.NoGPUError) as error:
        device.acquire(tmp_path, policy="cuda")
    message = str(error.value)
    assert socket.gethostname() in message and "CUDA_VISIBLE_DEVICES='7'" in message
    assert f"torch {torch.__version__} built" in message and "device: auto" in message
    assert not (tmp_path / socket.gethostname()).exists()  # nothing leased


def test_cpu_never_leases_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.acquire(tmp_path, policy="cpu") == torch.device("cpu")
    assert not list(tmp_path.iterdir())


@pytest.fixture
def four_fake_gpus(monkeypatch):
    """torch sees four GPUs (nothing runs on them); the leases taken are released afterwards."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: f"fake GPU {index}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,6,7")
    yield
    while device._held:
        device._held.pop().close()


def test_the_gpus_of_a_slurm_allocation_are_shared_out(tmp_path, monkeypatch, four_fake_gpus):
    """Snakemake inside `salloc --gpus 4`: its jobs lease the allocation's four GPUs, one each, with
    the locks of that allocation; a job the executor submitted (an allocation of its own, whose GPU
    it also sees first) leases at once beside them."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    leased = [device.acquire(tmp_path / "locks", jobs_per_gpu=1) for _ in range(4)]
    assert leased == [torch.device("cuda", i) for i in range(4)]
    scope = tmp_path / "locks" / f"{socket.gethostname()}-slurm42"
    assert sorted(p.name for p in scope.iterdir()) == [f"gpu-{d}.lock" for d in (3, 5, 6, 7)]
    monkeypatch.setenv("SLURM_JOB_ID", "43")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert device.acquire(tmp_path / "locks") == torch.device("cuda", 0)


def test_slots_of_an_allocation_follow_jobs_per_gpu(tmp_path, monkeypatch, four_fake_gpus):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    leased = [device.acquire(tmp_path, jobs_per_gpu=2).index for _ in range(8)]
    assert leased == [0, 1, 2, 3, 0, 1, 2, 3]  # one slot of every GPU before a second of any


def test_device_cuda_without_a_gpu_stops_the_run_before_any_job(tmp_path):
    """The pipeline's own path: `device: cuda` where the jobs run on this CPU-only machine stops the
    run before any job starts, with the message, and writes nothing (a dry run still plans)."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    project = copy_project(tmp_path)
    planned = snakemake(project, "--dry-run", "--configfile", "config/demo.yaml", "--config", "device=cuda")
    assert "train" in planned.stdout
    result = snakemake(project, "--configfile", "config/demo.yaml", "--config", "device=cuda", check=False)
    assert result.returncode != 0
    assert "device: cuda, but the jobs run on this machine and it has no usable GPU (host " in result.stderr
    assert "CUDA_VISIBLE_DEVICES=" in result.stderr and "torch " in result.stderr
    assert not (project / "results").exists() and not (project / "data").exists()


RESUME_CONFIG = """
name: resume
train: {deterministic: true}
probe: {fixed_size: 64, epochs: [0, 1, last]}  # digits has 360 test images
threads: {train: 1, analysis: 1}
experiments:
  resume:
    model: lenet5
    variant: bn
    datasets: [digits]
    batch_sizes: [16]
    epochs: 8
    weight_decay: 5.0e-4
"""
RUN = "results/runs/resume/digits/bs16-seed0"


@pytest.mark.slow
def test_run_killed_with_sigkill_resumes_to_the_same_result(tmp_path):
    """Preemption: SIGKILL the whole Snakemake process group mid-training, rerun, and end with exactly
    the weights, snapshots and metrics of an uninterrupted run: the untrained network's and epoch 1's
    snapshots too, which Snakemake removes with the incomplete job's outputs before the rerun."""
    results = {}
    for name in ("uninterrupted", "killed"):
        project = copy_project(tmp_path / name)
        (project / "resume.yaml").write_text(RESUME_CONFIG)
        target = f"{RUN}/summary.json"
        command = [sys.executable, "-m", "snakemake", target, "--cores", "1", "--configfile", "resume.yaml"]
        if name == "killed":
            job = subprocess.Popen(
                command, cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            checkpoint = project / RUN / "checkpoint.pt"
            deadline = time.monotonic() + 120
            while (
                not checkpoint.exists() or torch.load(checkpoint, weights_only=False)["epoch"] < 2
            ) and job.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
            done = torch.load(checkpoint, weights_only=False)["epoch"]
            assert 2 <= done < 8, "the kill has to land mid-training, after the epoch-1 snapshot"
            snakemake(project, "--unlock", "--configfile", "resume.yaml")
        subprocess.run(command, cwd=project, check=True, capture_output=True)
        results[name] = project
        if name == "killed":
            assert f"resumed from {RUN}/checkpoint.pt after epoch {done}" in (project / RUN / "train.log").read_text()
    for weights in ("weights.pt", "snapshots/epoch0.pt", "snapshots/epoch1.pt"):
        a, b = (torch.load(results[n] / RUN / weights, weights_only=False)["state"] for n in results)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), weights
    untrained, final = (
        torch.load(results["killed"] / RUN / w, weights_only=False)["state"]
        for w in ("snapshots/epoch0.pt", "weights.pt")
    )
    assert not all(torch.equal(untrained[k], final[k]) for k in final), "the untrained network is not the final one"
    columns = ["epoch", "lr", "batch_size", "train_cross_entropy", "train_error", "test_cross_entropy", "test_error"]
    metrics = [pd.read_csv(results[n] / RUN / "metrics.csv")[columns] for n in results]
    pd.testing.assert_frame_equal(*metrics)
    summaries = [json.loads((results[n] / RUN / "summary.json").read_text()) for n in results]
    for key in ("train_cross_entropy", "train_error", "test_cross_entropy", "test_error"):
        assert summaries[0][key] == summaries[1][key]


DIVERGE_CONFIG = """
name: diverge
threads: {train: 1, analysis: 1}
probe: {fixed_size: 64}  # digits has 360 test images
experiments:
  fine:
    model: lenet5
    datasets: [digits]
    batch_sizes: [64]
    epochs: 2
    weight_decay: 5.0e-4
  exploding:
    model: lenet5
    variant: nobn
    datasets: [digits]
    batch_sizes: [32, 256]
    epochs: 3
    weight_decay: 5.0e-4
    lr_start: 1.0e+6
    lr_end: 1.0e+5
tables:
  fine: {experiment: fine, dataset: digits}
  exploding: {experiment: exploding, dataset: digits}
figures:
  fine: {experiment: fine, threshold: 1.0e-4}
  exploding: {experiment: exploding, threshold: 1.0e-4}
"""


@pytest.mark.slow
def test_divergence_is_a_status_not_a_crash(tmp_path):
    project = copy_project(tmp_path)
    (project / "diverge.yaml").write_text(DIVERGE_CONFIG)
    snakemake(project, "--configfile", "diverge.yaml")  # succeeds: every artifact is built
    for bs in (32, 256):
        summary = json.loads((project / f"results/runs/exploding/digits/bs{bs}-seed0/summary.json").read_text())
        assert summary["status"] == "diverged" and summary["epochs_completed"] < 3
        assert (
            "stopping (status 'diverged')"
            in (project / f"results/runs/exploding/digits/bs{bs}-seed0/train.log").read_text()
        )
    table = pd.read_csv(project / "results/tables/exploding.csv")
    assert (table["status"] == "diverged").all() and table["test_error"].isna().all()
    assert (project / "results/tables/exploding.md").read_text().count("diverged") >= 2 * 4
    rankloss = pd.read_csv(project / "results/analysis/exploding/rankloss.csv")
    assert set(rankloss["status"]) == {"diverged"}  # the run's status, on every row
    untrained = rankloss["epoch"] == 0  # the untrained network is measured all the same: the null stays
    assert rankloss[~untrained]["count"].isna().all() and rankloss[untrained]["count"].notna().all()
    assert (project / "results/figures/exploding.png").exists()
    assert (pd.read_csv(project / "results/tables/fine.csv")["status"] == "ok").all()


@pytest.mark.parametrize("schedule", ["exponential", "cosine"])
def test_learning_rate_runs_from_start_to_end(schedule):
    run = run_settings(lr_start=0.1, lr_end=1e-4, epochs=60, schedule=schedule)
    rates = [train.learning_rate(run, e) for e in range(60)]
    assert rates[0] == pytest.approx(0.1) and rates[-1] == pytest.approx(1e-4)
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_switch_batch_size_from_the_switch_epoch():
    run = run_settings(batch_size=4096, switch={"batch_size": 128, "epoch": 30})
    assert [train.batch_size(run, e) for e in (0, 29, 30, 59)] == [4096, 4096, 128, 128]


def train_digits(dataset, run, folder, device):
    folder.mkdir()
    files = [folder / name for name in ("weights.pt", "metrics.csv", "summary.json", "checkpoint.pt")]
    train.train(run, dataset, *files, {}, device)
    weights = torch.load(folder / "weights.pt", weights_only=False)["state"]
    metrics = pd.read_csv(folder / "metrics.csv").drop(columns=["seconds", "images_per_second"])
    return weights, metrics


def test_cuda_graphs_are_off_by_default_and_a_no_op_on_the_cpu(tmp_path):
    dataset, eager = digits_run_settings(tmp_path)
    assert eager.cuda_graphs is False
    model = torch.nn.Linear(2, 2)
    assert train.compiled(model, dataclasses.replace(eager, cuda_graphs=True), torch.device("cpu")) == (model, model)
    _, graphed = digits_run_settings(tmp_path, cuda_graphs=True, deterministic=True)
    results = [
        train_digits(dataset, s, tmp_path / name, torch.device("cpu"))
        for name, s in (("eager", dataclasses.replace(graphed, cuda_graphs=False)), ("graphed", graphed))
    ]
    (weights_a, metrics_a), (weights_b, metrics_b) = results
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    pd.testing.assert_frame_equal(metrics_a, metrics_b)


def test_cuda_graphs_compile_training_and_evaluation_in_reduce_overhead_mode(monkeypatch):
    """On a GPU (the device is only named here: nothing runs on it)."""
    modes = []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: modes.append(mode) or ("compiled", model))
    model = torch.nn.Linear(2, 2)
    step, evaluator = train.compiled(model, run_settings(cuda_graphs=True, compile=False), torch.device("cuda"))
    assert modes == ["reduce-overhead"] and step == ("compiled", model) and evaluator is step
    modes.clear()
    step, evaluator = train.compiled(model, run_settings(cuda_graphs=False, compile=True), torch.device("cuda"))
    assert modes == [None] and evaluator is model  # compile alone: evaluation stays eager, as before


# Compiled kernels are not eager's (fused, other summation orders), so a graphed run agrees with an
# eager one to a tolerance, not bit for bit: weights and losses after one epoch of 23 steps from the
# same weights; an image whose two largest logits nearly tie may flip, so error rates may differ by
# up to two of the 360 test images.
GRAPHS_TOLERANCE = {"rtol": 1e-3, "atol": 1e-4}
ERROR_TOLERANCE = 100 * 2 / 360


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_cuda_graphs_train_like_eager_within_the_tolerance(tmp_path):
    dataset, graphed = digits_run_settings(tmp_path, cuda_graphs=True, deterministic=True)
    results = [
        train_digits(dataset, s, tmp_path / name, torch.device("cuda"))
        for name, s in (("eager", dataclasses.replace(graphed, cuda_graphs=False)), ("graphed", graphed))
    ]
    (weights_a, metrics_a), (weights_b, metrics_b) = results
    for key in weights_a:
        torch.testing.assert_close(weights_b[key], weights_a[key], **GRAPHS_TOLERANCE)
    losses, errors = ["train_cross_entropy", "test_cross_entropy", "weight_penalty"], ["train_error", "test_error"]
    pd.testing.assert_frame_equal(metrics_b[losses], metrics_a[losses], check_exact=False, **GRAPHS_TOLERANCE)
    assert (metrics_b[errors] - metrics_a[errors]).abs().to_numpy().max() <= ERROR_TOLERANCE
