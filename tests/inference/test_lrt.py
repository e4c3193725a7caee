"""Likelihood-ratio tests of nested fits (anova) and their parametric bootstrap."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import hlmlab as hl
from hlmlab.inference.lrt import anova, simulate_lrt
from hlmlab.ols.fit import lm

REF = json.loads((Path(__file__).parents[1] / "reference" / "r_reference.json").read_text())


def test_anova_refuses_different_data(hsm, pooled):
    other = lm("mathach ~ ses * Sector", hsm.iloc[:-5])
    with pytest.raises(ValueError, match="different numbers of observations"):
        anova(other, pooled)


def test_anova_refuses_reml_fits_with_different_fixed_parts(standin):
    a = standin()
    b = standin()
    b.fixef = b.fixef.drop("x:z")
    with pytest.raises(ValueError, match="REML.*method='ML'"):
        anova(b, a)
    with pytest.raises(ValueError, match="different methods"):
        anova(standin(method="ML"), standin())


def test_lrt_table(hsm, pooled):
    small = lm("mathach ~ ses", hsm)
    tab = anova(small, pooled, test="LRT").table
    assert list(tab["df"]) == [3, 5]
    assert tab["L.Ratio"].iloc[1] == pytest.approx(2 * (pooled.loglik - small.loglik))
    assert tab["AIC"].iloc[1] == pytest.approx(pooled.aic)
    assert list(tab.index) == ["small", "pooled"]


def test_simulate_lrt_on_ols_fits(hsm, pooled):
    small = lm("mathach ~ ses", hsm)
    sim = simulate_lrt(small, pooled, nsim=20, seed=11, progress=False)
    again = simulate_lrt(small, pooled, nsim=20, seed=11, progress=False)
    np.testing.assert_array_equal(sim.simulated, again.simulated)
    assert sim.nsim == 20 and sim.df == 2 and sim.failures == 0
    assert sim.observed == pytest.approx(2 * (pooled.loglik - small.loglik))
    assert np.all(sim.simulated >= -1e-9)
    # the observed sector effect is far beyond anything simulated under the null
    assert sim.p_empirical == 0 and sim.p_nominal < 1e-8
    assert "empirical p" in repr(sim)


def test_lab1_example2_likelihood_ratio_tests(minority_fits):
    ri, m1, m2 = minority_fits
    ref = REF["lrt"]
    tab = anova(ri, m1, m2).table
    assert tab["L.Ratio"].iloc[1] == pytest.approx(ref["nlme_reml_add_dvar_minority"]["statistic"], abs=2e-3)
    assert round(tab["L.Ratio"].iloc[1], 2) == 14.13
    assert round(tab["p-value"].iloc[1], 4) == 0.0009
    assert tab["L.Ratio"].iloc[2] == pytest.approx(ref["nlme_reml_add_dvar_ses"]["statistic"], abs=2e-3)
    assert round(tab["p-value"].iloc[2], 4) == 0.1527
    assert list(np.diff(tab["df"])) == [2, 3]


def test_lab1_example2_simulated_lrt_runs(minority_fits):
    _, m1, m2 = minority_fits
    sim = simulate_lrt(m1, m2, nsim=4, seed=2026, progress=False)
    assert sim.observed == pytest.approx(5.275, abs=2e-3)
    assert sim.df == 3 and round(sim.p_nominal, 4) == 0.1527
    assert sim.nsim + sim.failures == 4 and sim.nsim >= 3
    assert np.all(sim.simulated[np.isfinite(sim.simulated)] >= -1e-6)


def test_anova_refuses_reml_lme_fits_with_different_fixed_parts(hs1_id, minority_fits):
    ri = minority_fits[0]
    other = hl.lme("mathach ~ ses + Minority", hs1_id, random="~ 1 | id")
    with pytest.raises(ValueError, match="REML.*refit both with method='ML'"):
        anova(other, ri)
    # with ML the comparison is allowed, and an lm fit counts as ML (no random part)
    ml = [f.refit(method="ML") for f in (other, ri)]
    tab = anova(*ml, names=["additive", "interaction"]).table
    assert tab["L.Ratio"].iloc[1] == pytest.approx(2 * (ml[1].loglik - ml[0].loglik))
    ols = lm("mathach ~ ses * Minority", hs1_id)
    lrt = anova(ols, ml[1]).table
    assert lrt["df"].diff().iloc[1] == 1
    assert lrt["L.Ratio"].iloc[1] == pytest.approx(2 * (ml[1].loglik - ols.loglik))


def test_simulated_lrt_plot(hsm, pooled):
    small = lm("mathach ~ ses", hsm)
    sim = simulate_lrt(small, pooled, nsim=5, seed=1, progress=False)
    ax = sim.plot()
    assert ax.get_xlabel().startswith("chi-square(2)")


# --------------------------------------------------------------------------- argument checks and fast refits
@pytest.fixture(scope="module")
def ri_pair():
    hs = hl.load_data("hs")
    f0 = hl.lme("mathach ~ ses", hs, "~ 1 | school", method="ML")
    f1 = hl.lme("mathach ~ ses", hs, "~ 1 + ses | school", method="ML")
    return f0, f1


def test_simulate_lrt_wants_the_smaller_model_first(ri_pair):
    f0, f1 = ri_pair
    with pytest.raises(ValueError, match="smaller model comes first"):
        hl.simulate_lrt(f1, f0, nsim=2, progress=False)


def test_simulate_lrt_refuses_fits_that_are_not_nested():
    hs = hl.load_data("hs")
    a = hl.lme("mathach ~ ses", hs, "~ 1 | school", method="ML")
    b = hl.lme("mathach ~ Sector + MEANSES", hs, "~ 1 | school", method="ML")
    with pytest.raises(ValueError, match="not nested"):
        hl.simulate_lrt(a, b, nsim=2, progress=False)


@pytest.mark.parametrize("nsim", [0, -3, 2.5, "10", True])
def test_simulate_lrt_checks_the_number_of_simulations(ri_pair, nsim):
    with pytest.raises(ValueError, match="nsim must be a positive whole number"):
        hl.simulate_lrt(*ri_pair, nsim=nsim, progress=False)


def test_refits_to_a_new_response_equal_fits_from_scratch(ri_pair):
    f0, f1 = ri_pair
    hs = hl.load_data("hs")
    Y = f0.simulate(3, seed=8)
    for k in range(3):
        for fit, random in ((f0, "~ 1 | school"), (f1, "~ 1 + ses | school")):
            fast = fit.refit(newresp=Y[:, k])
            slow = hl.lme("mathach ~ ses", hs.assign(mathach=Y[:, k]), random, method="ML")
            assert fast.criterion == pytest.approx(slow.criterion, abs=1e-6)
            np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-7)
            assert fast.singular == slow.singular
    with pytest.raises(ValueError, match="must have 1977 values"):
        f0.refit(newresp=Y[:10, 0])


def test_simulated_statistics_are_never_negative_for_nested_fits(ri_pair):
    sim = hl.simulate_lrt(*ri_pair, nsim=5, seed=2, progress=False)
    assert sim.df == 2 and np.all(sim.simulated >= -1e-6)


def test_simulate_lrt_is_the_same_on_two_processes(ri_pair):
    one = hl.simulate_lrt(*ri_pair, nsim=12, seed=9, progress=False)
    two = hl.simulate_lrt(*ri_pair, nsim=12, seed=9, progress=False, n_jobs=2)
    np.testing.assert_array_equal(one.simulated, two.simulated)
    assert one.p_empirical == two.p_empirical
    with pytest.raises(ValueError, match="n_jobs must be"):
        hl.simulate_lrt(*ri_pair, nsim=2, progress=False, n_jobs=0)


def test_anova_says_so_when_a_pair_is_not_nested_in_order(ri_pair):
    f0, f1 = ri_pair
    hs = hl.load_data("hs")
    other = hl.lme("mathach ~ Sector", hs, "~ 1 + ses | school", method="ML")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = hl.anova(f0, f1)  # nested, smaller first: silent
    with pytest.warns(hl.ComparisonWarning, match="comes before the smaller"):
        swapped = hl.anova(f1, f0)
    assert swapped["L.Ratio"].iloc[1] == pytest.approx(table["L.Ratio"].iloc[1])  # computed all the same, as nlme
    with pytest.warns(hl.ComparisonWarning, match=r"not nested: f0 has fixed effects \['ses'\]"):
        hl.anova(f0, other)
    with pytest.warns(hl.ComparisonWarning, match="same number of parameters"):
        t = hl.anova(f1, other)
    assert np.isnan(t["p-value"].iloc[1])
