"""hlmlab.graphics.data: quantile plots, trellis and panels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402

from hlmlab.graphics import plots  # noqa: E402


def test_quantile_plots_draw_every_column(data):
    d = data.copy()
    d.loc[[0, 5], "Sex"] = np.nan
    axes = plots.quantile_plots(d)
    assert len(axes) == d.shape[1]
    ax_y = axes[list(d.columns).index("y")]
    assert len(ax_y.get_lines()) == 4  # points, mean, mean ± SD
    mean_line = ax_y.get_lines()[1]
    assert mean_line.get_ydata()[0] == pytest.approx(d["y"].mean())
    ax_sex = axes[list(d.columns).index("Sex")]
    assert [t.get_text() for t in ax_sex.get_xticklabels()] == ["Female", "Male", "NA"]
    assert ax_sex.patches[2].get_height() == 2
    assert "NA: 2" in ax_sex.get_title()


def test_normal_quantile_plot_uses_normal_quantiles(data):
    axes = plots.quantile_plots(data[["y"]], kind="normal")
    x = axes[0].get_lines()[0].get_xdata()
    assert x[0] < -2 and axes[0].get_xlabel() == "normal quantile"
    with pytest.raises(ValueError, match="'uniform' or 'normal'"):
        plots.quantile_plots(data, kind="beta")
    with pytest.raises(KeyError, match="nope"):
        plots.quantile_plots(data, columns=["nope"])


def test_trellis_has_a_panel_per_group_in_the_requested_order(data, drawn_lines):
    g = plots.trellis(data, "x", "y", "g", order_by="x", label_by="Sector", ellipse=[1, 2], smoother=True)
    assert isinstance(g, sns.FacetGrid)
    assert len(g.axes.flat) == data["g"].nunique()
    means = data.groupby("g")["x"].mean().sort_values()
    first = g.axes.flat[0]
    assert first.get_title().startswith(str(means.index[0]))
    assert first.get_title().endswith(str(data.loc[data.g == means.index[0], "Sector"].iloc[0]))
    # LS line + 2 ellipses + smoother per panel, and the points
    assert len(drawn_lines(first)) == 4
    assert len(first.collections) == 1


def test_trellis_with_hue_draws_a_line_per_level(data, drawn_lines):
    g = plots.trellis(data, "x", "y", "g", hue="Sex")
    assert all(len(drawn_lines(ax)) == 2 for ax in g.axes.flat)
    with pytest.raises(KeyError, match="'school'"):
        plots.trellis(data, "x", "y", "school")


def test_panels_by_factor_with_lines_per_group(data, drawn_lines):
    g = plots.panels(data, "x", "y", col="Sector", lines_by="g")
    assert len(g.axes.flat) == 2
    n_public = data.loc[data.Sector == "Public", "g"].nunique()
    assert len(drawn_lines(g.axes.flat[1])) == n_public + 1
    g2 = plots.panels(data, "x", "y", col="Sector", hue="Sex")
    assert len(g2.axes.flat[0].collections) == 2
    with pytest.raises(KeyError, match="'Region'"):
        plots.panels(data, "x", "y", col="Region")
