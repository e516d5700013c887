"""The paper's trainings on one GPU: several at once and with CUDA graphs, against today's baseline
(one job per GPU, eager), and the GPU-hours of the whole paper at each speed (docs/gpus.md).

For each model and batch size of a config's grid (every experiment's batch sizes and switch batch
sizes; config.yaml: the paper's), it trains the pipeline's own settings of the first experiment with
that model (the schema's defaults filled in) for --epochs epochs on synthetic data of the real size:
first the baseline, one process and eager; then k processes at once on the same GPU for each k of
--jobs-per-gpu (what jobs_per_gpu: k does), with CUDA graphs off and on.  Each process's last epoch
counts (the first pays for cuDNN autotuning, compilation and graph capture), test evaluation
included; the k processes' images/s add up to the GPU's.  The projection sums, over every run of
the grid (seeds, datasets, batch sizes, a switch run's two parts), epochs x training images / the
images/s measured for its model and batch size.  Dumps and SVDs run on the CPU (probe.gpu: false)
and are not counted.

    python benchmarks/paper_gpu_hours.py                              # the whole grid, k = 1, 2, 4, graphs off and on
    python benchmarks/paper_gpu_hours.py --models lenet5 --csv lenet5.csv
    python benchmarks/paper_gpu_hours.py --tiny --models lenet5 --batch-sizes 128   # the code on a CPU, 1% of the data
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import multiprocessing
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
from gpu_training import synthetic_dataset  # noqa: E402

from rankgap import configuration, settings, train  # noqa: E402
from rankgap.registry import SHAPES  # noqa: E402


def load_config(path: Path) -> dict:
    """The config as the pipeline sees it: the schema's defaults filled in."""
    config = yaml.safe_load(path.read_text())
    configuration.fill(config)
    return config


def paper_runs(config: dict) -> list[tuple[str, str, int, int]]:
    """(model, dataset, batch size, epochs) of every training of the grid, a switch run as its two
    parts, once per seed."""
    runs = []
    for exp in config["experiments"].values():
        switch = exp.get("switch")
        for dataset in exp["datasets"]:
            for batch_size in exp["batch_sizes"]:
                parts = (
                    [(batch_size, switch["epoch"]), (switch["batch_size"], exp["epochs"] - switch["epoch"])]
                    if switch
                    else [(batch_size, exp["epochs"])]
                )
                runs += [(exp["model"], dataset, bs, epochs) for bs, epochs in parts if epochs] * len(config["seeds"])
    return runs


def measured_configurations(config: dict, models: list[str], batch_sizes: list[int] | None) -> dict:
    """(model, batch size) -> (experiment, dataset) that stands for it: the first experiment with
    that model, on its first dataset (datasets of one image size train at one speed)."""
    chosen = {}
    for experiment, exp in config["experiments"].items():
        switch = [exp["switch"]["batch_size"]] if exp.get("switch") else []
        for bs in exp["batch_sizes"] + switch:
            if exp["model"] in models and (batch_sizes is None or bs in batch_sizes):
                chosen.setdefault((exp["model"], bs), (experiment, exp["datasets"][0]))
    return dict(sorted(chosen.items()))


def last_epoch_speed(run: settings.RunSettings, dataset: Path, folder: Path, device: str, threads: int) -> float:
    """Train one run in this process with the threads a pipeline job has; the images/s of its last epoch."""
    folder.mkdir(parents=True)
    torch.set_num_threads(threads)
    files = [folder / name for name in ("weights.pt", "metrics.csv", "summary.json", "checkpoint.pt")]
    train.train(run, dataset, *files, {}, torch.device(device))
    return float(pd.read_csv(folder / "metrics.csv")["images_per_second"].iloc[-1])


def gpu_speed(run: settings.RunSettings, dataset: Path, folder: Path, device: str, jobs: int, threads: int) -> float:
    """Images/s of the device with ``jobs`` trainings at once, each in its own process (a fresh
    CUDA context, as a pipeline job has), started together."""
    spawn = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=spawn) as pool:
        futures = [
            pool.submit(last_epoch_speed, run, dataset, folder / f"job{i}", device, threads) for i in range(jobs)
        ]
        return sum(f.result() for f in futures)


def projected_hours(config: dict, speeds: dict[tuple[str, int], float]) -> float:
    """GPU-hours of every training of the grid at ``speeds`` ((model, batch size) -> images/s)."""
    seconds = sum(
        epochs * SHAPES[dataset].train / speeds[(model, bs)] for model, dataset, bs, epochs in paper_runs(config)
    )
    return seconds / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml", help="the grid (default: the paper's)")
    parser.add_argument("--models", nargs="+", default=["lenet5", "vgg16", "resnet56"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", help="default: every batch size of the grid")
    parser.add_argument("--epochs", type=int, default=3, help="per training; the last one is timed")
    parser.add_argument("--jobs-per-gpu", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cuda-graphs", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="1%% of the data, on the CPU when there is no GPU: checks this script, measures nothing",
    )
    parser.add_argument("--csv", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    if not (torch.cuda.is_available() or args.tiny):
        sys.exit(
            "paper_gpu_hours.py measures a GPU, and this machine has none (torch.cuda.is_available() is "
            "False); --tiny runs a tiny version on the CPU to check the script"
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    card = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    config = load_config(args.config)
    options = [(1, False)] + [
        (k, graphs == "on")
        for k in args.jobs_per_gpu
        for graphs in args.cuda_graphs
        if (k, graphs == "on") != (1, False)
    ]  # the baseline first, once
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for (model, bs), (experiment, dataset) in measured_configurations(
            config, args.models, args.batch_sizes
        ).items():
            path = tmp / f"{dataset}.safetensors"
            if not path.exists():
                path = synthetic_dataset(dataset, tmp, 0.01 if args.tiny else 1.0)
            planned = settings.run_settings(config, experiment, dataset, bs, 0)
            for jobs, graphs in options:
                # a switch run at one batch size
                run = dataclasses.replace(planned, epochs=args.epochs, cuda_graphs=graphs, switch=None)
                speed = gpu_speed(
                    run, path, tmp / f"{model}-{bs}-{jobs}-{graphs}", device, jobs, config["threads"]["train"]
                )
                if (jobs, graphs) == (1, False):  # the first of the options
                    baseline = speed
                rows.append(
                    {
                        "card": card,
                        "model": model,
                        "dataset": dataset,
                        "batch_size": bs,
                        "jobs_per_gpu": jobs,
                        "cuda_graphs": graphs,
                        "images_per_second": round(speed),
                        "speedup": round(speed / baseline, 2),
                    }
                )
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False))
    if args.csv:
        table.to_csv(args.csv, index=False)
    print_projection(config, table, args)


def print_projection(config: dict, table: pd.DataFrame, args) -> None:
    """The whole grid's GPU-hours at each setting and at the fastest setting of each model and batch size."""
    needed = {(model, bs) for model, _, bs, _ in paper_runs(config)}
    missing = sorted(needed - set(zip(table["model"], table["batch_size"])))
    if missing:
        print(f"\nno projection of the whole grid: not measured {missing} (run without --models/--batch-sizes)")
        return
    print(f"\nprojected GPU-hours of every training in {args.config.name} on {table['card'].iloc[0]}:")
    for (jobs, graphs), measured in table.groupby(["jobs_per_gpu", "cuda_graphs"]):
        speeds = dict(zip(zip(measured["model"], measured["batch_size"]), measured["images_per_second"]))
        label = (
            "baseline (one job per GPU, eager)"
            if (jobs, graphs) == (1, False)
            else f"jobs_per_gpu {jobs}, cuda_graphs {graphs}"
        )
        print(f"  {label}: {projected_hours(config, speeds):.2f}")
    fastest = table.groupby(["model", "batch_size"])["images_per_second"].max()
    print(f"  the fastest setting of each model and batch size: {projected_hours(config, fastest.to_dict()):.2f}")


if __name__ == "__main__":
    main()
