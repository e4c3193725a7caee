"""lmlist and group_coefficients: the one per-group OLS."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.ols.fit import lm
from hlmlab.ols.lmlist import group_coefficients, lmlist


def _group_ols_before(data, x, y, group, by=None):
    """graphics.geometry.group_ols as it was before the refactor (centred sums), kept as the reference."""
    cols = [group, x, y] + ([by] if by is not None else [])
    d = data[cols].dropna(subset=[group, x, y])
    g = d.groupby(group, sort=True, observed=True)
    n = g[x].size()
    xbar, ybar = g[x].mean(), g[y].mean()
    dx = d[x] - g[x].transform("mean")
    dy = d[y] - g[y].transform("mean")
    sxx = (dx * dx).groupby(d[group], observed=True).sum()
    sxy = (dx * dy).groupby(d[group], observed=True).sum()
    syy = (dy * dy).groupby(d[group], observed=True).sum()
    ok = (n >= 2) & (sxx > 1e-12 * (1 + xbar**2))
    slope = (sxy / sxx).where(ok)
    out = pd.DataFrame(
        {
            "n": n,
            "intercept": (ybar - slope * xbar).where(ok),
            "slope": slope,
            "rss": (syy - slope * sxy).where(ok),
            "xtxi00": (1 / n + xbar**2 / sxx).where(ok),
            "xtxi01": (-xbar / sxx).where(ok),
            "xtxi11": (1 / sxx).where(ok),
            "xbar": xbar,
            "ybar": ybar,
        }
    )
    if by is not None:
        out[by] = g[by].first()
    out.index.name = group
    return out


# ---------------------------------------------------------------------------
# lmlist
# ---------------------------------------------------------------------------
def test_two_stage_manova_slope_row(hsm):
    first = lmlist("mathach ~ ses", hsm, "school")
    second = first.regress("~ Sector", hl.up(hsm, "school"))
    slope = second["ses"]
    np.testing.assert_allclose(slope.fixef.round(4), [1.6672, 1.1100])
    np.testing.assert_allclose(slope.se.round(4), [0.3506, 0.5086])
    assert round(slope.coef_table().loc["SectorPublic", "Pr(>|t|)"], 4) == 0.0353
    # the same row from lm on the merged frame, as a user would write it
    frame = first.frame(hl.up(hsm, "school"))
    assert lm("ses ~ Sector", frame).fixef["SectorPublic"] == pytest.approx(1.109995, abs=5e-7)


def test_lmlist_equals_lm_within_one_group(hsm):
    ll = lmlist("mathach ~ ses", hsm, "school")
    assert ll.coef.shape == (40, 2) and ll.coef.index.name == "school"
    one = lm("mathach ~ ses", hsm[hsm["school"] == 8854])
    np.testing.assert_allclose(ll.coef.loc[8854], one.fixef, rtol=1e-10)
    np.testing.assert_allclose(ll.se.loc[8854], one.se, rtol=1e-10)
    assert ll.n.loc[8854] == 32 and ll.sigma.loc[8854] == pytest.approx(one.sigma)


def test_lmlist_gives_nan_where_a_group_cannot_be_fitted():
    df = pd.DataFrame(
        {
            "g": ["a"] * 5 + ["b"] * 3 + ["c"],
            "x": [1.0, 2, 3, 4, 5, 2, 2, 2, 7],
            "y": [1.0, 3, 2, 5, 4, 1, 2, 3, 9],
        }
    )
    ll = lmlist("y ~ x", df, "g")
    assert np.isfinite(ll.coef.loc["a"]).all()
    assert ll.coef.loc["b", "(Intercept)"] == pytest.approx(2.0) and np.isnan(ll.coef.loc["b", "x"])
    assert np.isnan(ll.coef.loc["c", "x"]) and np.isnan(ll.se.loc["c", "(Intercept)"])
    assert list(ll.n) == [5, 3, 1]


def test_lmlist_unknown_group_column(hsm):
    with pytest.raises(KeyError, match="schol"):
        lmlist("mathach ~ ses", hsm, "schol")


def test_lmlist_is_a_top_level_name():
    assert hl.lmlist is lmlist


# ---------------------------------------------------------------------------
# group_coefficients: what geometry.group_ols returned, from lmlist's per-group OLS
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("by", [None, "Sector"])
def test_group_coefficients_equal_the_former_group_ols_on_hs(hsm, by):
    ours = group_coefficients(hsm, "ses", "mathach", "school", by)
    before = _group_ols_before(hsm, "ses", "mathach", "school", by)
    assert list(ours.columns) == list(before.columns)
    assert ours.index.equals(before.index) and ours.index.name == "school"
    assert ours.dtypes.equals(before.dtypes)
    pd.testing.assert_frame_equal(ours, before, check_exact=False, rtol=1e-10)


def test_group_coefficients_agree_with_lmlist(hsm):
    ours = group_coefficients(hsm, "ses", "mathach", "school")
    ll = lmlist("mathach ~ ses", hsm, "school")
    np.testing.assert_allclose(ours["intercept"], ll.coef["(Intercept)"].reindex(ours.index), rtol=1e-12)
    np.testing.assert_allclose(ours["slope"], ll.coef["ses"].reindex(ours.index), rtol=1e-12)
    np.testing.assert_allclose(ours["rss"], (ll.sigma**2 * ll.df_resid).reindex(ours.index), rtol=1e-12)


def test_group_coefficients_accept_a_categorical_group_column():
    hs = hl.load_data("hs")
    plain = group_coefficients(hs, "ses", "mathach", "school")
    hs["id"] = pd.Categorical(hs["school"].astype(str))
    cat = group_coefficients(hs, "ses", "mathach", "id")
    pd.testing.assert_frame_equal(cat, _group_ols_before(hs, "ses", "mathach", "id"), check_exact=False, rtol=1e-10)
    np.testing.assert_allclose(cat["slope"].to_numpy(), plain["slope"].to_numpy())


def test_group_coefficients_match_polyfit_and_flag_degenerate_groups():
    df = pd.DataFrame(
        {
            "g": [1, 1, 1, 2, 2, 3],
            "x": [0, 1, 2, 5, 5, 1],
            "y": [1, 3, 5.5, 2, 4, 7],
            "s": ["a", "a", "a", "b", "b", "b"],
        }
    )
    c = group_coefficients(df, "x", "y", "g", by="s")
    pd.testing.assert_frame_equal(c, _group_ols_before(df, "x", "y", "g", by="s"), check_exact=False, rtol=1e-10)
    np.testing.assert_allclose(c.loc[1, ["slope", "intercept"]], np.polyfit([0, 1, 2], [1, 3, 5.5], 1))
    assert np.isnan(c.loc[2, "slope"]) and np.isnan(c.loc[3, "slope"])
    assert c.loc[2, "ybar"] == 3 and list(c["n"]) == [3, 2, 1] and c.loc[3, "s"] == "b"


def test_group_coefficients_bad_input(hsm):
    with pytest.raises(KeyError, match="group column 'nope'"):
        group_coefficients(hsm, "ses", "mathach", "nope")
    with pytest.raises(ValueError, match="constant within each"):
        group_coefficients(hsm, "ses", "mathach", "school", by="Sex")
