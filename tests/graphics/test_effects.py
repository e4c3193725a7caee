"""hlmlab.graphics.effects: effect and gap plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hlmlab.graphics import plots  # noqa: E402


def test_effect_plot_band_is_the_wald_interval(data, drawn_lines):
    from hlmlab import lm

    fit = lm("y ~ x * Sector", data)
    ax = plots.effect_plot(fit, "x", by="Sector")
    assert len(drawn_lines(ax)) == 2 and len(ax.collections) == 2
    xs, ys = ax.get_lines()[1].get_data()  # Public
    grid = pd.DataFrame({"x": xs[[0, -1]], "Sector": pd.Categorical(["Public"] * 2, ["Catholic", "Public"])})
    pr = fit.predict(grid, interval="confidence")
    np.testing.assert_allclose(ys[[0, -1]], pr["fit"].to_numpy())
    band = ax.collections[1].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(min(pr["lower"].min(), pr["upper"].min()), abs=1e-8)


def test_gap_plot_is_the_difference_of_the_two_curves(data):
    from hlmlab import lm

    fit = lm("y ~ x * Sector", data)
    ax = plots.gap_plot(fit, "x", "Sector")
    xs, ys = ax.get_lines()[0].get_data()
    b = fit.fixef
    np.testing.assert_allclose(ys, b["SectorPublic"] + b["x:SectorPublic"] * xs, atol=1e-10)
    assert ax.get_ylabel().startswith("gap in y (Public − Catholic)")
    with pytest.raises(KeyError, match="'Region'"):
        plots.gap_plot(fit, "x", "Region")


def test_default_grid_refuses_a_model_with_group_summaries_in_its_formula():
    import hlmlab as hl

    hs = hl.load_data("hs")
    fit = hl.lm("mathach ~ ses + cvar(ses, school)", hs)
    with pytest.raises(ValueError, match="cvar/dvar"):
        plots.effect_plot(fit, "ses")
    plt.close("all")
