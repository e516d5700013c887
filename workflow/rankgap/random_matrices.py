"""The appendix: singular values of random matrices (paper, Tables A1-A3 and Figures A1-A3).

For an m x n matrix with m >= n and i.i.d. entries of standard deviation s, the singular values
fill [s(sqrt(m) - sqrt(n)), s(sqrt(m) + sqrt(n))] as m, n grow (Proposition 1), and for Gaussian
entries E sigma_min >= sqrt(m) - sqrt(n) at every size (Proposition 2): sigma_min falls towards 0
as n approaches m.  The paper estimates E sigma_min by the mean over 100 matrices per size.

Reproducibility: each matrix has its own random stream, keyed by (seed, distribution, m, n,
repetition), so a matrix does not depend on how many others are drawn, in which job or order:
more repetitions add matrices and keep the existing ones.

Precision and speed: singular values only (no vectors), in float64: sigma_min of a square matrix is
about s/sqrt(m), and an SVD resolves values down to eps * sigma_max. LAPACK gets the m x n (tall)
matrix as drawn, or (method "gram", the config's default) its n x n Gram matrix, whose eigenvalues
are the squared singular values: less exact (eps * sigma_max^2 / sigma_min), but at the paper's
sizes within 2e-7 of the SVD's sigma_min, and 2.7x faster. Repetitions run on a pool of threads,
each a single-threaded LAPACK call: the bidiagonalisation an SVD spends its time in scales poorly
over threads, independent matrices scale perfectly (on 2 cores: 1.5 s for a 2000 x 2000 SVD on one
thread, 1.0 s on two).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits


def _gaussian(rng, m, n):
    return rng.standard_normal((m, n))


def _uniform(rng, m, n):
    return rng.random((m, n))


def _lognormal(rng, m, n):
    return rng.lognormal(0.0, 1.0, (m, n))


# name -> (sampler, standard deviation of an entry, how the captions call it).  The order is part
# of every matrix's random stream: add new distributions at the end.
DISTRIBUTIONS = {
    "gaussian": (_gaussian, 1.0, "standard normal"),
    "uniform": (_uniform, math.sqrt(1 / 12), "uniform U(0, 1)"),
    "lognormal": (_lognormal, math.sqrt((math.e - 1) * math.e), "lognormal (mean 0, std 1 of the log)"),
}


def matrix(distribution: str, m: int, n: int, seed: int, repetition: int) -> np.ndarray:
    """The ``repetition``-th m x n matrix of a distribution, in float64."""
    key = (list(DISTRIBUTIONS).index(distribution), m, n, repetition)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
    return DISTRIBUTIONS[distribution][0](rng, m, n)


def singular_values(
    distribution: str,
    m: int,
    n: int,
    repetitions: int,
    seed: int,
    dtype: str = "float64",
    threads: int = 1,
    method: str = "svd",
) -> np.ndarray:
    """(repetitions, n): the singular values of each matrix, in descending order.

    ``method`` "svd": LAPACK's SVD, values only; "gram": square roots of the eigenvalues of A^T A,
    2.7x faster at 4000 x 4000 (BLAS-3 product, then half the reduction work of an SVD), and exact
    to 2e-7 relative in sigma_min at the paper's sizes (tests/test_random_matrices.py).
    """
    if n > m:
        raise ValueError(f"{m} x {n}: give the tall orientation (m >= n); the singular values are the same")

    def one(repetition):
        a = matrix(distribution, m, n, seed, repetition).astype(dtype, copy=False)
        if method == "svd":
            return np.linalg.svd(a, compute_uv=False)
        # rounding can push the smallest eigenvalue of a nearly singular Gram matrix below zero
        return np.sqrt(np.clip(np.linalg.eigvalsh(a.T @ a), 0, None))[::-1]

    with threadpool_limits(1), ThreadPoolExecutor(threads) as pool:  # numpy releases the GIL in LAPACK
        return np.stack(list(pool.map(one, range(repetitions)))).astype(np.float64)


def load(sizes: list[dict]) -> dict[tuple[int, int], np.ndarray]:
    """{(m, n): singular values} of the files the spectra jobs wrote (``sizes``: per size, its
    ``m``, ``n`` and ``spectra`` file)."""
    return {(int(size["m"]), int(size["n"])): np.load(size["spectra"]) for size in sizes}


def summary(spectra: dict[tuple[int, int], np.ndarray], distribution: str) -> pd.DataFrame:
    """One row per size: the mean and std of sigma_min over the repetitions (the paper's E sigma_min),
    the mean sigma_max, and where Proposition 1 puts the lower edge, s(sqrt(m) - sqrt(n))."""
    s = DISTRIBUTIONS[distribution][1]
    rows = [
        {
            "distribution": distribution,
            "m": m,
            "n": n,
            "repetitions": len(values),
            "sigma_min_mean": values[:, -1].mean(),
            "sigma_min_std": values[:, -1].std(ddof=1),
            "sigma_max_mean": values[:, 0].mean(),
            "edge": s * (math.sqrt(m) - math.sqrt(n)),
        }
        for (m, n), values in spectra.items()
    ]
    return pd.DataFrame(rows)


def table_caption(appendix: str, distribution: str, repetitions: int) -> str:
    """The caption of Table ``appendix`` (A1-A3)."""
    return (
        f"Table {appendix}: expected minimum singular value of m × n random matrices with "
        f"{DISTRIBUTIONS[distribution][2]} entries (mean and std over {repetitions} matrices per size; "
        f"s = the entries' standard deviation)"
    )


def figure_title(appendix: str, distribution: str, repetitions: int) -> str:
    """The title of Figure ``appendix`` (A1-A3)."""
    return (
        f"Figure {appendix}: singular values of m × n random matrices with {DISTRIBUTIONS[distribution][2]} "
        f"entries, {repetitions} matrices per size (rows: m; red ticks: each matrix's σmin, dashed: their mean)"
    )
