"""The Kubernetes, Google Batch and AWS Batch profiles, through each executor plugin's own code.

No cluster and no cloud account: a training's and a light job's resources, as Snakemake makes them
from the rule's declaration and the profile (parsed by Snakemake's profile parser, merged and
evaluated as Snakemake does), go to the plugin's own submission code, whose API client is a mock
that keeps the job specification it is handed. A training must ask for one NVIDIA GPU, a light job
for none, and no job may be refused. Each plugin's tests are skipped where it is not installed.
"""

import asyncio
import dataclasses
import functools
import threading
import typing
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from snakemake.cli import parse_set_resources, parse_set_threads
from snakemake.iocontainers import ResourceList, Wildcards
from snakemake.profiles import ProfileConfigFileParser
from snakemake.resources import GroupResources, Resources
from snakemake_interface_common.exceptions import WorkflowError

from rankgap import configuration, resources

REPO = Path(__file__).resolve().parents[1]
CONFIG = configuration.read(REPO / "config.yaml")
# A LeNet-5 training of config.yaml, and its probe (a light job: probe.gpu is false there)
RUN = ("lenet5_bn", "mnist", 128)
COMMAND = "snakemake --version"  # what the job would run; its text does not matter here


@functools.cache
def profile(name: str) -> dict:
    """The profile as Snakemake reads it (set-resources as RULE:NAME=VALUE, and so on)."""
    path = REPO / "profiles" / name / "config.yaml"
    with path.open() as stream:
        return ProfileConfigFileParser().parse(stream)


# What the submitted rules with estimates declare (workflow/rules/*.smk): gpu=gpus(wanted) where
# a rule names one (weight_spectra does not), and their threads
GPU_WANTED = {
    "train": True,
    "probe": CONFIG["probe"]["gpu"],
    "spectra": CONFIG["probe"]["gpu"],
    "sharpness": CONFIG["rivals"]["gpu"],
}
THREADS = {"train": "train", "probe": "train"}  # the others': threads.analysis


class Input(list):
    size_mb = 100  # a dataset's (only Snakemake's default disk_mb reads it)


def job_resources(name: str, rule: str, attempt: int = 1, estimates: dict | None = None) -> ResourceList:
    """A job's resources as Snakemake computes them under the profile: its default-resources, then
    what the rule declares, then the profile's set-resources for the rule (workflow.py), each
    evaluated (rules.py: Rule.expand_resources), as a dry run with the profile prints them."""
    settings = profile(name)
    device = dict(item.split("=", 1) for item in settings.get("config", [])).get("device", CONFIG["device"])
    declared = dict((estimates or resources.job_resources(CONFIG, *RUN, attempt))[rule])
    if rule in GPU_WANTED:
        declared["gpu"] = int(bool(GPU_WANTED[rule]) and device != "cpu")  # common.smk: gpus()
    threads = CONFIG["threads"][THREADS.get(rule, "analysis")]
    overwritten = parse_set_threads(settings.get("set-threads")).get(rule)
    if overwritten is not None:
        threads = overwritten.value
    if "default-resources" in settings:  # over Snakemake's defaults of mem_mb, disk_mb and tmpdir
        merged = Resources.parse(settings["default-resources"], allow_expressions=True, defaults="full")
    else:  # tmpdir only (settings/types.py: ResourceSettings)
        merged = Resources.default("bare")
    merged.update(Resources.from_mapping(declared))
    merged.update(parse_set_resources(settings.get("set-resources")).get(rule, {}))

    def evaluate(resource):
        return resource.evaluate(
            wildcards=Wildcards(),
            input=Input(["data/mnist.safetensors"]),
            attempt=attempt,
            threads=threads,
            rulename=rule,
            async_run=asyncio.run,
        )

    values = dict(merged.expand_items(constraints={}, evaluate=evaluate))
    return ResourceList(fromdict={**values, "_cores": threads, "_nodes": 1})


def job(name: str, rule: str, **kwargs) -> SimpleNamespace:
    """What an executor plugin reads of a Snakemake job."""
    return SimpleNamespace(
        name=rule,
        rule=SimpleNamespace(name=rule),
        jobid=1,
        attempt=kwargs.get("attempt", 1),
        resources=job_resources(name, rule, **kwargs),
        is_containerized=False,
        is_group=lambda: False,
        logfile_suggestion=lambda prefix: f"{prefix}/{rule}.log",
    )


def group_job(name: str, rules: tuple[str, ...]) -> SimpleNamespace:
    """A group job of one job per rule, one after another (a probe and its SVDs: resources.job_group),
    its resources merged as Snakemake merges them (jobs.py: GroupJob.resources)."""
    members = [[SimpleNamespace(resources=job_resources(name, rule), pipe_group=None)] for rule in rules]
    merged = GroupResources.basic_layered(
        members, constraints=Resources(), run_local=False, additive_resources=["runtime"], sortby=["runtime"]
    )
    return SimpleNamespace(
        **{
            **vars(job(name, rules[0])),
            "name": "group_" + "_".join(rules),
            "is_group": lambda: True,
            "rules": list(rules),
            "resources": ResourceList(fromdict=merged),
        }
    )


def executor_settings(plugin, name: str, **required):
    """The plugin's settings from the profile's --<executor>-<setting> entries (each must be one of
    the plugin's), converted as the command line would, and ``required`` ones the user fills in."""
    fields = {field.name: field for field in dataclasses.fields(plugin.ExecutorSettings)}
    prefix = profile(name)["executor"] + "-"
    values = {}
    for key, value in profile(name).items():
        if key.startswith(prefix):
            setting = key.removeprefix(prefix).replace("-", "_")
            assert setting in fields, f"{key} in profiles/{name} is not a setting of the plugin"
            kind = next(t for t in typing.get_args(fields[setting].type) or (fields[setting].type,))
            values[setting] = kind(value)
    return plugin.ExecutorSettings(**{**required, **values})


@pytest.mark.parametrize(
    "name, package",
    [
        ("kubernetes", "snakemake-executor-plugin-kubernetes"),
        ("googlebatch", "snakemake-executor-plugin-googlebatch"),
        ("aws-batch", "snakemake-executor-plugin-aws-batch"),
    ],
)
def test_each_profile_names_its_plugin(name, package):
    """Snakemake finds an executor plugin by its package name, snakemake-executor-plugin-<executor>."""
    assert profile(name)["executor"] == package.removeprefix("snakemake-executor-plugin-")
    assert "device=cuda" in profile(name)["config"]


# Kubernetes


@pytest.fixture
def kubernetes(monkeypatch, tmp_path):
    """The plugin's executor, set up by its own __post_init__ with the profile's settings, talking to
    mock API clients (no kubeconfig)."""
    plugin = pytest.importorskip("snakemake_executor_plugin_kubernetes")
    monkeypatch.setattr(plugin.kubernetes.config, "load_kube_config", lambda: None)
    monkeypatch.setattr(plugin.kubernetes.client, "CoreV1Api", mock.MagicMock)
    monkeypatch.setattr(plugin.kubernetes.client, "BatchV1Api", mock.MagicMock)
    executor = object.__new__(plugin.Executor)  # RemoteExecutor.__init__ would start its status thread
    executor.workflow = SimpleNamespace(
        executor_settings=executor_settings(plugin, "kubernetes"),
        persistence=SimpleNamespace(aux_path=tmp_path),
        remote_execution_settings=SimpleNamespace(container_image="rankgap:test"),
        spawned_job_args_factory=SimpleNamespace(envvars=dict),
    )
    executor.logger = mock.MagicMock()
    executor.lock = threading.Lock()
    executor.__post_init__()
    executor.format_job_exec = lambda job: COMMAND
    executor.report_job_submission = lambda info: None
    return executor


def pod_container(executor, job) -> dict:
    """The container of the job the plugin submits, as the API client would send it (JSON)."""
    import kubernetes

    executor.run_job(job)
    (namespace, body), _ = executor.batchapi.create_namespaced_job.call_args
    sent = kubernetes.client.ApiClient().sanitize_for_serialization(body)
    pod = sent["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return {**container["resources"], "tolerations": pod.get("tolerations", [])}


def extended_resources_valid(container: dict) -> bool:
    """The API server's rule for nvidia.com/gpu and other extended resources: a request needs a
    limit, and the two must be equal (else the job is refused)."""
    requests, limits = container.get("requests", {}), container.get("limits", {})
    return all(limits.get(name) == value for name, value in requests.items() if "/" in name)


def test_kubernetes_gives_a_training_one_nvidia_gpu(kubernetes):
    container = pod_container(kubernetes, job("kubernetes", "train"))
    assert container["limits"]["nvidia.com/gpu"] == "1"
    assert container["requests"]["nvidia.com/gpu"] == "1"
    assert extended_resources_valid(container)
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"} in container[
        "tolerations"
    ]
    # memory as the pipeline estimates it (resources.job_resources), a hard limit
    assert container["limits"]["memory"] == container["requests"]["memory"] == "4000M"


def test_kubernetes_gives_a_light_job_no_gpu(kubernetes):
    container = pod_container(kubernetes, job("kubernetes", "probe"))
    assert int(container["limits"].get("nvidia.com/gpu", 0)) == 0
    assert int(container["requests"].get("nvidia.com/gpu", 0)) == 0
    assert extended_resources_valid(container)


def test_kubernetes_takes_a_probe_and_its_svds_as_one_pod_without_gpu(kubernetes):
    """On a cluster a probe and its SVDs are one group job: the profile's gpu_manufacturer, a string,
    must be the same for both (Snakemake refuses to merge differing strings)."""
    container = pod_container(kubernetes, group_job("kubernetes", ("probe", "spectra")))
    assert int(container["limits"].get("nvidia.com/gpu", 0)) == 0
    assert extended_resources_valid(container)


def test_kubernetes_refuses_gpu_jobs_without_the_profiles_manufacturer(kubernetes):
    """Why the profile names the manufacturer: without it the plugin refuses every job that
    declares `gpu`, 0 included (train, probe, spectra and sharpness do)."""
    light = job("kubernetes", "probe")
    light.resources = ResourceList(fromdict={k: v for k, v in light.resources.items() if k != "gpu_manufacturer"})
    with pytest.raises(WorkflowError, match="manufacturer"):
        kubernetes.run_job(light)


# Google Batch


@pytest.fixture
def googlebatch(monkeypatch, tmp_path):
    """The plugin's executor, set up by its own __post_init__ with the profile's settings (and a
    project and region the user fills in), talking to a mock Batch client (no credentials)."""
    plugin = pytest.importorskip("snakemake_executor_plugin_googlebatch")
    from snakemake_executor_plugin_googlebatch import executor as module

    monkeypatch.setattr(module.batch_v1, "BatchServiceClient", mock.MagicMock)
    monkeypatch.chdir(tmp_path)  # the plugin makes .snakemake/googlebatch_logs/ for its logs
    settings = executor_settings(plugin, "googlebatch", project="my-project", region="us-central1")
    executor = object.__new__(plugin.Executor)
    executor.workflow = SimpleNamespace(
        executor_settings=settings,
        persistence=SimpleNamespace(path=str(tmp_path / ".snakemake")),
        remote_execution_settings=SimpleNamespace(
            container_image="rankgap:test",
            preemptible_rules=SimpleNamespace(is_preemptible=lambda rule: False),
            preemptible_retries=None,
        ),
        spawned_job_args_factory=SimpleNamespace(envvars=dict),
        main_snakefile=str(REPO / "Snakefile"),
    )
    executor.executor_settings = settings
    executor.logger = mock.MagicMock()
    executor.__post_init__()
    executor.format_job_exec = lambda job: COMMAND
    executor.report_job_submission = lambda info: None
    return executor


# The machine families each GPU attaches to (cloud.google.com/compute/docs/gpus)
GPU_MACHINES = {"nvidia-tesla-t4": "n1-", "nvidia-l4": "g2-", "nvidia-tesla-a100": "a2-"}


def batch_instance(executor, job):
    """The VM the plugin asks for: the instance policy of the job it submits."""
    executor.run_job(job)
    (request,), _ = executor.batch.create_job.call_args
    assert request.parent == "projects/my-project/locations/us-central1"
    (instance,) = request.job.allocation_policy.instances
    return instance


def test_googlebatch_gives_a_training_one_nvidia_gpu(googlebatch):
    instance = batch_instance(googlebatch, job("googlebatch", "train"))
    (accelerator,) = instance.policy.accelerators
    assert accelerator.count == 1
    assert instance.policy.machine_type.startswith(GPU_MACHINES[accelerator.type_])
    assert instance.install_gpu_drivers


def test_googlebatch_gives_a_light_job_no_gpu(googlebatch):
    instance = batch_instance(googlebatch, job("googlebatch", "probe"))
    assert not instance.policy.accelerators and not instance.install_gpu_drivers
    assert instance.policy.machine_type == profile("googlebatch")["googlebatch-machine-type"]


# AWS Batch


@pytest.fixture
def aws_batch(monkeypatch):
    """The plugin's executor, set up by its own __post_init__ with the profile's settings (and the
    region, queue and role the user fills in), talking to a mock Batch client (no credentials)."""
    plugin = pytest.importorskip("snakemake_executor_plugin_aws_batch")
    monkeypatch.setattr(plugin, "BatchClient", mock.MagicMock)
    settings = executor_settings(
        plugin, "aws-batch", region="us-east-1", job_queue="my-gpu-queue", job_role="my-batch-job-role"
    )
    executor = object.__new__(plugin.Executor)
    executor.workflow = SimpleNamespace(
        executor_settings=settings,
        remote_execution_settings=SimpleNamespace(container_image="rankgap:test"),
        spawned_job_args_factory=SimpleNamespace(envvars=dict),
    )
    executor.logger = mock.MagicMock()
    executor.__post_init__()
    executor.batch_client.register_job_definition.return_value = {"jobDefinitionName": "def", "revision": 1}
    executor.batch_client.submit_job.return_value = {"jobName": "job", "jobId": "1"}
    executor.format_job_exec = lambda job: COMMAND
    executor.report_job_submission = lambda info: None
    return executor


def container_requirements(executor, job) -> dict:
    """The resource requirements of the job definition the plugin registers."""
    executor.run_job(job)
    definition = executor.batch_client.register_job_definition.call_args.kwargs
    assert definition["timeout"] == {"attemptDurationSeconds": 86400}
    return {r["type"]: int(r["value"]) for r in definition["containerProperties"]["resourceRequirements"]}


def test_aws_batch_gives_a_training_one_gpu(aws_batch):
    requirements = container_requirements(aws_batch, job("aws-batch", "train"))
    assert requirements["GPU"] == 1
    assert requirements["VCPU"] == CONFIG["threads"]["train"]
    assert requirements["MEMORY"] >= 4000  # the training's estimate (raised to one of the plugin's sizes)


def test_aws_batch_gives_a_light_job_no_gpu(aws_batch):
    requirements = container_requirements(aws_batch, job("aws-batch", "probe"))
    assert "GPU" not in requirements


def test_aws_batch_refuses_no_job_of_the_paper(aws_batch):
    """The plugin refuses a memory of its table that its vCPUs do not allow: no job of config.yaml
    with an estimate (resources.job_resources), at any of the profile's attempts, asks for one."""
    retries = int(profile("aws-batch")["retries"])
    jobs = 0
    for experiment, settings in CONFIG["experiments"].items():
        for dataset in settings["datasets"]:
            for batch_size in settings["batch_sizes"]:
                for attempt in range(1, retries + 2):
                    estimates = resources.job_resources(CONFIG, experiment, dataset, batch_size, attempt)
                    for rule in estimates:
                        container_requirements(aws_batch, job("aws-batch", rule, attempt=attempt, estimates=estimates))
                        jobs += 1
    assert aws_batch.batch_client.submit_job.call_count == jobs > 0
