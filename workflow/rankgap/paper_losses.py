"""The paper's losses beside ours: per run the paper prints a loss for and per split, the paper's
loss beside both kinds of ours (the objective, the cross-entropy: the paper does not say which it
prints), one row per number of the paper, and which kind is nearer, by the sign test of the
analysis plan (loss_kind).  A published table's README reports them (readme_parts.py, readmes.py).
"""

from __future__ import annotations

import pandas as pd

from . import significance
from .paper import paper_table
from .significance import ALPHA
from .tables import REPORTED_LOSS, SPLITS


def loss_evidence(ours: dict[str, pd.DataFrame], reference: pd.DataFrame) -> pd.DataFrame:
    """Per run the paper has a number for and per split: the paper's loss beside both kinds of ours
    (the table CSVs keep both), and whether our fit is comparable (training error within 1 point
    of the paper's: a model that fits less has another loss whichever kind is printed)."""
    rows = []
    for name, table in ours.items():
        refs = reference[reference["table"] == paper_table(name)].set_index("batch")
        for _, run in table[table["batch"].astype(str).isin(refs.index)].iterrows():
            ref = refs.loc[str(run["batch"])]
            for split in SPLITS:
                rows.append(
                    {
                        "table": name,
                        "batch": str(run["batch"]),
                        "split": split,
                        "paper": ref[f"{split}_loss"],
                        **{kind: run[f"{split}_{kind}"] for kind in REPORTED_LOSS},
                        "comparable fit": abs(run["train_error"] - ref["train_error_pct"]) <= 1,
                    }
                )
    return pd.DataFrame(rows, columns=["table", "batch", "split", "paper", *REPORTED_LOSS, "comparable fit"])


def one_fit_per_number(evidence: pd.DataFrame) -> pd.DataFrame:
    """The loss evidence of every table with one row per number of the paper (analysis plan:
    loss_kind): where several of our tables stand beside the same number (Table 11's baseline is
    Table 5's run; table5_cosine stands beside Table 5), the table named after the paper's counts,
    else the first."""
    numbered = evidence.reset_index(drop=True).assign(
        paper_table=[paper_table(t) for t in evidence["table"]],
        variant=[t != f"table{paper_table(t)}" for t in evidence["table"]],
        other_fit=~evidence["comparable fit"].astype(bool).to_numpy(),
    )
    numbered = numbered.sort_values(["other_fit", "variant"], kind="stable")
    numbered = numbered.drop_duplicates(["paper_table", "batch", "split"]).sort_index()
    return numbered.drop(columns=["paper_table", "variant", "other_fit"])


def loss_summary(evidence: pd.DataFrame) -> pd.DataFrame:
    """Per split: the mean |ours - paper| of each kind of loss, over every run and over the comparable
    fits, and in how many of those runs each kind is the nearer."""
    rows = []
    for split, group in evidence.groupby("split", sort=False):
        for runs, subset in (("all", group), ("comparable fits", group[group["comparable fit"]])):
            distance = {kind: (subset[kind] - subset["paper"]).abs() for kind in REPORTED_LOSS}
            rows.append(
                {
                    "split": split,
                    "runs": runs,
                    "n": len(subset),
                    **{f"mean |Δ| {kind}": d.mean() for kind, d in distance.items()},
                    "objective nearer": int((distance["objective"] < distance["cross_entropy"]).sum()),
                }
            )
    return pd.DataFrame(rows)


def loss_verdicts(evidence: pd.DataFrame) -> dict[str, dict]:
    """Per split, over the comparable fits: in how many our objective is nearer the paper's loss than
    our cross-entropy, the sign test's p-value, and the kind that is nearer beyond chance (None
    when neither is)."""
    verdicts = {}
    for split, group in evidence[evidence["comparable fit"]].groupby("split", sort=False):
        distance = {kind: (group[kind] - group["paper"]).abs() for kind in REPORTED_LOSS}
        wins = int((distance["objective"] < distance["cross_entropy"]).sum())
        p = significance.sign_test(wins, len(group))
        nearer = ("objective" if 2 * wins > len(group) else "cross_entropy") if p <= ALPHA else None
        verdicts[split] = {"n": len(group), "objective_nearer": wins, "p_value": p, "nearer": nearer}
    return verdicts
