"""hlmlab.inference.grid: reference grids and pointwise Wald bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hlmlab import lm
from hlmlab.inference.grid import factor_levels, gap_band, prediction_band, reference_grid, used_data, wald_band


@pytest.fixture(scope="module")
def fit(hsm):
    return lm("mathach ~ ses * Sector", hsm)


def test_used_data_follows_the_design_rows():
    class Fit:
        data = pd.DataFrame({"a": [1, 2, 3]}, index=[10, 11, 12])

        class design:  # noqa: N801
            rows = None

    assert used_data(Fit()).equals(Fit.data)
    Fit.design.rows = np.array([0, 2])
    assert list(used_data(Fit()).index) == [10, 12]
    Fit.design.rows = np.array([True, False, True])
    assert list(used_data(Fit())["a"]) == [1, 3]


def test_factor_levels_keep_the_category_order_and_drop_unused_levels():
    s = pd.Series(pd.Categorical(["b", "a", "b"], categories=["b", "c", "a"]))
    assert factor_levels(s) == ["b", "a"]
    assert factor_levels(pd.Series([3, 1, np.nan, 2])) == [1, 2, 3]


def test_reference_grid_crosses_x_with_the_levels(fit, hsm):
    g = reference_grid(fit, "ses", "Sector", n=7)
    assert len(g) == 14
    assert g["ses"].min() == pytest.approx(hsm["ses"].min()) and g["ses"].max() == pytest.approx(hsm["ses"].max())
    assert list(g["Sector"].cat.categories) == list(hsm["Sector"].cat.categories)
    assert sorted(g["Sector"].astype(str).unique()) == ["Catholic", "Public"]
    numeric = [c for c in hsm.columns if c not in ("ses", "Sector") and pd.api.types.is_float_dtype(hsm[c])]
    for c in numeric:
        assert g[c].iloc[0] == pytest.approx(hsm[c].mean())
    with pytest.raises(KeyError, match="'Region'"):
        reference_grid(fit, "ses", "Region")


def test_reference_grid_refuses_group_summaries_in_the_formula(hsm):
    with pytest.raises(ValueError, match="cvar/dvar"):
        reference_grid(lm("mathach ~ ses + cvar(ses, school)", hsm), "ses")


def test_prediction_band_is_the_confidence_interval_of_the_prediction(fit):
    grid = reference_grid(fit, "ses", "Sector", n=5)
    band = prediction_band(fit, grid)
    pr = fit.predict(grid, interval="confidence")
    np.testing.assert_allclose(band["fit"], pr["fit"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(band["lower"], pr["lower"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(band["upper"], pr["upper"].to_numpy(), rtol=1e-10)
    assert list(band.columns) == ["fit", "se", "lower", "upper"]


def test_gap_band_is_the_difference_of_the_two_levels(fit):
    grid = reference_grid(fit, "ses", None, n=9)
    band = gap_band(fit, grid, "Sector", "Catholic", "Public")
    b, V = fit.fixef, fit.vcov
    xs = grid["ses"].to_numpy()
    np.testing.assert_allclose(band["fit"], b["SectorPublic"] + b["ses:SectorPublic"] * xs, atol=1e-10)
    L = np.zeros((len(xs), len(b)))
    L[:, list(b.index).index("SectorPublic")] = 1
    L[:, list(b.index).index("ses:SectorPublic")] = xs
    np.testing.assert_allclose(band["se"], np.sqrt(np.einsum("ij,jk,ik->i", L, V.to_numpy(), L)), rtol=1e-10)
    direct = wald_band(fit, pd.DataFrame(L, columns=b.index))
    np.testing.assert_allclose(band[["lower", "upper"]], direct[["lower", "upper"]], rtol=1e-10)
