"""The smoke config through the SLURM profile, on a real one-node SLURM cluster this test starts.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (.ci/run installs them); skipped
without them unless RANKGAP_REQUIRE_SLURM=1 (as in CI), where their absence is a failure.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, copy_project

CLUSTER = REPO / "tests" / "slurm_cluster.sh"


@pytest.fixture(scope="module")
def cluster():
    missing = [c for c in ("slurmctld", "slurmd", "munged", "sbatch", "squeue") if shutil.which(c) is None]
    if missing or os.geteuid() != 0:
        reason = f"a SLURM cluster needs root and {', '.join(missing) or 'the SLURM packages'}"
        if os.environ.get("RANKGAP_REQUIRE_SLURM") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    try:  # the daemons are stopped whatever happens, failures included
        subprocess.run([str(CLUSTER), "start"], check=True, capture_output=True, text=True, timeout=180)
        yield
    finally:
        subprocess.run([str(CLUSTER), "stop"], capture_output=True, timeout=120)


def slurm_project(path):
    """A copy of the project with the real SLURM profile plus a test overlay: this cluster's
    partition, and squeue for job status (there is no slurmdbd here, so no sacct)."""
    project = copy_project(path)
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = "debug"
    profile.update({"slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 2,
                    "slurm-keep-successful-logs": True})
    (project / "test-profile").mkdir()
    (project / "test-profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    return project


def run_on_slurm(project, *args, limit=900):
    # SIGINT, not SIGTERM, lets Snakemake cancel its SLURM jobs
    command = ["timeout", "-s", "INT", "-k", "30", str(limit), sys.executable, "-m", "snakemake",
               "--profile", "test-profile", "--configfile", "config/smoke.yaml", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True)


def test_smoke_config_runs_through_the_slurm_profile(cluster, tmp_path):
    project = slurm_project(tmp_path)
    result = run_on_slurm(project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    runs = project / "results/runs/smoke/digits"
    jobs = {json.loads((runs / f"bs{bs}-seed0/summary.json").read_text())["slurm_job_id"] for bs in (8, 512)}
    assert None not in jobs and len(jobs) == 2  # each training was its own SLURM job
    logs = project / ".snakemake/slurm_logs"
    for rule, count in {"train": 2, "dump": 4, "spectra": 4}.items():
        assert len(list((logs / f"rule_{rule}").rglob("*.log"))) == count, f"{rule} jobs went through sbatch"
    for rule in ("dataset", "rankloss", "table", "figure", "comparison"):  # light rules stay on the login node
        assert not (logs / f"rule_{rule}").exists()
    assert (project / "results/tables/smoke_table.md").exists()
    assert (project / "results/figures/smoke_figure.pdf").read_bytes().startswith(b"%PDF")


def test_a_failing_cluster_job_fails_the_run_with_its_log_path(cluster, tmp_path):
    project = slurm_project(tmp_path)
    (project / "data").mkdir()
    (project / "data/digits.safetensors").write_bytes(b"not a dataset")  # every training job will fail
    result = run_on_slurm(project, "--retries", "0", limit=600)
    assert result.returncode not in (0, 124, 137), "it must fail, not hang"
    message = result.stdout + result.stderr
    assert "Error in rule train" in message
    assert "results/runs/smoke/digits/bs8-seed0/train.log" in message
