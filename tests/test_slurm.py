"""The smoke config through the SLURM profile, on a real one-node SLURM cluster this test starts.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge (.ci/run installs them); skipped
without them unless RANKGAP_REQUIRE_SLURM=1 (as in CI), where their absence is a failure.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, copy_project, snakemake
from rankgap import configuration, resources

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
    partition, squeue for job status (there is no slurmdbd here, so no sacct), no more cores per
    group submission than this machine's node has, and its CPU allowed to train."""
    project = copy_project(path)
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = "debug"
    profile.update(
        {
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "slurm-keep-successful-logs": True,
            "cores": min(profile["cores"], os.cpu_count()),
            "config": ["device=auto"],  # the profile's device=cuda, but this cluster's node has no GPU
        }
    )
    (project / "test-profile").mkdir()
    (project / "test-profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    return project


def run_on_slurm(project, *args, limit=900):
    # as docs/clusters.md says: the SLURM profile as the workflow profile (replacing profiles/default);
    # SIGINT, not SIGTERM, lets Snakemake cancel its SLURM jobs
    command = [
        "timeout",
        "-s",
        "INT",
        "-k",
        "30",
        str(limit),
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        "test-profile",
        "--configfile",
        "config/smoke.yaml",
        *args,
    ]
    return subprocess.run(command, cwd=project, capture_output=True, text=True)


def slurm_job_ids(project):
    """The SLURM job of each smoke training, by batch size (from the runs' summaries)."""
    runs = project / "results/runs/smoke/digits"
    return {bs: json.loads((runs / f"bs{bs}-seed0/summary.json").read_text())["slurm_job_id"] for bs in (8, 512)}


def test_the_profile_sizes_its_groups_from_the_runtime_estimates():
    """The profile's group-components are what resources.group_components derives for config.yaml."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    config = configuration.read(REPO / "config.yaml")
    assert profile["group-components"] == resources.group_components(config)
    # LeNet-5's trainings and every probe are short; ResNet-56's trainings are submissions of their own
    assert {"lenet5_trainings", "lenet5_probes", "vgg16_probes", "resnet56_probes"} <= set(profile["group-components"])
    assert resources.job_group(config, "train", "resnet56", "cifar10", 128) is None


def test_the_gres_profile_asks_for_gres_instead_of_gpus(tmp_path):
    """What the SLURM plugin makes of a training job's resources under the gres profile (a dry
    run's resources, through the plugin's own function); the cluster test below submits them."""
    plugin = pytest.importorskip("snakemake_executor_plugin_slurm.utils")
    from snakemake.iocontainers import ResourceList

    project = copy_project(tmp_path)
    dry_run = snakemake(
        project,
        "--workflow-profile",
        "profiles/slurm",
        "--profile",
        "profiles/slurm-gres",
        "--configfile",
        "config/smoke.yaml",
        "--dry-run",
        "results/runs/smoke/digits/bs8-seed0/summary.json",
    )
    train = re.search(r"rule train:.*?resources: ([^\n]*)", dry_run.stdout, re.DOTALL)
    resources = dict(item.split("=", 1) for item in train.group(1).split(", "))
    assert (resources["gpu"], resources["gres"]) == ("0", "gpu:1")
    # trainings as wide as a submission: one at a time on its one GPU, their runtimes summed
    width = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())["cores"]
    assert yaml.safe_load((REPO / "profiles/slurm-gres/config.yaml").read_text())["set-threads"]["train"] == width
    assert f"threads: {min(width, 2)}" in train.group(0)  # at most --cores
    job = type("Job", (), {"resources": ResourceList(fromdict={"gpu": 0, "gres": resources["gres"]})})()
    assert plugin.set_gres_string(job) == " --gres=gpu:1"


def test_smoke_config_runs_through_the_slurm_profile_in_groups(cluster, tmp_path):
    project = slurm_project(tmp_path)
    result = run_on_slurm(project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    jobs = slurm_job_ids(project)
    assert None not in jobs.values() and len(set(jobs.values())) == 1  # both trainings in one submission
    # one log per sbatch: 2 trainings, 12 probes and 12 SVD jobs went in two submissions, one per group
    # (the light rules stay on the login node)
    submissions = sorted(path.parent.name for path in (project / ".snakemake/slurm_logs").rglob("*.log"))
    assert submissions == ["group_lenet5_probes_probe_spectra", "group_lenet5_trainings_train"], submissions
    assert (project / "results/tables/smoke_table.md").exists()
    assert (project / "results/figures/smoke_figure.pdf").read_bytes().startswith(b"%PDF")


def test_the_gres_profile_submits_with_gres_on_slurm(cluster, tmp_path):
    project = slurm_project(tmp_path)
    result = run_on_slurm(
        project,
        "--profile",
        "profiles/slurm-gres",
        *[f"results/runs/smoke/digits/bs{bs}-seed0/summary.json" for bs in (8, 512)],
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    job = slurm_job_ids(project)[8]
    shown = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True, check=True).stdout
    assert "TresPerNode=gres:gpu:1" in shown and "TresPerJob" not in shown, shown


def test_a_failing_cluster_job_fails_the_run_with_its_log_path(cluster, tmp_path):
    project = slurm_project(tmp_path)
    (project / "data").mkdir()
    (project / "data/digits.safetensors").write_bytes(b"not a dataset")  # every training job will fail
    result = run_on_slurm(project, "--retries", "0", limit=600)
    assert result.returncode not in (0, 124, 137), "it must fail, not hang"
    message = result.stdout + result.stderr
    assert "Error in rule train" in message
    assert "results/runs/smoke/digits/bs8-seed0/train.log" in message
