"""The comparison with the paper (rules table_comparison and comparison): from the files the pipeline
wrote, every number of our tables beside the paper's (paper.py) and every claim judged
(trends.py), and both in words and numbers, the claims side by side with the paper's.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from . import status
from .paper import compare_tables, reference_tables
from .tables import describe_loss, read_summaries
from .trends import figure_points, trend_claims
from .verdicts import (
    AGREES,
    ONE_SEED,
    VERDICTS,
    counts_as_agreement,
    criterion,
    judge,
    p_text,
    rho_text,
    verdict_in_words,
)


def compare_with_paper(
    tables_csv: dict[str, Path],
    table_summaries: dict[str, list[Path]],
    figures: dict[str, float],
    analysis: dict[str, Path] | None,
    probes: dict[str, str],
    reported_loss: dict[str, str],
    reference: pd.DataFrame | None = None,
    datasets: list[str] | None = None,
    unswitched: dict[str, list[Path]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every number of the tables beside the paper's, and every claim judged (see ``trend_claims``), from the
    files the pipeline wrote: per table its CSV and its runs' summaries; per figure its threshold
    (``figures``, the first the one that checks the threshold-free measures), with the experiment's
    ``analysis`` files (rankloss.csv as ``counts``, measures.csv as ``measures``); ``probes``, the
    probes' names by role.  Runs that did not finish ok are left out of the trends; ``datasets``:
    the only ones whose figure trends are checked."""
    reference = reference_tables() if reference is None else reference
    numbers = compare_tables({name: pd.read_csv(path) for name, path in tables_csv.items()}, reference)
    runs = {name: read_summaries(paths, reported_loss) for name, paths in table_summaries.items()}
    without = {name: read_summaries(paths, reported_loss) for name, paths in (unswitched or {}).items() if paths}
    points = {}
    if analysis and figures:
        counts, measured = pd.read_csv(analysis["counts"]), pd.read_csv(analysis["measures"])
        for figure, threshold in figures.items():
            frame = figure_points(counts, measured, threshold, probes)
            ok = frame["status"] == status.OK
            points[figure] = frame[ok & frame["dataset"].isin(datasets)] if datasets else frame[ok]
    claims = trend_claims(points, runs, reference, without, first_figures=set(list(figures)[:1]))
    return numbers, judge(claims)


def trends_formatted(claims: pd.DataFrame) -> pd.DataFrame:
    """The judged claims as the comparison shows them: ours and the paper's side by side."""
    return pd.DataFrame(
        {
            "Artifact": claims["artifact"],
            "Dataset": claims["dataset"],
            "Claim": claims["claim"],
            "n": claims["n"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}"),
            "Verdict": [verdict_in_words(row) for _, row in claims.iterrows()],
            "Seed range": [
                f"{rho_text(lo)} to {rho_text(hi)}" if not math.isnan(lo) else ""
                for lo, hi in zip(claims["seed_min"], claims["seed_max"])
            ],
            "Change (± se)": [
                "" if math.isnan(c) else f"{c:+.4g}" + ("" if math.isnan(se) else f" ± {se:.2g}")
                for c, se in zip(claims["change"], claims["change_se"])
            ],
            "Paper": [
                verdict if math.isnan(rho) else f"{verdict} (ρ {rho_text(rho)}, p {p_text(p)})"
                for verdict, rho, p in zip(claims["paper_verdict"], claims["paper_rho"], claims["paper_p_value"])
            ],
            **{
                heading: claims[column].astype(object).where(claims[column].notna(), "")
                for heading, column in (
                    ("Driven by", "driven by"),
                    ("Our values", "values"),
                    ("Untrained (epoch 0)", "untrained_values"),
                )
            },
        }
    )


def write_paper_comparison(
    numbers: pd.DataFrame, claims: pd.DataFrame, csv: Path, trends_csv: Path, md: Path, reported_loss: dict[str, str]
) -> None:
    """The comparison of every table: its numbers (``csv``), its judged claims (``trends_csv``) and
    both in words (``md``)."""
    numbers.to_csv(csv, index=False)
    claims.to_csv(trends_csv, index=False)
    ours, theirs = claims["verdict"].value_counts(), claims["paper_verdict"].value_counts()
    tally = ", ".join(f"{ours[v]} {v}" for v in VERDICTS if ours.get(v, 0))
    agreeing = int(sum(count for verdict, count in ours.items() if counts_as_agreement(verdict)))
    paper_checks = theirs[~theirs.index.str.startswith("n/a")].sum()  # the paper prints numbers for enough points
    text = [
        "# The paper beside this run",
        "",
        f"Losses: ours are the {describe_loss(reported_loss)}, as config `reported_loss: "
        f"{{train: {reported_loss['train']}, test: {reported_loss['test']}}}` asks; the paper's are as it prints them.",
        "",
        "## Claims the paper makes",
        "",
        criterion(),
        "",
        f"{agreeing} of {len(claims)} claims agree with the paper's"
        + (f" ({tally})" if tally else "")
        + "; the paper's own numbers agree in "
        f"{theirs.get(AGREES + ONE_SEED, 0)} of the {paper_checks} checks they allow.",
        "",
        trends_formatted(claims).to_markdown(index=False, disable_numparse=True)
        if len(claims)
        else "(no tables or figures in this config)",
        "",
        "## Every number of the paper's tables",
        "",
    ]
    if len(numbers):
        shown = numbers.assign(
            paper=numbers["paper"].map("{:g}".format),
            ours=numbers["ours"].map("{:.4g}".format),
            difference=numbers["difference"].map("{:+.4g}".format),
        )
        text.append(shown.to_markdown(index=False, disable_numparse=True))
    else:
        text.append("No table of this config is named after one of the paper's (table1 ... table11, or tableN_...).")
    Path(md).write_text("\n".join(text) + "\n")
