"""hlmlab.graphics.betaspace: the four methods on hs, against the notes' numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hlmlab.graphics import betaspace
from hlmlab.graphics import geometry as geo


def _se(e):
    return np.sqrt(np.diag(e.shape))


def test_pooled_method_reproduces_the_pooled_ols(hsm):
    m = betaspace.method_ellipses(hsm, "ses", "mathach", "school", "Sector", methods=["pooled"])["pooled"]
    np.testing.assert_allclose(m["Catholic"].center, [13.5579, 2.2999], atol=1e-4)
    np.testing.assert_allclose(_se(m["Catholic"]), [0.1881, 0.2582], atol=1e-4)
    d = betaspace.difference_ellipse(m)
    np.testing.assert_allclose(d.center, [-1.4666, 1.6051], atol=1e-4)
    np.testing.assert_allclose(_se(d), [0.2921, 0.3845], atol=1e-4)
    assert d.df == 1973


def test_fixed_effects_method_reproduces_version_a(hsm):
    d = betaspace.difference_ellipse(betaspace.method_ellipses(hsm, "ses", "mathach", "school", "Sector")["fixed"])
    np.testing.assert_allclose(d.center, [-2.027255, 1.109995], atol=1e-6)
    np.testing.assert_allclose(_se(d), [0.351992, 0.454114], atol=1e-6)
    assert d.df == 1897
    # joint F test of no difference: F = c' S^-1 c / 2 = 21.03533
    assert d.quadratic_form(np.zeros(2))[0] / 2 == pytest.approx(21.03533, abs=1e-4)


def test_two_stage_method_reproduces_the_manova_slope_row(hsm):
    m = betaspace.method_ellipses(hsm, "ses", "mathach", "school", "Sector", methods=["two-stage"])["two-stage"]
    assert m["Catholic"].center[1] == pytest.approx(1.6672, abs=1e-4)
    assert _se(m["Catholic"])[1] == pytest.approx(0.3506, abs=1e-4)
    d = betaspace.difference_ellipse(m)
    assert d.center[1] == pytest.approx(1.1100, abs=1e-4)
    assert _se(d)[1] == pytest.approx(0.5086, abs=1e-4)
    # p = 0.0353: the shadows ellipse (t on 38 df) just misses zero on the slope axis
    assert 2 * stats.t.sf(d.center[1] / _se(d)[1], d.df) == pytest.approx(0.0353, abs=1e-4)
    lo, hi = d.scaled(geo.radius("shadows", d.df)).shadows().loc["ses", ["lower", "upper"]]
    assert 0 < lo < hi


def test_between_method_reproduces_the_ecological_regression(hsm):
    e = betaspace.method_ellipses(hsm, "ses", "mathach", "school", methods=["between"])["between"]["all"]
    np.testing.assert_allclose(e.center, [12.7926, 5.7734], atol=1e-4)
    np.testing.assert_allclose(_se(e), [0.2898, 0.6984], atol=1e-4)
    assert e.df == 38


def test_beta_space_bad_input(hsm):
    """geometry.group_ols is kept for the book: it is ols.lmlist.group_coefficients."""
    with pytest.raises(KeyError, match="group column 'nope'"):
        geo.group_ols(hsm, "ses", "mathach", "nope")
    with pytest.raises(ValueError, match="unknown method"):
        betaspace.method_ellipses(hsm, "ses", "mathach", "school", methods=["bayes"])
    with pytest.raises(ValueError, match="constant within each"):
        geo.group_ols(hsm, "ses", "mathach", "school", by="Sex")


def test_group_ols_is_the_one_per_group_ols():
    from hlmlab.ols.lmlist import group_coefficients

    assert geo.group_ols is group_coefficients


def test_method_ellipses_name_a_missing_column(hsm):
    with pytest.raises(KeyError, match="by column 'Region'"):
        betaspace.method_ellipses(hsm, "ses", "mathach", "school", by="Region")


def test_difference_ellipse_adds_the_shapes():
    a = geo.Ellipse([1, 2], [[1, 0.2], [0.2, 0.5]], df=10)
    b = geo.Ellipse([3, 1], [[2, -0.1], [-0.1, 0.3]], df=10)
    d = betaspace.difference_ellipse({"A": a, "B": b})
    np.testing.assert_allclose(d.center, [2, -1])
    np.testing.assert_allclose(d.shape, a.shape + b.shape)
    assert d.label == "B − A" and d.df == 10
    with pytest.raises(KeyError, match="level 'C' not found"):
        betaspace.difference_ellipse({"A": a, "B": b}, first="C")
    with pytest.raises(ValueError, match="two levels"):
        betaspace.difference_ellipse({"A": a})
