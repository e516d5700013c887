"""Figures a reader takes in at a glance: batch sizes in distinct categorical colours, the same in
every panel and figure; legends and axes labelled in words; the threshold as mathtext, never split
by a line break; no text under 8 pt; the components' axis scaled to what is counted, the structural
deficit apart. Each figure function is drawn on a small frame of rankloss.csv's shape, its figure
caught before it is saved."""

import math

import matplotlib
import matplotlib.figure
import matplotlib.pyplot
import numpy as np
import pandas as pd
import pytest
import seaborn as sns
from matplotlib.text import Text

from rankgap import figures, random_matrices, remedies, remedy_report, tracking

matplotlib.use("Agg")

BATCH_SIZES = [16, 64, 256, 1024]
THRESHOLD_TEX = r"$t_{\mathrm{th}} = 10^{-4}$"
CAPTION = "Near-rank loss of LeNet-5 (batch norm) on digits during training, t_th = 1e-4"
LAYERS = [("act1", 0), ("act2", 1), ("act3", 2)]


def rankloss_frame(datasets=("digits", "digits_linear"), batch_sizes=BATCH_SIZES, failed=()) -> pd.DataFrame:
    """rankloss.csv's shape, as the demo's: per dataset, batch size, seed, probed epoch (0, 5, 15),
    layer and threshold a few counted values and a structural deficit of thousands at the larger
    batches; a (dataset, batch size) in ``failed`` did not finish (probed at epoch 0 only)."""
    rows = []
    for dataset in datasets:
        for b in batch_sizes:
            stopped = (dataset, b) in failed
            for seed in (0, 1):
                for epoch in (0,) if stopped else (0, 5, 15):
                    for layer, depth in LAYERS:
                        for threshold in (1e-4, 1e-5):
                            dead, genuine = seed + 1, 1 + epoch // 5
                            parts = {"dead_zeros": dead, "other_zeros": 1, "genuine": genuine}
                            rows.append(
                                {
                                    "experiment": "demo_bn",
                                    "dataset": dataset,
                                    "batch_size": b,
                                    "seed": seed,
                                    "epoch": epoch,
                                    "probe": "batch",
                                    "status": "failed" if stopped else "ok",
                                    "layer": layer,
                                    "depth": depth,
                                    "mode": "batch",
                                    "threshold": threshold,
                                    "count": math.nan if stopped else sum(parts.values()),
                                    "deficit": math.nan if stopped else 10 * b,
                                    **{k: math.nan if stopped else v for k, v in parts.items()},
                                }
                            )
    return pd.DataFrame(rows)


@pytest.fixture
def caught(monkeypatch):
    """The figures the package would have saved (and closed), in order; nothing is written."""
    saved, close = [], matplotlib.pyplot.close
    monkeypatch.setattr(figures, "save", lambda fig, pdf, png: saved.append(fig))
    monkeypatch.setattr(matplotlib.pyplot, "close", lambda fig=None: None)  # tracking saves itself
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *args, **kwargs: saved.append(fig))
    yield saved
    close("all")


def draw(plot, frame=None, threshold=1e-4, title=CAPTION):
    return plot(rankloss_frame() if frame is None else frame, threshold, "batch", title, "x.pdf", "x.png")


def one(caught):
    assert caught, "no figure was saved"
    return caught[-1]


def layer_counts() -> pd.DataFrame:
    """rankgap-measure's counts: per threshold, layer and mode, a few counted, a deficit of thousands."""
    rows = rankloss_frame(datasets=("digits",), batch_sizes=[1024])
    return rows[(rows["seed"] == 0) & (rows["epoch"] == 15)]


def tracking_figure(caught, tmp_path, plot=tracking.figure):
    runs = pd.DataFrame(
        [
            {
                "condition": f"demo {b}",
                "kind": "plain",
                "architecture": "lenet5 bn",
                "batch_size": b,
                "gap": g + s,
                "lambda_max": 10 * g + s,
            }
            for g, b in enumerate(BATCH_SIZES)
            for s in (0, 1)
        ]
    )
    answer = pd.DataFrame(
        [
            {
                "measure": "lambda_max",
                "layer": "all",
                "label": "Hessian λmax",
                "category": "none shown",
                "held_fixed_gap_rho": 0.1,
            }
        ]
    )
    plot(runs, answer, tmp_path / "tracking.png")
    return one(caught)


def remedies_figure(caught):
    rng = np.random.default_rng(0)
    per_run = pd.DataFrame(
        [
            {
                "experiment": experiment,
                "batch_size": b,
                "seed": seed,
                "dataset": "digits",
                "status": "ok",
                "train_error": 0.1,
                "test_error": 5 + (b == 1024) * (i + rng.random()),
                "count": i * (b == 1024),
                **{c: 0 for c in ("deficit", "dead_zeros", "other_zeros")},
                "genuine": i * (b == 1024),
                "lambda_max": 10 + i * b / 100 + rng.random(),
            }
            for i, experiment in enumerate(["demo_bn", "lr_sqrt", "ghost_batch_norm", "activation_noise"])
            for b in (16, 1024)
            for seed in (0, 1)
        ]
    )
    table = remedies.conditions(per_run, "demo_bn")
    remedy_report.gap_figure(
        table, remedies.gap_correlations(table), "Remedies on digits, batch 16 and 1024", "x.pdf", "x.png"
    )
    return one(caught)


ALL_FIGURES = {
    "near_rank_loss": lambda caught, tmp_path: draw(figures.near_rank_loss) or one(caught),
    "over_training": lambda caught, tmp_path: draw(figures.over_training) or one(caught),
    "components": lambda caught, tmp_path: draw(figures.components) or one(caught),
    "layer_components": lambda caught, tmp_path: (
        figures.layer_components(layer_counts(), "LeNet-5 on digits, batch 1024: the count per layer", "x.pdf", "x.png")
        or one(caught)
    ),
    "singular_value_panels": lambda caught, tmp_path: figures.singular_value_panels(
        {(m, n): random_matrices.singular_values("gaussian", m, n, 3, 0) for m, n in [(20, 2), (20, 20), (30, 3)]},
        random_matrices.figure_title("A1", "gaussian", 3),
    ),
    "tracking": tracking_figure,
    "held_fixed": lambda caught, tmp_path: tracking_figure(caught, tmp_path, tracking.held_fixed_figure),
    "remedies": lambda caught, tmp_path: remedies_figure(caught),
}


def batch_size_legend(fig):
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    (legend,) = [legend for legend in legends if legend.get_title().get_text() == "batch size"]
    return {
        int(text.get_text()): matplotlib.colors.to_rgb(handle.get_color())
        for handle, text in zip(legend.legend_handles, legend.get_texts())
    }


def test_batch_sizes_16_and_64_get_different_categorical_colours(caught):
    draw(figures.over_training)
    colours = batch_size_legend(one(caught))
    assert sorted(colours) == BATCH_SIZES
    assert colours[16] != colours[64]
    assert len(set(colours.values())) == len(BATCH_SIZES)  # every batch size its own hue
    # a categorical palette's first colours, in order of size (not a colormap's shades of one hue)
    assert [colours[b] for b in BATCH_SIZES] == list(sns.color_palette("colorblind", 4))


def test_a_batch_size_has_one_colour_in_every_panel_and_figure(caught):
    # the linear model's batch 64 did not finish: its panel lacks a line, the others keep their colours
    draw(figures.over_training, rankloss_frame(failed={("digits_linear", 64)}))
    draw(figures.over_training, rankloss_frame(datasets=("digits",)))
    first, second = (batch_size_legend(fig) for fig in caught)
    assert first == second
    # and the lines drawn have the legend's colours, in each panel
    for fig in caught:
        colours = set(batch_size_legend(fig).values())
        drawn = {matplotlib.colors.to_rgb(line.get_color()) for ax in fig.axes for line in ax.get_lines()}
        assert drawn <= colours
    panel = [ax for ax in caught[0].axes if ax.get_title() == "digits_linear"][0]
    drawn = {matplotlib.colors.to_rgb(line.get_color()) for line in panel.get_lines()}
    assert batch_size_legend(caught[0])[64] not in drawn


def test_batch_size_colours_are_the_same_for_the_same_sizes_whatever_their_order():
    assert figures.batch_size_colours([1024, 16, 64, 256, 64]) == figures.batch_size_colours(BATCH_SIZES)
    assert len(set(figures.batch_size_colours(range(12)).values())) == 12  # more sizes than the palette


@pytest.mark.parametrize("name", ["near_rank_loss", "over_training", "components", "layer_components"])
def test_legends_and_axes_are_labelled_in_words(caught, tmp_path, name):
    fig = ALL_FIGURES[name](caught, tmp_path)
    columns = set(rankloss_frame().columns)
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    assert legends
    for legend in legends:
        title = legend.get_title().get_text()
        assert "_" not in title and title not in columns - {"dataset", "epoch", "threshold"}
    if name == "over_training":
        assert [legend.get_title().get_text() for legend in legends] == ["batch size"]
    for ax in fig.axes:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert label not in columns and "_" not in label.replace(r"_{", "")  # mathtext subscripts aside


@pytest.mark.parametrize("name", ALL_FIGURES)
def test_no_text_under_8_points(caught, tmp_path, name):
    fig = ALL_FIGURES[name](caught, tmp_path)
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert texts
    small = {t.get_text(): t.get_fontsize() for t in texts if t.get_fontsize() < 8}
    assert not small


@pytest.mark.parametrize("name", ["near_rank_loss", "over_training", "components", "layer_components", "held_fixed"])
def test_title_and_footnote_fit_the_figure(caught, tmp_path, name):
    fig = ALL_FIGURES[name](caught, tmp_path)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    for text in [fig._suptitle, *fig.texts]:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width + 1, text.get_text()


def test_the_threshold_in_a_title_is_mathtext_and_no_line_breaks_inside_it(caught):
    draw(figures.over_training)
    title = one(caught)._suptitle.get_text()
    assert THRESHOLD_TEX in title and "t_th" not in title
    for inches in (1.5, 2, 3, 4, 6):  # narrow enough to wrap the caption somewhere
        lines = figures.wrap(CAPTION, inches, 10).split("\n")
        assert sum(THRESHOLD_TEX in line for line in lines) == 1
        assert all(line.count("$") in (0, 2) for line in lines)
        assert not any(line.startswith("=") for line in lines)
    # a caption too long for a line breaks between its phrases, after the comma
    assert figures.wrap(CAPTION, 4.5, 10).split("\n") == [
        "Near-rank loss of LeNet-5 (batch norm) on digits during training,",
        THRESHOLD_TEX,
    ]


@pytest.mark.parametrize(
    "threshold, tex", [(1e-4, "10^{-4}"), (1e-5, "10^{-5}"), (2.5e-5, r"2.5 \times 10^{-5}"), (0.5, "0.5"), (0, "0")]
)
def test_threshold_tex(threshold, tex):
    assert figures.threshold_tex(threshold) == tex


def counted_and_deficit_axes(fig):
    counted = [ax for ax in fig.axes if ax.get_ylabel().startswith("singular values")]
    deficit = [ax for ax in fig.axes if ax.get_ylabel() == figures.DEFICIT_AXIS_LABEL]
    assert counted and len(counted) == len(deficit)
    return counted, deficit


@pytest.mark.parametrize("name", ["components", "layer_components"])
def test_components_axis_is_scaled_to_what_is_counted_the_deficit_apart(caught, tmp_path, name):
    fig = ALL_FIGURES[name](caught, tmp_path)
    counted, deficit = counted_and_deficit_axes(fig)
    for ax, top in zip(counted, deficit):
        tallest = max(patch.get_y() + patch.get_height() for patch in ax.patches)
        deficits = [patch.get_height() for patch in top.patches]
        assert max(deficits) >= 10 * 256  # the deficit is thousands ...
        assert tallest <= ax.get_ylim()[1] <= 1.5 * tallest  # ... the counted axis' top is set by the counted
        assert max(deficits) <= top.get_ylim()[1]  # the deficit on its own axis, whole
        assert not any(patch.get_hatch() for patch in ax.patches)  # no deficit among the counted bars


def test_components_say_so_where_there_is_no_deficit(caught):
    frame = rankloss_frame().assign(deficit=0.0)
    draw(figures.components, frame)
    _, deficit = counted_and_deficit_axes(one(caught))
    assert all("no structural deficit" in [t.get_text() for t in ax.texts] for ax in deficit)


def test_figures_are_written(tmp_path):
    figures.components(rankloss_frame(), 1e-4, "batch", CAPTION, tmp_path / "c.pdf", tmp_path / "c.png")
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "c.png").read_bytes().startswith(b"\x89PNG")
