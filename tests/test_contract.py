"""One contract for fitted models: the same checks on an OLS fit and on a mixed-model fit."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.contract import ContrastDF, FittedModel


@pytest.fixture(scope="module", params=["lm", "lme"])
def fit(request, hsm):
    if request.param == "lm":
        return hl.lm("mathach ~ ses * Sector", hsm)
    return hl.lme("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")


def test_is_a_fitted_model(fit):
    assert isinstance(fit, FittedModel)
    assert fit.method in ("OLS", "REML", "ML")


def test_estimates_share_one_index(fit):
    names = ["(Intercept)", "ses", "SectorPublic", "ses:SectorPublic"]
    assert list(fit.fixef.index) == names
    assert list(fit.vcov.index) == list(fit.vcov.columns) == names
    np.testing.assert_allclose(fit.se, np.sqrt(np.diag(fit.vcov)))
    assert list(fit.df.index) == names and (fit.df > 0).all()
    assert fit.nobs == 1977 and fit.sigma > 0


def test_coef_is_a_method(fit):
    c = fit.coef()
    if fit.method == "OLS":
        pd.testing.assert_series_equal(c, fit.fixef, check_names=False)
    else:  # one row per school: fixef + BLUPs
        assert c.shape == (40, 4)
        np.testing.assert_allclose(c.mean()["SectorPublic"], fit.fixef["SectorPublic"])


def test_likelihood_criteria(fit):
    k = 4 + (0 if fit.method == "OLS" else 3) + 1
    assert np.isfinite(fit.loglik)
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * k)


def test_summary_is_an_object_that_prints_and_renders(fit):
    s = fit.summary()
    assert not isinstance(s, str)
    text = str(s)
    assert "ses:SectorPublic" in text and "Std" in text and len(text.splitlines()) > 10
    assert "<table" in s._repr_html_()


def test_residuals_by_type(fit):
    r = fit.residuals(type="response")
    p = fit.residuals(type="pearson")
    assert len(r) == fit.nobs
    np.testing.assert_allclose(p, r / fit.sigma)
    with pytest.raises(ValueError, match="type"):
        fit.residuals(type="deviance")


def test_predict_new_data(fit, hsm):
    new = hsm.head(5)
    pred = fit.predict(new)
    assert len(pred) == 5
    np.testing.assert_allclose(np.asarray(pred, float), fit.design.model_matrix(new) @ fit.fixef.to_numpy())


def test_intervals_take_a_confidence_level_and_check_it(fit):
    iv = fit.intervals(conf_level=0.9)
    assert iv is not None
    with pytest.raises(ValueError, match="0.95"):
        fit.intervals(conf_level=95)


def test_contrast_df_returns_a_named_tuple_and_checks_the_method(fit):
    L = np.eye(4)[[1, 3]]
    out = fit.contrast_df(L)
    assert isinstance(out, ContrastDF)
    assert out.row_df.shape == (2,) and np.isfinite(out.joint_df)
    assert isinstance(fit.contrast_df(L, "kr"), ContrastDF)
    with pytest.raises(ValueError, match="satterthwaite"):
        fit.contrast_df(L, "nonsense")


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True, None])
def test_simulate_wants_a_positive_whole_number(bad):
    hs = hl.load_data("hs")
    for fit in (hl.lm("mathach ~ ses", hs), hl.lme("mathach ~ ses", hs, "~ 1 | school")):
        with pytest.raises(ValueError, match="nsim must be a positive whole number"):
            fit.simulate(bad)
    assert hl.lm("mathach ~ ses", hs).simulate(2, seed=1).shape == (len(hs), 2)
