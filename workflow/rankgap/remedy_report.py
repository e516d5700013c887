"""A remedies comparison's outputs (rule remedy_comparison), from the analysis of remedies.py: every
run's numbers, the table of the conditions' means as markdown shows it, the figure of the gap
against each measure's change, the comparison in words (the template remedy_comparison.md.j2, which
a published comparison's README includes) and its summary row.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from . import figures, tables, templates  # noqa: E402
from .remedies import NARROWS, best, conditions, differences, effects, gap_correlations, spreads  # noqa: E402
from .significance import ALPHA  # noqa: E402


def shown(value: float, spec: str, missing: str = "n/a", unit: str = "") -> str:
    """A number as the markdown shows it, or ``missing`` for NaN."""
    return missing if math.isnan(value) else format(value, spec) + unit


def formatted_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the markdown shows it (a run that did not finish shows its status)."""

    def number(column, spec, unit=""):
        return [shown(value, spec, status, unit) for value, status in zip(table[column], table["status"])]

    def whole_or_two(columns):  # a mean over seeds: whole numbers stay whole, parts shown as precisely
        values = table[columns].stack()
        return ".0f" if (values == values.round()).all() else ".2f"

    count_spec = whole_or_two(["count", "dead_zeros", "other_zeros", "genuine"])

    def spread(column, spread_column, spec, unit=""):
        return [
            text if math.isnan(extra) or text == status else f"{text} ± {extra:.2f}"
            for text, extra, status in zip(number(column, spec, unit), table[spread_column], table["status"])
        ]

    invariant = {
        "Count at t·σmax": ("relative_count", ".4g"),
        "Effective rank (fraction)": ("effective_rank_fraction", ".4f"),
    }
    return pd.DataFrame(
        {
            "Remedy": table["remedy"],
            "Batch size": table["batch_size"].astype(str),
            "Test error (± sd)": spread("test_error", "test_error_std", ".2f", "%"),
            "Gap (± se)": spread("gap", "gap_se", "+.2f"),
            "Count": number("count", count_spec),
            "dead zeros / other zeros / genuine": [
                f"{d:{count_spec}} / {o:{count_spec}} / {g:{count_spec}}" if not math.isnan(d) else status
                for d, o, g, status in zip(table["dead_zeros"], table["other_zeros"], table["genuine"], table["status"])
            ],
            "Deficit": number("deficit", whole_or_two(["deficit"])),
            **{name: number(column, spec) for name, (column, spec) in invariant.items() if column in table},
            "λmax": number("lambda_max", ".4g"),
            "Trace": number("trace", ".4g"),
            "Weight alpha": number("weight_alpha", ".3f"),
            "Stable rank": number("weight_stable_rank", ".2f"),
        }
    )


def gap_figure(table: pd.DataFrame, measures: pd.DataFrame, title: str, pdf: Path, png: Path) -> None:
    """The gap (± its standard error) against each measure's large-minus-small difference, a point per
    remedy, a panel per measure."""
    gap = differences(table, "test_error")
    gap_se = table.drop_duplicates("remedy").set_index("remedy")["gap_se"].reindex(gap.index)
    columns = math.ceil(len(measures) / 2)
    fig, axes = plt.subplots(2, columns, figsize=(4 * columns, 7), squeeze=False)
    for ax, (_, row) in zip(axes.flat, measures.iterrows()):
        x = differences(table, row["measure"])
        ax.errorbar(x, gap, yerr=gap_se, fmt="o", capsize=3)  # ± a standard error (none with one seed)
        for remedy in gap.index:
            ax.annotate(
                remedy,
                (x[remedy], gap[remedy]),
                textcoords="offset points",
                xytext=(3, 3),
                fontsize=figures.MIN_FONTSIZE,
            )
        ax.set_xlabel(f"{row['description']}: large − small batch", fontsize=figures.MIN_FONTSIZE + 1)
        ax.set_ylabel("gap (test error points)", fontsize=figures.MIN_FONTSIZE + 1)
        ax.set_title(f"ρ = {shown(row['rho_gap'], '+.2f')} (n = {row['remedies']})", fontsize=figures.TITLE_FONTSIZE)
    fig.suptitle(
        figures.wrap(title, fig.get_figwidth() - 0.4, figures.TITLE_FONTSIZE),
        fontsize=figures.TITLE_FONTSIZE,
    )
    fig.tight_layout()
    figures.save(fig, pdf, png)


def comparison_text(
    template: Path, table: pd.DataFrame, measures: pd.DataFrame, effect: pd.DataFrame, caption: str, dataset: str
) -> str:
    """The comparison in words and numbers (markdown): ``template`` filled with them."""
    seeds = int(table["seeds"].min())
    tracking_best = best(measures)
    best_row = tracking_best.iloc[0] if len(tracking_best) else None
    signed = {column: measures[column].map(lambda v: shown(v, "+.2f")) for column in ("rho_gap", "rho_test_error")}
    correlations = measures.assign(
        **signed,
        p_value=measures["p_value"].map(lambda v: shown(v, ".3g")),
        p_holm=measures["p_holm"].map(lambda v: shown(v, ".3g")),
        significant=measures["significant"].map({True: "yes", False: "no"}).fillna("n/a"),
    )[["description", "remedies", "rho_gap", "p_value", "p_holm", "significant", "conditions", "rho_test_error"]]
    correlations.columns = [
        "Measure",
        "Remedies",
        "ρ (gap, Δmeasure)",
        "p (exact, two-sided)",
        f"p after Holm over {measures['family'].max() if len(measures) else 0}",
        f"Significant (Holm p ≤ {ALPHA:g})",
        "Conditions",
        "ρ (test error, measure)",
    ]

    def with_se(column):
        return [
            shown(v, "+.2f") if math.isnan(e) else f"{v:+.2f} ± {e:.2f}"
            for v, e in zip(effect[column], effect[f"{column}_se"])
        ]

    change = effect.assign(
        **{column: with_se(column) for column in ("change_small", "change_large", "gap_change")},
        **{
            column: effect[column].map(lambda v: shown(v, ".2f", unit="%"))
            for column in ("test_error_small", "test_error_large")
        },
        **{column: effect[column].map(lambda v: shown(v, ".3g")) for column in ("gap_p", "gap_p_holm")},
    )[
        [
            "remedy",
            "test_error_small",
            "change_small",
            "test_error_large",
            "change_large",
            "gap_change",
            "gap_p",
            "gap_p_holm",
            "verdict",
        ]
    ]
    small, large = sorted(table["batch_size"].unique())
    change.columns = [
        "Remedy",
        f"Test error at {small}",
        "Change",
        f"Test error at {large}",
        "Change",
        "Gap change",
        "p (t, two-sided)",
        f"p after Holm over {len(effect)}",
        "Verdict",
    ]
    gaps, gap_se = differences(table, "test_error"), table.drop_duplicates("remedy")["gap_se"]
    spread = spreads(table) if seeds > 1 else pd.DataFrame()
    return templates.render(
        template,
        caption=caption,
        dataset=dataset,
        small=small,
        large=large,
        seeds=seeds,
        alpha=ALPHA,
        spread=[{"batch": batch, **row} for batch, row in spread.iterrows()],
        best=None
        if best_row is None
        else {
            "names": " and ".join(tracking_best["description"]),
            "n": best_row["remedies"],
            "rho": best_row["rho_gap"],
            "p_value": best_row["p_value"],
            "p_holm": best_row["p_holm"],
            "family": best_row["family"],
            "significant": best_row["significant"],
        },
        gaps={"min": gaps.min(), "max": gaps.max()},
        gap_se={"min": gap_se.min(), "max": gap_se.max()},
        correlations=correlations.to_markdown(index=False, disable_numparse=True),
        changes=change.to_markdown(index=False, disable_numparse=True),
    )


def summary_row(table: pd.DataFrame, measures: pd.DataFrame, effect: pd.DataFrame) -> dict:
    """The comparison in one row (a published folder's README shows it): the baseline's gap, the
    measures that track the gap best across remedies and the count's ρ, the remedies that narrow the gap."""
    baseline = table[table["remedy"] == "baseline"].iloc[0]
    tracking_best = best(measures)
    count = measures.set_index("measure").loc["count"]
    narrowing = effect.loc[effect["verdict"].str.contains(NARROWS), "remedy"]
    called = {True: "significant", False: "not significant"}
    return {
        "seeds": int(table["seeds"].min()),
        "baseline gap (pp)": baseline["gap"],
        "tracks the gap best": "; ".join(
            f"{row.description} (ρ {row.rho_gap:+.2f}, p {row.p_value:.3g}, {row.p_holm:.3g} after Holm over "
            f"{row.family}: {called.get(row.significant, 'n/a')})"
            for row in tracking_best.itertuples()
        )
        or "n/a",
        "near-rank loss ρ": count["rho_gap"],
        "narrow the gap": ", ".join(narrowing) or "none",
    }


def write_comparison(
    per_run: pd.DataFrame,
    baseline: str,
    caption: str,
    dataset: str,
    template: Path,
    *,
    runs_csv: Path,
    csv: Path,
    md: Path,
    pdf: Path,
    png: Path,
    comparison_md: Path,
    comparison_csv: Path,
    effects_csv: Path,
    summary_csv: Path,
) -> None:
    """Every run's numbers (``runs_csv``), the table of their means (``csv``, ``md``), the figure
    (``pdf``, ``png``), the comparison (``comparison_md``, ``comparison_csv``, ``effects_csv``) and its
    summary row (``summary_csv``): the rule's outputs by name (REMEDY_OUTPUTS in common.smk), so that
    a name either side lacks stops the job."""
    per_run.to_csv(runs_csv, index=False)
    table = conditions(per_run, baseline)
    tables.write(table, csv, md, None, caption, formatted_table(table))
    measures, effect = gap_correlations(table), effects(table)
    pd.DataFrame([summary_row(table, measures, effect)]).to_csv(summary_csv, index=False)
    gap_figure(table, measures, caption, pdf, png)
    measures.to_csv(comparison_csv, index=False)
    effect.to_csv(effects_csv, index=False)
    Path(comparison_md).write_text(comparison_text(template, table, measures, effect, caption, dataset))
