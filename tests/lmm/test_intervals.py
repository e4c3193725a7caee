"""nlme-style intervals: the notes' numbers, nlme's, and refusal at singular fits."""

import numpy as np
import pytest

import hlmlab as hl


def _values(x):
    return list(x.values()) if isinstance(x, dict) else list(x)


def test_oneway_intervals_match_the_notes(oneway):
    iv = oneway.intervals()
    assert iv.fixed.loc["(Intercept)", "lower"] == pytest.approx(11.68057, abs=5e-6)
    assert iv.fixed.loc["(Intercept)", "upper"] == pytest.approx(13.52878, abs=5e-6)
    assert iv.varpar.loc["sigma", "lower"] == pytest.approx(6.101522, abs=5e-6)
    assert iv.varpar.loc["sigma", "upper"] == pytest.approx(6.498242, abs=5e-6)
    # "about 2.2141 to 3.6333 (the last digits differ between nlme versions)"
    sd = iv.varpar.loc["school: sd((Intercept))"]
    assert sd["lower"] == pytest.approx(2.2141, rel=5e-4)
    assert sd["upper"] == pytest.approx(3.6333, rel=5e-4)


@pytest.mark.parametrize(
    "name", ["hs_oneway_reml", "hs1_fitc_reml", "sleepstudy_reml", "orthodont_reml", "ergostool_reml"]
)
def test_nlme_df_and_intervals_match(name, r_fits, ref_case):
    c = ref_case(name)["nlme"]
    fit = r_fits(name)
    np.testing.assert_array_equal(fit.df, _values(c["df"]))
    iv = fit.intervals()
    for coef, v in c["intervals"]["fixed"].items():
        assert iv.fixed.loc[coef, "lower"] == pytest.approx(v["lower"], rel=1e-4, abs=1e-4)
    s = c["intervals"]["sigma"]
    assert iv.varpar.loc["sigma", "lower"] == pytest.approx(s["lower"], rel=2e-3)
    assert iv.varpar.loc["sigma", "upper"] == pytest.approx(s["upper"], rel=2e-3)
    assert fit.aic == pytest.approx(c["AIC"], abs=1e-4)
    assert fit.bic == pytest.approx(c["BIC"], abs=1e-4)


def test_singular_fit_is_flagged_and_intervals_refuse(ref_data):
    d = ref_data("Dyestuff2")
    fit = hl.lme("Yield ~ 1", d, "~ 1 | Batch")
    assert fit.singular and fit.theta[0] < 1e-4
    assert any("singular" in m for m in fit.messages)
    assert "singular" in repr(fit.summary())
    iv = fit.intervals()
    assert iv.varpar is None and "singular" in iv.message
    assert "cannot compute intervals" in repr(iv)
