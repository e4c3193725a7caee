"""hlmlab.graphics.betaplots: confidence plots and beta space."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hlmlab.graphics import (
    betaspace,  # noqa: E402
    plots,  # noqa: E402
)
from hlmlab.graphics import geometry as geo  # noqa: E402
from hlmlab.ols.lmlist import group_coefficients  # noqa: E402


def test_beta_space_draws_points_and_an_ellipse_per_method_and_level(data):
    ax = plots.beta_space(data, "x", "y", "g", by="Sector")
    ncoef = data["g"].nunique()
    assert sum(len(c.get_offsets()) for c in ax.collections) == ncoef
    ells = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]
    assert len(ells) == 4 * 2 + 2  # 4 methods x 2 sectors + 2 data ellipses
    labels = ax.get_legend_handles_labels()[1]
    assert "two-stage (MANOVA)" in labels and "fixed effects" in labels


def test_beta_space_ellipse_radius_follows_the_convention(data):
    ax = plots.beta_space(data, "x", "y", "g", methods=["pooled"], kind="shadows", data_ellipse=None)
    e = betaspace.method_ellipses(data, "x", "y", "g", methods=["pooled"])["pooled"]["all"]
    pts = np.column_stack(ax.get_lines()[0].get_data())
    np.testing.assert_allclose(e.quadratic_form(pts), geo.radius("shadows", e.df) ** 2, rtol=1e-8)


def test_beta_difference_marks_the_origin(data):
    ax = plots.beta_difference(data, "x", "y", "g", by="Sector", methods=["fixed", "two-stage"])
    assert len(ax.get_legend_handles_labels()[1]) == 4
    assert any(np.allclose(ln.get_xydata(), [[0, 0]]) for ln in ax.get_lines())
    assert "Public − Catholic" in ax.get_xlabel()


def test_lines_and_points_pairs_each_line_with_a_point(data):
    axes = plots.lines_and_points(data, "x", "y", "g", by="Sector", highlight=[100])
    coefs = group_coefficients(data, "x", "y", "g")
    line = axes[0].get_lines()[0]
    xd, yd = line.get_data()
    slope = (yd[1] - yd[0]) / (xd[1] - xd[0])
    assert slope == pytest.approx(coefs["slope"].iloc[0])
    pt = axes[1].get_lines()[0].get_xydata()[0]
    np.testing.assert_allclose(pt, coefs.iloc[0][["intercept", "slope"]].to_numpy(float))
    assert [t.get_text() for t in axes[1].texts] == ["100"]


def test_dispersion_plot_draws_three_ellipses():
    X = np.column_stack([np.ones(20), np.linspace(-1, 1, 20)])
    ax = plots.dispersion_plot([[4, 0.3], [0.3, 0.5]], 3.0, X, [12, 2], beta_true=[13, 1.5], beta_hat=[14, 1])
    assert len([ln for ln in ax.get_lines() if len(ln.get_xdata()) > 50]) == 3
    with pytest.raises(ValueError, match="G must be symmetric"):
        plots.dispersion_plot([[4, 0.3], [0.1, 0.5]], 3.0, X, [12, 2])


def test_confidence_plot_shows_both_conventions(data):
    from hlmlab import lm

    fit = lm("y ~ x * Sector", data)
    ax = plots.confidence_plot(fit, ["x", "x:SectorPublic"])
    labels = ax.get_legend_handles_labels()[1]
    assert labels[0].startswith("coverage (r = ") and labels[1].startswith("shadows (r = ")
    bar = ax.get_lines()[3]  # the interval along the x axis
    sha = geo.confidence_ellipse(fit, ["x", "x:SectorPublic"], kind="shadows")
    np.testing.assert_allclose(bar.get_xdata(), sha.shadows().iloc[0][["lower", "upper"]].to_numpy(float))


def test_beta_space_draws_extra_ellipses(data):
    e = geo.Ellipse([12, 2], [[0.5, 0.1], [0.1, 0.3]], 2.0, label="mixed model")
    ax = plots.beta_space(data, "x", "y", "g", methods=["pooled"], data_ellipse=None, extra=[e])
    assert "mixed model" in ax.get_legend_handles_labels()[1]
    line = [ln for ln in ax.get_lines() if ln.get_label() == "mixed model"][0]
    np.testing.assert_allclose(e.quadratic_form(np.column_stack(line.get_data())), 4.0, rtol=1e-8)


def test_confidence_plot_can_show_the_origin(data):
    from hlmlab import lm

    d = data.copy()
    d["y"] = d["y"] + 40 + 10 * d["x"]  # intercept and slope far from 0
    fit = lm("y ~ x", d)
    ax = plots.confidence_plot(fit, ["(Intercept)", "x"])
    assert not ax.get_xlim()[0] <= 0 <= ax.get_xlim()[1]  # default: the limits fit the ellipses
    n_default = len(ax.get_lines())
    plt.close("all")
    ax = plots.confidence_plot(fit, ["(Intercept)", "x"], show_origin=True)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    assert xlim[0] < 0 < xlim[1] and ylim[0] < 0 < ylim[1]
    assert xlim[1] > fit.fixef["(Intercept)"] and ylim[1] > fit.fixef["x"]
    lines = ax.get_lines()
    assert len(lines) == n_default + 2
    hline, vline = lines[-2], lines[-1]
    assert list(hline.get_ydata()) == [0, 0] and list(vline.get_xdata()) == [0, 0]
    assert hline.get_linewidth() < 1 and vline.get_linewidth() < 1
    # the interval bars still sit on the (new) edges and are the Wald intervals
    sha = geo.confidence_ellipse(fit, ["(Intercept)", "x"], kind="shadows")
    np.testing.assert_allclose(lines[3].get_xdata(), sha.shadows().iloc[0][["lower", "upper"]].to_numpy(float))
    assert lines[3].get_ydata()[0] == pytest.approx(ylim[0])
