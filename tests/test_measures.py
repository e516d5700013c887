"""The table of measures (measures.py): each spectrum measure of a planted spectrum against a hand
computation, and how they combine over modes and layers."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO
from rankgap import configuration, measures

SIGMA = [4.0, 2.0, 1.0, 1.0, 5e-5, 0.0]  # one layer's batch mode: six values, one tiny, one exact zero


def planted(sigma=SIGMA, layer="act1", mode="batch", tolerance=1e-12):
    spectra = pd.DataFrame({"layer": layer, "depth": 0, "mode": mode, "index": range(len(sigma)), "sigma": sigma})
    modes = pd.DataFrame({"layer": [layer], "depth": [0], "mode": [mode], "tolerance": [tolerance]})
    return spectra, modes


def test_each_measure_of_a_planted_spectrum_is_its_hand_computation():
    """p = sigma / sum(sigma) = (4, 2, 1, 1, 5e-5) / 8.00005: RankMe exp(-sum p log p); the count at
    1e-4 the tiny value and the zero; at t·sigma_max (4e-4) the same two; genuine: the tiny one only
    (the zero is below the rank tolerance)."""
    row = measures.probe_measures(*planted(), thresholds=[1e-4]).iloc[0]
    p = np.array(SIGMA[:5]) / sum(SIGMA)
    by_hand = math.exp(-(p * np.log(p)).sum())
    assert row["effective_rank"] == pytest.approx(by_hand, rel=1e-12)
    assert row["effective_rank_fraction"] == pytest.approx(by_hand / 6, rel=1e-12)
    assert (row["values"], row["count"], row["relative_count"], row["genuine"]) == (6, 2, 2, 1)


def test_an_untrained_null_of_equal_values_has_full_effective_rank():
    """A spectrum of equal values (an orthogonal layer on whitened inputs, say) has effective rank
    equal to its length, fraction 1; the count is 0."""
    row = measures.probe_measures(*planted([3.0] * 5), thresholds=[1e-4]).iloc[0]
    assert row["effective_rank"] == pytest.approx(5) and row["effective_rank_fraction"] == pytest.approx(1)
    assert row["count"] == 0


def test_per_layer_sums_counts_and_averages_fractions_over_modes():
    spectra = pd.concat([planted()[0], planted([3.0] * 4, mode="channel")[0]], ignore_index=True)
    modes = pd.concat([planted()[1], planted([3.0] * 4, mode="channel")[1]], ignore_index=True)
    rows = measures.probe_measures(spectra, modes, [1e-4]).assign(
        experiment="e", dataset="d", batch_size=8, seed=0, epoch=0, probe="train", status="ok"
    )
    layer = measures.per_layer(rows, 1e-4).set_index("layer")
    assert layer.at["act1", "count"] == 2 + 0
    fractions = rows["effective_rank_fraction"].tolist()
    assert layer.at["act1", "effective_rank_fraction"] == pytest.approx(sum(fractions) / 2)
    assert layer.at[measures.ALL_LAYERS, "count"] == 2  # every layer together: here the one


def test_every_measure_has_a_label_a_direction_and_a_format():
    for name, measure in measures.MEASURES.items():
        assert measure.label and measure.thesis in (measures.GROWS, measures.FALLS, None)
        assert measure.shown(1.5) != "n/a" and measure.shown(float("nan")) == "n/a"
        assert (name in measures.SPECTRUM_MEASURES) == measure.spectrum


def test_the_configs_figure_measures_are_the_spectrum_measures():
    """A figure's `measure` (schema enum) is any spectrum measure; the config check knows which have none."""
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    figure = schema["properties"]["figures"]["additionalProperties"]["properties"]
    assert figure["measure"]["enum"] == measures.SPECTRUM_MEASURES
    free = [name for name in measures.SPECTRUM_MEASURES if not measures.MEASURES[name].threshold]
    assert list(configuration.THRESHOLD_FREE_MEASURES) == free
