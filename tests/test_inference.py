"""Wald tests, L builders, likelihood-ratio tests, their bootstrap, drop-one and R²."""
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.inference.inference import (
    anova, as_L, dropone, glh, ldiff, lgrid, lrows, pairwise, r2_multilevel, simulate_lrt, wald,
)
from hlmlab.ols.fit import lm

REF = json.loads((Path(__file__).parent / "reference" / "r_reference.json").read_text())
CATS = ["Catholic", "Public"]


@dataclass
class StandIn:
    """A tiny fit honouring the contract, with chosen DFs and variance components."""

    fixef: pd.Series
    vcov: pd.DataFrame
    row_df: np.ndarray | None = None
    method: str = "REML"
    loglik: float = -100.0
    aic: float = 210.0
    bic: float = 220.0
    nobs: int = 50
    G: pd.DataFrame | dict | None = None
    sigma: float = 1.0
    calls: list = field(default_factory=list)

    @property
    def se(self):
        return pd.Series(np.sqrt(np.diag(self.vcov)), index=self.fixef.index)

    def contrast_df(self, L, ddf=None):
        """nlme-like: each row takes the smallest DF of the coefficients it involves."""
        self.calls.append(ddf)
        L = np.atleast_2d(L)
        rows = np.array([self.row_df[np.abs(r) > 0].min() for r in L])
        return rows, float(rows.min())


def _standin(**kw):
    names = ["(Intercept)", "x", "z", "x:z"]
    V = pd.DataFrame(np.diag([1.0, 0.25, 4.0, 1.0]), index=names, columns=names)
    return StandIn(pd.Series([10.0, 1.0, -2.0, 0.5], index=names), V, np.array([100.0, 100.0, 20.0, 100.0]), **kw)


# ---------------------------------------------------------------------------
# the notes' fixed-effects models
# ---------------------------------------------------------------------------
def _school_average_L(fit, hs):
    """Public minus Catholic mean of the school intercepts (row Int) and slopes (row Slope)."""
    sector = hl.up(hs, "school").set_index("school")["Sector"]
    n_pub, n_cat = (sector == "Public").sum(), (sector == "Catholic").sum()
    L = pd.DataFrame(0.0, index=["Int", "Slope"], columns=fit.fixef.index)
    for school, sec in sector.items():
        w = 1 / n_pub if sec == "Public" else -1 / n_cat
        L.loc["Int", f"C(school){school}"] = w
        L.loc["Slope", f"C(school){school}:ses"] = w
    return L


def test_fixed_effects_version_a(hsm):
    fit = lm("mathach ~ C(school)/ses - 1", hsm)
    w = wald(fit, _school_average_L(fit, hsm))
    est = w.estimate
    assert est.loc["Int", "Estimate"] == pytest.approx(-2.027255, abs=5e-7)
    assert est.loc["Int", "Std.Error"] == pytest.approx(0.351992, abs=5e-7)
    assert est.loc["Slope", "Estimate"] == pytest.approx(1.109995, abs=5e-7)
    assert est.loc["Slope", "Std.Error"] == pytest.approx(0.454114, abs=5e-7)
    assert list(est["DF"]) == [1897, 1897]
    assert (w.num_df, w.den_df) == (2, 1897)
    assert w.F == pytest.approx(21.03533, abs=5e-6)
    text = repr(w)
    assert "21.03533" in text and "1897" in text and "Lower 95%" in text
    assert "<table" in w._repr_html_()


def test_fixed_effects_version_b(hsm):
    fit = lm("mathach ~ ses + C(school) + ses:Sector", hsm)
    assert "SectorPublic" not in fit.fixef.index
    row = wald(fit, "ses:Sector").estimate.loc["ses:SectorPublic"]
    assert row["Estimate"] == pytest.approx(1.204719, abs=5e-7)
    assert row["Std.Error"] == pytest.approx(0.436134, abs=5e-7)
    assert row["DF"] == 1935


# ---------------------------------------------------------------------------
# the Wald machinery
# ---------------------------------------------------------------------------
def test_regex_picks_every_matching_coefficient(pooled):
    w = wald(pooled, "ses")
    assert list(w.estimate.index) == ["ses", "ses:SectorPublic"]
    np.testing.assert_allclose(w.estimate["Estimate"], pooled.fixef[["ses", "ses:SectorPublic"]])
    np.testing.assert_allclose(w.estimate["t-value"], pooled.coef_table()["t value"][["ses", "ses:SectorPublic"]])
    np.testing.assert_allclose(w.estimate["p-value"], pooled.coef_table()["Pr(>|t|)"][["ses", "ses:SectorPublic"]])


def test_joint_f_equals_the_nested_model_f_test(hsm, pooled):
    small = lm("mathach ~ ses", hsm)
    w = wald(pooled, "Sector")
    a = anova(small, pooled)
    assert w.num_df == 2
    assert w.F == pytest.approx(a.table["F"].iloc[1], rel=1e-10)
    assert w.p_value == pytest.approx(a.table["Pr(>F)"].iloc[1], rel=1e-8)


def test_wald_is_invariant_to_scaling_and_recombining_rows(pooled):
    L = lrows(pooled, "Sector")
    base = wald(pooled, L)
    scaled = wald(pooled, 7.5 * L)
    mixed = wald(pooled, pd.DataFrame([L.iloc[0] + L.iloc[1], L.iloc[0] - 3 * L.iloc[1]], index=["a", "b"]))
    for other in (scaled, mixed):
        assert other.F == pytest.approx(base.F, rel=1e-10)
        assert other.p_value == pytest.approx(base.p_value, rel=1e-8)
        assert other.num_df == 2


def test_dependent_rows_reduce_the_numerator_df(pooled):
    L = lrows(pooled, "Sector")
    extra = pd.DataFrame([2 * L.iloc[0] - L.iloc[1]], index=["combo"])
    w = wald(pooled, pd.concat([L, extra]))
    assert w.num_df == 2 and len(w.estimate) == 3
    assert w.F == pytest.approx(wald(pooled, L).F, rel=1e-10)
    single = wald(pooled, pd.concat([L.iloc[[0]], 3 * L.iloc[[0]]]))
    assert single.num_df == 1
    assert single.F == pytest.approx(single.estimate["t-value"].iloc[0] ** 2, rel=1e-10)


def test_confidence_limits_use_t_quantiles(pooled):
    w = wald(pooled, "^ses$", level=0.9)
    row = w.estimate.iloc[0]
    from scipy import stats

    q = stats.t.ppf(0.95, 1973)
    assert row["Lower 90%"] == pytest.approx(row["Estimate"] - q * row["Std.Error"])
    assert row["Upper 90%"] == pytest.approx(row["Estimate"] + q * row["Std.Error"])


def test_spec_forms_agree(pooled):
    names = list(pooled.fixef.index)
    vec = np.array([0, 0, 1.0, 0])
    by_vector = wald(pooled, vec)
    by_series = wald(pooled, pd.Series(vec, index=names, name="sector"))
    by_list = wald(pooled, ["SectorPublic"])
    by_frame = wald(pooled, pd.DataFrame({"SectorPublic": [1.0]}, index=["s"]))
    for w in (by_series, by_list, by_frame):
        assert w.F == pytest.approx(by_vector.F)
    assert list(by_series.estimate.index) == ["sector"]
    both = glh(pooled, {"ses": "ses", "Sector": "Sector"})
    assert list(both) == ["ses", "Sector"]
    assert both["Sector"].F == pytest.approx(wald(pooled, "Sector").F)
    assert list(both.anova.index) == ["ses", "Sector"]
    assert "Sector" in repr(both) and "<table" in both._repr_html_()


def test_wald_takes_dfs_from_the_contract():
    fit = _standin()
    w = wald(fit, {"z": "^z$", "x and z": ["x", "z"]}, ddf="satterthwaite")
    assert w["z"].estimate["DF"].iloc[0] == 20
    assert list(w["x and z"].estimate["DF"]) == [100, 20]
    assert w["x and z"].den_df == 20
    assert fit.calls == ["satterthwaite", "satterthwaite"]
    # F for independent estimates: mean of squared t values
    assert w["x and z"].F == pytest.approx((1.0**2 / 0.25 + 2.0**2 / 4.0) / 2)
    assert wald(fit, "^x$", ddf=7).estimate["DF"].iloc[0] == 7


# ---------------------------------------------------------------------------
# L builders
# ---------------------------------------------------------------------------
def test_gap_curve_from_a_grid(pooled):
    ses = [-2.0, -1.0, 0.0, 1.0, 2.0]
    pub = pd.DataFrame({"ses": ses, "Sector": pd.Categorical(["Public"] * 5, categories=CATS)})
    cat = pub.assign(Sector=pd.Categorical(["Catholic"] * 5, categories=CATS))
    L = ldiff(lgrid(pooled, pub), lgrid(pooled, cat))
    assert L.index[0] == "Sector: Public - Catholic at ses=-2"
    w = wald(pooled, L)
    b = pooled.fixef
    np.testing.assert_allclose(w.estimate["Estimate"], b["SectorPublic"] + np.array(ses) * b["ses:SectorPublic"])
    V = pooled.vcov
    var = V.loc["SectorPublic", "SectorPublic"] + 2 * np.array(ses) * V.loc["SectorPublic", "ses:SectorPublic"] \
        + np.array(ses) ** 2 * V.loc["ses:SectorPublic", "ses:SectorPublic"]
    np.testing.assert_allclose(w.estimate["Std.Error"], np.sqrt(var))
    assert w.num_df == 2  # five points on a line in a 2-dimensional space


def test_pairwise_differences_of_levels(hsm):
    d = hsm.assign(tert=pd.qcut(hsm["ses"], 3, labels=["low", "mid", "high"]))
    fit = lm("mathach ~ tert + Sector", d)
    L = pairwise(fit, "tert")
    assert list(L.index) == ["mid - low", "high - low", "high - mid"]
    est = wald(fit, L).estimate["Estimate"]
    b = fit.fixef
    np.testing.assert_allclose(est, [b["tertmid"], b["terthigh"], b["terthigh"] - b["tertmid"]])
    assert wald(fit, L).num_df == 2


def test_ldiff_broadcasts_a_single_row(pooled):
    L = lrows(pooled, "Sector")
    base = lrows(pooled, "^ses$")
    out = ldiff(L, base)
    assert out.shape == (2, 4) and (out["ses"] == -1).all()


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------
def test_pattern_matching_nothing_is_an_error(pooled):
    with pytest.raises(ValueError, match=r"'Sex'.*SectorPublic"):
        wald(pooled, "Sex")


def test_L_with_the_wrong_number_of_columns(pooled):
    with pytest.raises(ValueError, match="one column per coefficient"):
        wald(pooled, np.ones((2, 3)))
    with pytest.raises(ValueError, match="not coefficients"):
        as_L(pooled, pd.DataFrame({"Sectorpublic": [1.0]}))


def test_anova_refuses_different_data(hsm, pooled):
    other = lm("mathach ~ ses * Sector", hsm.iloc[:-5])
    with pytest.raises(ValueError, match="different numbers of observations"):
        anova(other, pooled)


def test_anova_refuses_reml_fits_with_different_fixed_parts():
    a = _standin()
    b = _standin()
    b.fixef = b.fixef.drop("x:z")
    with pytest.raises(ValueError, match="REML.*method='ML'"):
        anova(b, a)
    with pytest.raises(ValueError, match="different methods"):
        anova(_standin(method="ML"), _standin())


# ---------------------------------------------------------------------------
# likelihood-ratio tests and the bootstrap
# ---------------------------------------------------------------------------
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


def test_dropone_matches_a_manual_refit(hsm):
    fit = lm("mathach ~ ses * Sector", hsm)
    d1 = dropone(fit, "school", progress=False)
    assert d1.changes.shape == (40, 4)
    manual = lm("mathach ~ ses * Sector", hsm[hsm["school"] != 8854])
    np.testing.assert_allclose(d1.changes.loc[8854], (manual.fixef - fit.fixef) / fit.se)
    top = d1.most_influential(3)
    assert len(top) == 3 and top["max |change| (SE)"].is_monotonic_decreasing
    assert top["max |change| (SE)"].iloc[0] == pytest.approx(d1.changes.abs().to_numpy().max())


def test_r2_multilevel_reduction_of_each_component():
    null = _standin(G=pd.DataFrame([[8.0]], index=["(Intercept)"], columns=["(Intercept)"]), sigma=6.0)
    G = pd.DataFrame([[2.0, 0.1], [0.1, 0.5]], index=["(Intercept)", "ses"], columns=["(Intercept)", "ses"])
    full = _standin(G=G, sigma=np.sqrt(27.0))
    tab = r2_multilevel(full, null)
    assert tab.loc["(Intercept)", "R2"] == pytest.approx(0.75)
    assert tab.loc["Residual", "R2"] == pytest.approx(0.25)
    assert np.isnan(tab.loc["ses", "R2"])


# ---------------------------------------------------------------------------
# Lab 1 on mixed models (needs hlmlab.lme)
# ---------------------------------------------------------------------------
lme_missing = not hasattr(hl, "lme")
needs_lme = pytest.mark.skipif(lme_missing, reason="hlmlab.lme not available yet")


@pytest.fixture(scope="module")
def hs1_id():
    d = hl.load_data("hs1")
    return d.assign(id=d["school"])


@pytest.fixture(scope="module")
def fitc(hs1_id):
    return hl.lme("mathach ~ ses * Sector + cvar(ses, id)", hs1_id, random="~ 1 + ses | id")


FITC_REF = next(c for c in REF["cases"] if c["name"] == "hs1_fitc_reml")


def _nlme_fitc():
    """nlme's fitc (fixef, vcov, between/within DF) from the R reference, as a contract stand-in."""
    nl = FITC_REF["nlme"]
    names = list(nl["fixef"])
    V = pd.DataFrame(nl["vcov"]["values"], index=nl["vcov"]["rows"], columns=nl["vcov"]["cols"])
    return StandIn(pd.Series(nl["fixef"]), V.loc[names, names], np.array([nl["df"][n] for n in names], dtype=float))


def _gap_L(fit):
    ses = [-2.0, -1.0, 0.0, 1.0, 2.0]
    names = list(fit.fixef.index)
    L = pd.DataFrame(0.0, index=[f"gap at ses={s:g}" for s in ses], columns=names)
    L["SectorPublic"] = 1.0
    L["ses:SectorPublic"] = ses
    return L


GAP = [-4.5106, -3.1446, -1.7785, -0.4125, 0.9536]
GAP_SE = [0.7010, 0.5097, 0.4636, 0.5975, 0.8282]


def test_lab1_compositional_effect_from_nlme_estimates():
    fit = _nlme_fitc()
    row = wald(fit, pd.Series({"ses": 1.0, "cvar(ses, school)": 1.0}, name="compositional")).estimate.iloc[0]
    assert round(row["Estimate"], 6) == 4.607932
    assert round(row["Std.Error"], 6) == 0.592568
    assert row["DF"] == 77


def test_lab1_gap_from_nlme_estimates():
    est = wald(_nlme_fitc(), _gap_L(_nlme_fitc())).estimate
    np.testing.assert_array_equal(est["Estimate"].round(4), GAP)
    np.testing.assert_array_equal(est["Std.Error"].round(4), GAP_SE)
    assert (est["DF"] == 77).all()


# The REML surface of fitc is flat along the fixed effects: nlme and lme4 agree
# on the criterion to 1e-6 yet their compositional estimates differ by 4e-5.
# On hlmlab's own fit we therefore ask for agreement to 1e-4 (estimates) and
# 2e-5 (SEs), and exact agreement with the hand computation from fixef/vcov.
@needs_lme
def test_lab1_compositional_effect(fitc):
    w = wald(fitc, pd.Series({"ses": 1.0, "cvar(ses, id)": 1.0}, name="compositional"))
    row = w.estimate.iloc[0]
    b, V = fitc.fixef, fitc.vcov
    assert row["Estimate"] == pytest.approx(b["ses"] + b["cvar(ses, id)"], rel=1e-12)
    var = V.loc["ses", "ses"] + V.loc["cvar(ses, id)", "cvar(ses, id)"] + 2 * V.loc["ses", "cvar(ses, id)"]
    assert row["Std.Error"] == pytest.approx(np.sqrt(var), rel=1e-12)
    assert row["Estimate"] == pytest.approx(4.607932, abs=1e-4)
    assert row["Std.Error"] == pytest.approx(0.592568, abs=2e-5)
    assert row["DF"] == 77


@needs_lme
def test_lab1_gap_between_sectors(fitc, hs1_id):
    ses = [-2.0, -1.0, 0.0, 1.0, 2.0]
    grid = pd.DataFrame({"ses": ses, "id": 0})
    pub = lgrid(fitc, grid.assign(Sector=pd.Categorical(["Public"] * 5, categories=CATS)))
    cat = lgrid(fitc, grid.assign(Sector=pd.Categorical(["Catholic"] * 5, categories=CATS)))
    L = ldiff(pub, cat)
    np.testing.assert_allclose(L.to_numpy(), _gap_L(fitc).to_numpy(), atol=1e-12)
    w = wald(fitc, L)
    est = w.estimate
    np.testing.assert_allclose(est["Estimate"], GAP, atol=1.5e-4)
    np.testing.assert_allclose(est["Std.Error"], GAP_SE, atol=6e-5)
    assert (est["DF"] == 77).all() and w.num_df == 2


@pytest.fixture(scope="module")
def minority_fits(hs1_id):
    f = "mathach ~ ses * Minority"
    ri = hl.lme(f, hs1_id, random="~ 1 | id")
    m1 = hl.lme(f, hs1_id, random="~ 1 + dvar(Minority, id) | id")
    m2 = hl.lme(f, hs1_id, random="~ 1 + dvar(Minority, id) + dvar(ses, id) | id")
    return ri, m1, m2


@needs_lme
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


@needs_lme
def test_lab1_example2_simulated_lrt_runs(minority_fits):
    _, m1, m2 = minority_fits
    sim = simulate_lrt(m1, m2, nsim=4, seed=2026, progress=False)
    assert sim.observed == pytest.approx(5.275, abs=2e-3)
    assert sim.df == 3 and round(sim.p_nominal, 4) == 0.1527
    assert sim.nsim + sim.failures == 4 and sim.nsim >= 3
    assert np.all(sim.simulated[np.isfinite(sim.simulated)] >= -1e-6)


@needs_lme
def test_wald_passes_satterthwaite_to_the_fit(fitc):
    try:
        w = wald(fitc, _gap_L(fitc), ddf="satterthwaite")
    except NotImplementedError:
        pytest.skip("Satterthwaite DF not wired into lme yet")
    ref = FITC_REF["contrasts"]["public_minus_catholic_gap"]["lmerTest_satterthwaite"]["df"]
    np.testing.assert_allclose(w.estimate["DF"], list(ref.values()), rtol=0.02)


@needs_lme
def test_dropone_on_a_mixed_model(fitc, hs1_id):
    d = dropone(fitc, "id", groups=[1224, 9586], progress=False)
    manual = fitc.refit(data=hs1_id[hs1_id["id"] != 9586])
    np.testing.assert_allclose(d.changes.loc[9586], (manual.fixef - fitc.fixef) / fitc.se, rtol=1e-8, atol=1e-10)
    assert list(d.changes.index) == [1224, 9586]
    with pytest.raises(ValueError, match="not in the fit"):
        dropone(fitc, "id", groups=[1], progress=False)


@needs_lme
def test_r2_multilevel_on_mixed_models(minority_fits, hs1_id):
    ri = minority_fits[0]
    null = hl.lme("mathach ~ 1", hs1_id, random="~ 1 | id")
    tab = r2_multilevel(ri, null)
    tau0, tau1 = null.G.iloc[0, 0], ri.G.iloc[0, 0]
    assert tab.loc["(Intercept)", "R2"] == pytest.approx(1 - tau1 / tau0)
    assert tab.loc["Residual", "R2"] == pytest.approx(1 - ri.sigma**2 / null.sigma**2)
    assert 0 < tab.loc["Residual", "R2"] < 1 and 0 < tab.loc["(Intercept)", "R2"] < 1


@needs_lme
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


def test_wald_takes_a_name_and_shows_whole_df(hs):
    fit = hl.lm("mathach ~ ses * Sector", hs)
    w = hl.wald(fit, "Sector", name="sector terms")
    assert w.name == "sector terms"
    text = repr(w)
    assert "sector terms" in text and " 1973 " in text and "1973.0" not in text
    html = w._repr_html_()
    assert "<td>1973</td>" in html and "-1.466604" in html


def test_lm_html_table_keeps_r_digits(hs):
    html = hl.lm("mathach ~ ses * Sector", hs)._repr_html_()
    assert "<td>13.5579</td>" in html and "<td>0.1881</td>" in html and "&lt; 2e-16" in html


def test_wald_kenward_roger_uses_the_adjusted_covariance(hs):
    # pbkrtest at lme4's optimum (tests/reference/satterthwaite_reference.json):
    # SectorPublic adjusted SE 0.6661013, DF 38.24; unadjusted SE 0.6628
    fit = hl.lme("mathach ~ ses * Sector", hs, random="~ 1 + ses | school")
    kr = hl.wald(fit, "^SectorPublic$", ddf="kenward-roger").estimate.iloc[0]
    plain = hl.wald(fit, "^SectorPublic$").estimate.iloc[0]
    assert kr["Std.Error"] == pytest.approx(0.6661013, rel=2e-3)
    assert kr["DF"] == pytest.approx(38.24, rel=2e-2)
    assert kr["Std.Error"] > plain["Std.Error"]
