"""The demo with its results in remote storage: Snakemake's S3 storage plugin against moto's S3
server, started here on 127.0.0.1 (nothing leaves the machine), every file read back from the bucket.

Needs snakemake-storage-plugin-s3 and moto[server] (the test extra); skipped without them unless
RANKGAP_REQUIRE_STORAGE=1 (as in CI), where their absence is a failure.  docs/clusters.md, "Remote
storage", says what stays on the local (or shared) filesystem.
"""

import importlib.util
import io
import logging
import os

import pandas as pd
import pytest
import yaml

from conftest import copy_project, snakemake

BUCKET = "rankgap"
PREFIX = "demo"  # the results' folder in the bucket
KEY = "testing"  # moto takes any credentials
# package: the module whose import proves it (moto.server imports flask, which only moto's server
# extra brings; the plugin is only found, Snakemake imports it)
REQUIRED = {"boto3": "boto3", "moto[server]": "moto.server", "snakemake-storage-plugin-s3": None}


def _require_storage_packages():
    missing = []
    for package, module in REQUIRED.items():
        try:
            if module:
                importlib.import_module(module)
            elif importlib.util.find_spec(package.replace("-", "_")) is None:
                missing.append(package)
        except ImportError:
            missing.append(package)
    if missing:
        reason = f"remote storage needs {', '.join(missing)}: pip install -e '.[test]'"
        if os.environ.get("RANKGAP_REQUIRE_STORAGE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def storage_options(endpoint: str) -> list[str]:
    """Every file of the workflow in the bucket, under PREFIX, through the S3 plugin at ``endpoint``."""
    return [
        "--default-storage-provider",
        "s3",
        "--default-storage-prefix",
        f"s3://{BUCKET}/{PREFIX}",
        "--storage-s3-endpoint-url",
        endpoint,
        "--storage-s3-access-key",
        KEY,
        "--storage-s3-secret-key",
        KEY,
    ]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """An S3 server on 127.0.0.1 with an empty bucket: (boto3 client, endpoint URL)."""
    _require_storage_packages()
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    with pytest.MonkeyPatch.context() as env:
        # fake credentials, and none of the user's AWS files (their region, profile, real keys)
        nowhere = str(tmp_path_factory.mktemp("aws") / "none")
        for name, value in {
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": nowhere,
            "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            client = boto3.client("s3", endpoint_url=endpoint)
            client.create_bucket(Bucket=BUCKET)
            yield client, endpoint
        finally:
            server.stop()


@pytest.fixture(scope="module")
def demo(s3, tmp_path_factory):
    """The demo run once with every file in the bucket: (working directory, client, endpoint)."""
    client, endpoint = s3
    workdir = copy_project(tmp_path_factory.mktemp("storage"))
    snakemake(workdir, "--configfile", "config/demo.yaml", *storage_options(endpoint))
    return workdir, client, endpoint


def keys(client) -> set[str]:
    """Every object in the bucket, relative to PREFIX."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    return {item["Key"].removeprefix(f"{PREFIX}/") for page in pages for item in page.get("Contents", [])}


def read(client, path: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{path}")["Body"].read()


def demo_config(workdir):
    return yaml.safe_load((workdir / "config/demo.yaml").read_text())


def test_the_tables_are_read_back_from_the_bucket(demo):
    workdir, client, _ = demo
    for name, spec in demo_config(workdir)["experiments"].items():
        table = pd.read_csv(io.BytesIO(read(client, f"results/tables/{name}.csv")))
        assert table["batch"].astype(int).tolist() == spec["batch_sizes"]
        assert (table["status"] == "ok").all()
        assert table["test_error"].between(0, 100).all()


def test_every_artifact_and_run_is_in_the_bucket(demo):
    workdir, client, _ = demo
    config = demo_config(workdir)
    stored = keys(client)
    expected = {
        "data/digits.safetensors",
        "results/report/demo/paper_comparison.md",
        "results/report/demo/paper_comparison.csv",
    }
    expected |= {f"results/tables/{t}{ext}" for t in config["tables"] for ext in (".csv", ".md", ".tex")}
    expected |= {f"results/figures/{f}{ext}" for f in config["figures"] for ext in (".pdf", ".png")}
    for experiment, spec in config["experiments"].items():
        expected |= {f"results/analysis/{experiment}/{name}.csv" for name in ("rankloss", "measures")}
        for bs in spec["batch_sizes"]:
            run = f"results/runs/{experiment}/digits/bs{bs}-seed0"
            # the snapshots and the logs of the training: written through the rule's outputs and log
            expected |= {f"{run}/{name}" for name in ("weights.pt", "summary.json", "train.log", "snapshots/epoch0.pt")}
            assert b'"status": "ok"' in read(client, f"{run}/summary.json")
    assert expected <= stored, sorted(expected - stored)
    # the probes' dumps are temp() (probe.keep_dumps false): deleted from the bucket after their SVDs
    assert not [key for key in stored if key.endswith("activations.safetensors")]
    assert "# " in read(client, "results/report/demo/paper_comparison.md").decode()


def test_only_snakemake_s_own_records_stay_local(demo):
    """No result, dataset or checkpoint in the working directory; under .snakemake/storage only the
    local copies of the logs and benchmarks that Snakemake keeps."""
    workdir, _, _ = demo
    assert not (workdir / "results").exists() and not (workdir / "data").exists()
    copies = [p for p in (workdir / ".snakemake/storage").rglob("*") if p.is_file()]
    assert copies and all(p.name.endswith((".log", ".benchmark.tsv")) for p in copies), copies
    assert (workdir / ".snakemake/metadata").is_dir()  # what a rerun compares against: local, not in the bucket


def test_the_runs_table_reads_its_summaries_from_the_bucket(demo):
    """`snakemake runs` passes the summaries in a param (with their wildcards), not as input paths alone."""
    workdir, client, endpoint = demo
    snakemake(workdir, "runs", "--configfile", "config/demo.yaml", *storage_options(endpoint))
    runs = pd.read_csv(io.BytesIO(read(client, "results/report/demo/runs.csv")))
    experiments = demo_config(workdir)["experiments"]
    assert len(runs) == sum(len(spec["batch_sizes"]) for spec in experiments.values())
    assert (runs["status"] == "ok").all()
    assert not (workdir / "results").exists()


def test_a_second_run_against_the_bucket_has_nothing_to_do(demo):
    workdir, _, endpoint = demo
    out = snakemake(workdir, "--configfile", "config/demo.yaml", *storage_options(endpoint), "--dry-run")
    assert "Nothing to be done" in out.stdout + out.stderr
