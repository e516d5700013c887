#!/usr/bin/env bash
# Run by Snakemake once it has deployed this environment (--sdm conda), inside it: the rankgap package
# of this checkout, whose dependencies the environment lists, so that the jobs' scripts import it.
set -euo pipefail
pip install --no-deps --editable "$(dirname "$0")/.."
