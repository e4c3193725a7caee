"""lm: the notes' OLS numbers, R's values, leave-one-out identities, the fitted-model contract."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.contract import ContrastDF, FittedModel
from hlmlab.ols.fit import OlsFit, lm

REF = json.loads((Path(__file__).parents[1] / "reference" / "r_reference.json").read_text())
R_OLS = next(c for c in REF["cases"] if c["name"] == "hs_ols_ses_sector")["lm"]


# ---------------------------------------------------------------------------
# the notes' numbers (data-facts.md)
# ---------------------------------------------------------------------------
def test_pooled_ols_reproduces_the_notes(pooled):
    b, se = pooled.fixef, pooled.se
    assert list(b.index) == ["(Intercept)", "ses", "SectorPublic", "ses:SectorPublic"]
    np.testing.assert_allclose(b.round(4), [13.5579, 2.2999, -1.4666, 1.6051])
    np.testing.assert_allclose(se.round(4), [0.1881, 0.2582, 0.2921, 0.3845])
    assert round(pooled.sigma, 3) == 6.344
    assert pooled.df_resid == 1973
    assert round(pooled.r_squared, 4) == 0.1404


def test_pooled_ols_matches_r_lm(pooled):
    np.testing.assert_allclose(pooled.fixef, pd.Series(R_OLS["fixef"]), rtol=1e-10)
    np.testing.assert_allclose(pooled.se, pd.Series(R_OLS["se"]), rtol=1e-10)
    np.testing.assert_allclose(pooled.vcov.to_numpy(), np.array(R_OLS["vcov"]["values"]), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(pooled.coef_table()["t value"], pd.Series(R_OLS["tvalue"]), rtol=1e-10)
    assert pooled.sigma == pytest.approx(R_OLS["sigma"], rel=1e-12)
    assert pooled.adj_r_squared == pytest.approx(R_OLS["adj_r_squared"], rel=1e-10)
    f, df1, df2 = pooled.fstatistic
    assert (f, df1, df2) == (pytest.approx(R_OLS["fstatistic"]["value"], rel=1e-10), 3, 1973)
    assert pooled.loglik == pytest.approx(R_OLS["logLik"], rel=1e-12)
    assert pooled.aic == pytest.approx(R_OLS["AIC"], rel=1e-12)
    assert pooled.bic == pytest.approx(R_OLS["BIC"], rel=1e-12)


def test_between_school_regression(hsm):
    means = hl.up(hsm, "school", all=True)
    fit = lm("mathach ~ ses", means)
    np.testing.assert_allclose(fit.fixef.round(4), [12.7926, 5.7734])
    np.testing.assert_allclose(fit.se.round(4), [0.2898, 0.6984])
    assert fit.nobs == 40


# ---------------------------------------------------------------------------
# influence: R's values and leave-one-out by brute force
# ---------------------------------------------------------------------------
def test_influence_matches_r(pooled):
    diag = R_OLS["diagnostics_first_rows"]
    inf = pooled.influence().iloc[:10]
    np.testing.assert_allclose(inf["hat"], diag["hat"], rtol=1e-9)
    np.testing.assert_allclose(inf["cooks"], diag["cooks_distance"], rtol=1e-8)
    np.testing.assert_allclose(inf["rstudent"], diag["rstudent"], rtol=1e-9)
    np.testing.assert_allclose(inf["rstandard"], diag["rstandard"], rtol=1e-9)
    np.testing.assert_allclose(pooled.residuals().iloc[:10], diag["residuals"], rtol=1e-9)
    np.testing.assert_allclose(pooled.fitted().iloc[:10], diag["fitted"], rtol=1e-12)


@pytest.mark.parametrize("i", [0, 17, 1500])
def test_influence_equals_leave_one_out_refits(hsm, pooled, i):
    inf = pooled.influence()
    without = pooled.refit(data=hsm.drop(index=hsm.index[i]))
    n, p = pooled.X.shape
    d = (pooled.fixef - without.fixef).to_numpy()
    # Cook's distance: (b - b_(i))' X'X (b - b_(i)) / (p s^2)
    cook = d @ pooled.X.T @ pooled.X @ d / (p * pooled.sigma**2)
    assert inf["cooks"].iloc[i] == pytest.approx(cook, rel=1e-8)
    # studentized residual: the deleted residual over its SE from the refit
    x_i = pooled.X[i]
    y_i = pooled.y[i]
    pred_se = np.sqrt(without.sigma**2 * (1 + x_i @ np.linalg.solve(without.X.T @ without.X, x_i)))
    assert inf["rstudent"].iloc[i] == pytest.approx((y_i - x_i @ without.fixef.to_numpy()) / pred_se, rel=1e-8)
    assert inf["sigma_i"].iloc[i] == pytest.approx(without.sigma, rel=1e-10)


# ---------------------------------------------------------------------------
# prediction, contract, invariances
# ---------------------------------------------------------------------------
def test_predict_with_se_and_intervals(pooled):
    grid = pd.DataFrame(
        {"ses": [-1.0, 0.0, 1.0], "Sector": pd.Categorical(["Public"] * 3, categories=["Catholic", "Public"])}
    )
    pr = pooled.predict(grid, se=True, interval="confidence")
    b = pooled.fixef
    np.testing.assert_allclose(pr["fit"], b.iloc[0] + b.iloc[2] + grid["ses"] * (b.iloc[1] + b.iloc[3]))
    x = np.column_stack([np.ones(3), grid["ses"], np.ones(3), grid["ses"]])
    np.testing.assert_allclose(pr["se"], np.sqrt(np.einsum("ij,jk,ik->i", x, pooled.vcov.to_numpy(), x)))
    assert np.all(pr["lower"] < pr["fit"]) and np.all(pr["fit"] < pr["upper"])
    wide = pooled.predict(grid, interval="prediction")
    assert np.all(wide["upper"] - wide["lower"] > pr["upper"] - pr["lower"])


def test_contract_attributes(pooled):
    assert pooled.method == "OLS" and pooled.nobs == 1977
    assert (pooled.df == 1973).all()
    rows, joint = pooled.contrast_df(np.eye(4)[:2])
    assert list(rows) == [1973, 1973] and joint == 1973
    assert isinstance(pooled.contrast_df(np.eye(4)[:2]), ContrastDF)
    assert list(pooled.design.names) == list(pooled.fixef.index)
    sims = pooled.simulate(3, seed=1)
    assert sims.shape == (1977, 3)
    np.testing.assert_array_equal(sims, pooled.simulate(3, seed=1))


def test_reordering_rows_changes_nothing(hsm, pooled):
    shuffled = hsm.sample(frac=1.0, random_state=3)
    fit = lm("mathach ~ ses * Sector", shuffled)
    np.testing.assert_allclose(fit.fixef, pooled.fixef, rtol=1e-11)
    np.testing.assert_allclose(fit.se, pooled.se, rtol=1e-11)
    assert fit.loglik == pytest.approx(pooled.loglik, rel=1e-13)


def test_rescaling_a_predictor_rescales_its_coefficient(hsm, pooled):
    scaled = hsm.assign(ses=hsm["ses"] * 10)
    fit = lm("mathach ~ ses * Sector", scaled)
    np.testing.assert_allclose(fit.fixef[["ses", "ses:SectorPublic"]] * 10, pooled.fixef[["ses", "ses:SectorPublic"]])
    np.testing.assert_allclose(fit.se[["ses", "ses:SectorPublic"]] * 10, pooled.se[["ses", "ses:SectorPublic"]])
    assert fit.loglik == pytest.approx(pooled.loglik, rel=1e-12)


def test_missing_values_are_dropped_and_reported(hsm):
    holes = hsm.copy()
    holes.loc[[3, 10, 20], "ses"] = np.nan
    fit = lm("mathach ~ ses * Sector", holes)
    assert fit.nobs == 1974
    assert "(3 observations deleted due to missingness)" in str(fit.summary())
    res = fit.residuals()
    assert len(res) == 1974 and 3 not in res.index and 4 in res.index


def test_no_intercept_r_squared_is_uncentred(hsm):
    fit = lm("mathach ~ C(school)/ses - 1", hsm)
    assert fit.df_resid == 1897
    y = fit.y
    assert fit.r_squared == pytest.approx(1 - np.sum(fit.residuals() ** 2) / np.sum(y**2))
    assert fit.fstatistic[1] == 80


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def test_rank_deficient_design_names_the_aliased_column(hsm):
    with pytest.raises(ValueError, match="SectorPublic"):
        lm("mathach ~ ses + C(school) + Sector", hsm)


def test_missing_column_is_named(hsm):
    with pytest.raises(KeyError, match="nosuch"):
        lm("mathach ~ nosuch", hsm)


def test_lm_needs_a_data_frame():
    with pytest.raises(TypeError):
        lm("y ~ x", {"y": [1, 2], "x": [1, 2]})


def test_isinstance_contract(pooled):
    assert isinstance(pooled, OlsFit)


def test_influence_of_an_exactly_fitted_row_is_nan_as_in_r():
    import numpy as np
    import pandas as pd

    # the last row is the only one with g == "b": its own coefficient fits it exactly
    df = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.0, 9.0], "x": [0.0, 1.0, 2.0, 3.0, 1.5], "g": list("aaaab")})
    inf = lm("y ~ x + g", df).influence()
    assert inf["hat"].iloc[-1] == 1.0
    assert inf[["rstandard", "rstudent", "cooks"]].iloc[-1].isna().all()
    assert np.isfinite(inf["cooks"].iloc[:-1]).all()


# ---------------------------------------------------------------------------
# the fitted-model contract: coef(), predict(conf_level), intervals, contrast_df
# ---------------------------------------------------------------------------
def test_lm_honours_the_fitted_model_contract(pooled):
    assert isinstance(pooled, FittedModel)
    pd.testing.assert_series_equal(pooled.coef(), pooled.fixef)
    pd.testing.assert_series_equal(pooled.coef(level=0), pooled.fixef)
    with pytest.raises(ValueError, match="no grouping levels"):
        pooled.coef(level=1)


def test_residuals_types(pooled):
    pd.testing.assert_series_equal(pooled.residuals("raw"), pooled.residuals("response"))
    np.testing.assert_allclose(pooled.residuals("pearson"), pooled.residuals() / pooled.sigma)
    with pytest.raises(ValueError, match="unknown residual type"):
        pooled.residuals("deviance")


def test_intervals_are_rs_confint(pooled):
    from scipy import stats

    ci = pooled.intervals()
    assert list(ci.columns) == ["estimate", "lower", "upper"] and list(ci.index) == list(pooled.fixef.index)
    q = stats.t.ppf(0.975, 1973)
    np.testing.assert_allclose(ci["lower"], pooled.fixef - q * pooled.se, rtol=1e-14)
    np.testing.assert_allclose(ci["upper"], pooled.fixef + q * pooled.se, rtol=1e-14)
    ci90 = pooled.intervals(conf_level=0.9)
    assert (ci90["upper"] - ci90["lower"] < ci["upper"] - ci["lower"]).all()
    # R's confint uses R's t quantiles on the reference's estimates and SEs
    np.testing.assert_allclose(ci["estimate"], pd.Series(R_OLS["fixef"]), rtol=1e-10)


def test_predict_conf_level(pooled):
    grid = pd.DataFrame({"ses": [0.0], "Sector": pd.Categorical(["Public"], categories=["Catholic", "Public"])})
    wide = pooled.predict(grid, interval="confidence")
    narrow = pooled.predict(grid, interval="confidence", conf_level=0.5)
    assert (narrow["upper"] - narrow["lower"]).iloc[0] < (wide["upper"] - wide["lower"]).iloc[0]


@pytest.mark.parametrize("bad", [95, 0, 1, -0.5, "high"])
def test_conf_level_is_checked(pooled, bad):
    grid = pd.DataFrame({"ses": [0.0], "Sector": pd.Categorical(["Public"], categories=["Catholic", "Public"])})
    with pytest.raises(ValueError, match="conf_level"):
        pooled.predict(grid, interval="confidence", conf_level=bad)
    with pytest.raises(ValueError, match="conf_level"):
        pooled.intervals(conf_level=bad)


def test_conf_level_95_suggests_095(pooled):
    with pytest.raises(ValueError, match=r"0\.95"):
        pooled.intervals(conf_level=95)
    with pytest.raises(ValueError, match=r"0\.95"):
        pooled.predict(interval="confidence", conf_level=95)


def test_level_is_not_a_confidence_level_for_lm(pooled):
    with pytest.raises(TypeError, match="level"):
        pooled.predict(interval="confidence", level=0)


def test_contrast_df_names_and_aliases(pooled):
    for name in [None, "nlme", "between-within", "satterthwaite", "sat", "kenward-roger", "kr", "kenward_roger", "KR"]:
        rows, joint = pooled.contrast_df(np.eye(4)[[1]], name)
        assert list(rows) == [1973] and joint == 1973


def test_contrast_df_unknown_ddf_lists_the_names(pooled):
    with pytest.raises(ValueError, match="unknown ddf 'residual'.*'satterthwaite'.*'kr'"):
        pooled.contrast_df(np.eye(4)[[1]], "residual")
    with pytest.raises(ValueError, match="one column per coefficient"):
        pooled.contrast_df(np.eye(3), "nlme")
