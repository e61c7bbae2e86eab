"""The fit-traces study: its epoch-shuffling noise formula, and (slow) a quick run end to end."""

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sde_opt.stats import normal_quantile  # noqa: E402
from sde_opt.studies import fit_traces  # noqa: E402


def test_epoch_noise_factor_matches_simulated_epoch_shuffling():
    rng = np.random.default_rng(0)
    N, b, stride = 53, 5, 4  # 10 batches per epoch, 3 examples dropped each epoch
    g = rng.standard_normal(N)
    g -= g.mean()
    per_epoch = N // b
    epochs = 40_000
    perms = np.argsort(rng.random((epochs, N)), axis=1)[:, : per_epoch * b]
    means = g[perms].reshape(epochs * per_epoch, b).mean(axis=1)
    sums = np.convolve(means, np.ones(stride), mode="valid")
    sigma_b = np.mean(g**2) / b * (N - b) / (N - 1)
    ratio = sums / np.sqrt(stride * sigma_b)
    measured = np.mean(ratio**2)
    # overlapping windows are correlated: batch means over blocks of 100 epochs
    blocks = (ratio[: (ratio.size // 1000) * 1000] ** 2).reshape(-1, 1000).mean(axis=1)
    se = blocks.std(ddof=1) / np.sqrt(blocks.size)
    predicted = fit_traces.epoch_noise_factor(stride, N, b)
    assert abs(measured - predicted) <= 4 * se, (measured, predicted, se)
    assert predicted < 1 - 0.1  # the effect is resolved: i.i.d. batches would give 1


@pytest.mark.slow
def test_fit_traces_quick_run(tmp_path):
    from sde_opt.cli import main

    assert main(["study", "fit-traces", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    d = tmp_path / "fit-traces"
    summary = json.loads((d / "summary.json").read_text())
    for f in ("ratios.png", "autocorrelation.png", "hessian_spectrum.png", "table.csv"):
        assert (d / f).stat().st_size > 0
    # i.i.d. minibatches: the fitted diffusion agrees with the exact discrete target evaluated
    # with the gradient noise along the trace, within 4 SE, in every recorded direction
    rows = [r for r in summary["table"] if r["run"] == "sgd-iid" and r["quantity"].startswith("D (OU")]
    for r in rows:
        se = (r["ci_high"] - r["ci_low"]) / (2 * normal_quantile(0.95))
        assert abs(r["fitted"] - r["exact_discrete_trace_noise"]) <= 4 * se, r
    # epoch shuffling: the stationary spread is far below the i.i.d. prediction
    s = [r for r in summary["table"] if r["run"] == "sgd-epoch" and r["quantity"].startswith("S (OU")]
    assert all(r["ci_high"] < 0.8 * r["exact_discrete"] for r in s)
