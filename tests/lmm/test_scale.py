"""Exact at any scale: offsets and units of y and of the predictors change nothing but what they must.

Adding a constant to y, or multiplying y or a predictor (in the fixed and
the random part) by 1e-9 ... 1e9, leaves theta (up to the predictor's own
units), the t-values, the singular flag and the criterion (up to its
Jacobian term) unchanged to 1e-6.
"""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl

DATA = {
    "hs": ("mathach ~ ses * Sector", "~ 1 + ses | school", "mathach", "ses"),
    "sleepstudy": ("Reaction ~ Days", "~ 1 + Days | Subject", "Reaction", "Days"),
    "Orthodont": ("distance ~ age + Sex", "~ 1 + age | Subject", "distance", "age"),
}


def _data(name, ref_data):
    return hl.load_data(name) if name == "hs" else ref_data(name)


@pytest.fixture(scope="module")
def fits(ref_data):
    return {name: hl.lme(f, _data(name, ref_data), r) for name, (f, r, _, _) in DATA.items()}


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("offset", [1e4, 1e9])
def test_an_offset_of_y(name, offset, fits, ref_data):
    fixed, random, y, _ = DATA[name]
    d = _data(name, ref_data)
    fit = hl.lme(fixed, d.assign(**{y: d[y] + offset}), random)
    ref = fits[name]
    assert fit.criterion == pytest.approx(ref.criterion, abs=1e-6)
    np.testing.assert_allclose(fit.theta, ref.theta, atol=1e-6)
    np.testing.assert_allclose(fit.tvalue.iloc[1:], ref.tvalue.iloc[1:], atol=1e-6)
    assert fit.singular == ref.singular and fit.converged


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("c", [1e-9, 1e-3, 86400.0, 1e9])
def test_units_of_y(name, c, fits, ref_data):
    fixed, random, y, _ = DATA[name]
    d = _data(name, ref_data)
    fit = hl.lme(fixed, d.assign(**{y: d[y] * c}), random)
    ref = fits[name]
    nu = fit.nobs - len(fit.fixef)  # REML: -2 log L moves by 2 (n - p) log c
    assert fit.criterion - 2 * nu * np.log(c) == pytest.approx(ref.criterion, abs=1e-6)
    np.testing.assert_allclose(fit.theta, ref.theta, atol=1e-6)
    np.testing.assert_allclose(fit.tvalue, ref.tvalue, atol=1e-6)
    assert fit.singular == ref.singular and fit.converged


@pytest.mark.parametrize("name", DATA)
@pytest.mark.parametrize("c", [1e-9, 1e-3, 86400.0, 1e9])
def test_units_of_a_predictor_in_both_parts(name, c, fits, ref_data):
    fixed, random, _, x = DATA[name]
    d = _data(name, ref_data)
    fit = hl.lme(fixed, d.assign(**{x: d[x] * c}), random)
    ref = fits[name]
    k = sum(x in term.split(":") for term in ref.fixef.index)  # columns of X that scale with x
    assert fit.criterion - 2 * k * np.log(c) == pytest.approx(ref.criterion, abs=1e-6)
    np.testing.assert_allclose(fit.tvalue, ref.tvalue, atol=1e-6)
    # the SDs of the random effects change by the units, their correlation not at all
    np.testing.assert_allclose(fit.varcorr().sd() * np.r_[1.0, c], ref.varcorr().sd(), rtol=1e-6)
    assert fit.varcorr().corr()[0, 1] == pytest.approx(ref.varcorr().corr()[0, 1], abs=1e-6)
    assert fit.singular == ref.singular and fit.converged


def test_the_singular_flag_does_not_depend_on_units(ref_data):
    # a random slope with a small SD in days is a small SD in seconds too, not a zero one
    d = ref_data("sleepstudy")
    days = hl.lme("Reaction ~ Days", d, "~ 1 + Days | Subject")
    seconds = hl.lme("Reaction ~ Days", d.assign(Days=d["Days"] * 86400.0), "~ 1 + Days | Subject")
    assert not days.singular and not seconds.singular
    assert seconds.intervals().varpar is not None
    # and a truly zero variance is singular in any units
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(30), 8)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(size=30)[g] + rng.normal(size=g.size)
    sim = pd.DataFrame({"y": y, "x": x, "g": g})
    flags = {c: hl.lme("y ~ x", sim.assign(x=x * c), "~ 1 + x | g").singular for c in (1e-6, 1.0, 1e6)}
    assert flags == {1e-6: True, 1.0: True, 1e6: True}


def test_ols_is_exact_at_any_scale_too(hsm):
    ref = hl.lm("mathach ~ ses * Sector", hsm)
    t_ref = ref.fixef / ref.se
    for offset, c in ((1e9, 1.0), (0.0, 1e9), (0.0, 1e-9)):
        fit = hl.lm("mathach ~ ses * Sector", hsm.assign(mathach=hsm["mathach"] + offset, ses=hsm["ses"] * c))
        t = fit.fixef / fit.se
        np.testing.assert_allclose(t.iloc[1:], t_ref.iloc[1:], atol=1e-6)
        assert fit.sigma == pytest.approx(ref.sigma, rel=1e-8)


def test_dropped_rows_are_a_warning_for_lm_and_lme(hsm):
    holes = hsm.copy()
    holes.loc[[3, 7], "ses"] = np.nan
    with pytest.warns(hl.DroppedRowsWarning, match="2 row"):
        hl.lm("mathach ~ ses", holes)
    with pytest.warns(hl.DroppedRowsWarning, match="2 row"):
        hl.lme("mathach ~ ses", holes, "~ 1 | school")
