"""LmeFit: the contract's attributes, BLUPs, coefficients, DF dispatch, simulate and refit."""

import numpy as np
import pytest


def test_results_contract(slopes, hsm):
    assert slopes.nobs == 1977 and slopes.ngroups == {"school": 40} and slopes.method == "REML"
    assert slopes.npar == 4 + 3 + 1
    assert slopes.vcov.shape == (4, 4) and list(slopes.vcov.index) == list(slopes.fixef.index)
    G = slopes.G
    assert list(G.index) == ["(Intercept)", "ses"] and np.allclose(G, G.T)
    assert slopes.design.model_matrix(hsm.head(3)).shape == (3, 4)
    r = slopes.residuals()
    np.testing.assert_allclose(r + slopes.fitted(), hsm["mathach"])
    np.testing.assert_allclose(slopes.residuals(type="pearson"), r / slopes.sigma)
    np.testing.assert_allclose(slopes.fitted(0), slopes.design.X @ slopes.fixef.to_numpy())
    coef = slopes.coef()
    np.testing.assert_allclose(coef["ses"] - slopes.fixef["ses"], slopes.ranef()["ses"])


def test_ranef_conditional_variances_match_lme4(fitc, ref_case):
    ref = ref_case("hs1_fitc_reml")["optimum"]["condvar"]["school"]
    cv = fitc.ranef().attrs["condVar"]
    labels = list(fitc.ranef().index)
    for school, m in ref.items():
        np.testing.assert_allclose(cv[labels.index(int(school))], m["values"], rtol=1e-4)


def test_contrast_df_dispatch(slopes):
    L = np.eye(4)[[2]]
    rows, joint = slopes.contrast_df(L, "nlme")
    assert rows[0] == 38 and joint == 38
    with pytest.raises(ValueError, match="unknown ddf"):
        slopes.contrast_df(L, "bogus")
    with pytest.raises(ValueError, match="4 fixed effects"):
        slopes.contrast_df(np.eye(3), "nlme")


def test_contrast_df_loads_satterthwaite_and_kenward_roger(fitc, ref_case):
    o = ref_case("hs1_fitc_reml")["optimum"]["lmerTest"]
    L = np.eye(5)
    for ddf, key in [("satterthwaite", "satterthwaite"), ("kenward-roger", "kenward_roger")]:
        rows, joint = fitc.contrast_df(L, ddf)
        np.testing.assert_allclose(rows, list(o[key]["df"].values()), rtol=2e-2)
        assert np.isfinite(joint)


def test_simulate_and_refit(slopes, hsm):
    Y = slopes.simulate(3, seed=1)
    assert Y.shape == (1977, 3)
    assert np.array_equal(Y, slopes.simulate(3, seed=1))
    d = hsm.assign(mathach=Y[:, 0])
    f = slopes.refit(data=d)
    assert f.fixef.index.equals(slopes.fixef.index) and f.loglik != slopes.loglik
    ml = slopes.refit(method="ML")
    assert ml.method == "ML" and ml.loglik > slopes.loglik


def test_oneway_blups_of_all_schools_match_nlme(oneway, ref_case):
    ref = ref_case("hs_oneway_reml")["nlme"]["ranef"]["school"]
    r = oneway.ranef()
    for school, v in ref.items():
        assert r.loc[int(school), "(Intercept)"] == pytest.approx(v["(Intercept)"], abs=1e-6)


def test_simulated_responses_have_the_fitted_variance_components(oneway):
    Y = oneway.simulate(400, seed=11)
    codes = oneway.levels[0].codes
    resid_within = (
        Y - np.stack([np.bincount(codes, weights=Y[:, k]) / np.bincount(codes) for k in range(Y.shape[1])], 1)[codes]
    )
    n, J = len(codes), oneway.ngroups["school"]
    s2_within = (resid_within**2).sum(axis=0) / (n - J)
    assert np.mean(s2_within) == pytest.approx(oneway.sigma**2, rel=0.01)
    means = np.stack([np.bincount(codes, weights=Y[:, k]) / np.bincount(codes) for k in range(Y.shape[1])], 1)
    expected = oneway.G.iloc[0, 0] + oneway.sigma**2 * np.mean(1 / np.bincount(codes))
    assert np.mean(means.var(axis=0, ddof=1)) == pytest.approx(expected, rel=0.05)


def test_ranef_se_and_groups(slopes):
    se = slopes.ranef_se()
    cv = slopes.ranef().attrs["condVar"]
    np.testing.assert_allclose(se.to_numpy() ** 2, np.diagonal(cv, axis1=1, axis2=2))
    assert list(se.columns) == ["(Intercept)", "ses"] and len(se) == 40
    assert (slopes.groups["school"].to_numpy() == slopes.data["school"].to_numpy()).all()
