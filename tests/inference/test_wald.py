"""Wald tests: the notes' fixed-effects models, the machinery, Lab 1, conf_level and ddf names."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.inference.hypotheses import ldiff, lgrid, lrows
from hlmlab.inference.lrt import anova
from hlmlab.inference.wald import WaldTest, glh, wald
from hlmlab.ols.fit import lm

REF = json.loads((Path(__file__).parents[1] / "reference" / "r_reference.json").read_text())
FITC_REF = next(c for c in REF["cases"] if c["name"] == "hs1_fitc_reml")
CATS = ["Catholic", "Public"]


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
    w = wald(pooled, "^ses$", conf_level=0.9)
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


def test_wald_takes_dfs_from_the_contract(standin):
    fit = standin()
    w = wald(fit, {"z": "^z$", "x and z": ["x", "z"]}, ddf="satterthwaite")
    assert w["z"].estimate["DF"].iloc[0] == 20
    assert list(w["x and z"].estimate["DF"]) == [100, 20]
    assert w["x and z"].den_df == 20
    assert fit.calls == ["satterthwaite", "satterthwaite"]
    # F for independent estimates: mean of squared t values
    assert w["x and z"].F == pytest.approx((1.0**2 / 0.25 + 2.0**2 / 4.0) / 2)
    assert wald(fit, "^x$", ddf=7).estimate["DF"].iloc[0] == 7


def test_wald_takes_a_name_and_shows_whole_df(hs):
    fit = hl.lm("mathach ~ ses * Sector", hs)
    w = hl.wald(fit, "Sector", name="sector terms")
    assert w.name == "sector terms"
    text = repr(w)
    assert "sector terms" in text and " 1973 " in text and "1973.0" not in text
    html = w._repr_html_()
    assert "<td>1973</td>" in html and "-1.466604" in html


# ---------------------------------------------------------------------------
# conf_level and ddf names
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [95, 0, 1.5, "high"])
def test_conf_level_is_checked(pooled, bad):
    with pytest.raises(ValueError, match="conf_level"):
        wald(pooled, "ses", conf_level=bad)


def test_conf_level_95_suggests_095(pooled):
    with pytest.raises(ValueError, match=r"0\.95"):
        wald(pooled, "ses", conf_level=95)


def test_wald_result_keeps_its_conf_level(pooled):
    w = wald(pooled, "^ses$", conf_level=0.8)
    assert isinstance(w, WaldTest) and w.conf_level == 0.8 and "Lower 80%" in w.estimate.columns


def test_wald_unknown_ddf_lists_the_names(pooled, standin):
    with pytest.raises(ValueError, match="unknown ddf 'residual'.*'satterthwaite'.*'kr'"):
        wald(pooled, "ses", ddf="residual")
    fit = standin()
    with pytest.raises(ValueError, match="unknown ddf"):
        wald(fit, "^x$", ddf="between")
    assert fit.calls == []  # checked before the fit is asked


def test_wald_ddf_aliases_on_lm(pooled):
    base = wald(pooled, "Sector")
    for name in ("nlme", "sat", "kr", "kenward_roger"):
        w = wald(pooled, "Sector", ddf=name)
        assert w.den_df == base.den_df == 1973 and w.F == base.F


# ---------------------------------------------------------------------------
# Lab 1 on mixed models
# ---------------------------------------------------------------------------
def _gap_L(fit):
    ses = [-2.0, -1.0, 0.0, 1.0, 2.0]
    names = list(fit.fixef.index)
    L = pd.DataFrame(0.0, index=[f"gap at ses={s:g}" for s in ses], columns=names)
    L["SectorPublic"] = 1.0
    L["ses:SectorPublic"] = ses
    return L


GAP = [-4.5106, -3.1446, -1.7785, -0.4125, 0.9536]
GAP_SE = [0.7010, 0.5097, 0.4636, 0.5975, 0.8282]


def test_lab1_compositional_effect_from_nlme_estimates(nlme_fitc):
    row = wald(nlme_fitc, pd.Series({"ses": 1.0, "cvar(ses, school)": 1.0}, name="compositional")).estimate.iloc[0]
    assert round(row["Estimate"], 6) == 4.607932
    assert round(row["Std.Error"], 6) == 0.592568
    assert row["DF"] == 77


def test_lab1_gap_from_nlme_estimates(nlme_fitc):
    est = wald(nlme_fitc, _gap_L(nlme_fitc)).estimate
    np.testing.assert_array_equal(est["Estimate"].round(4), GAP)
    np.testing.assert_array_equal(est["Std.Error"].round(4), GAP_SE)
    assert (est["DF"] == 77).all()


# The REML surface of fitc is flat along the fixed effects: nlme and lme4 agree
# on the criterion to 1e-6 yet their compositional estimates differ by 4e-5.
# On hlmlab's own fit we therefore ask for agreement to 1e-4 (estimates) and
# 2e-5 (SEs), and exact agreement with the hand computation from fixef/vcov.


# The REML surface of fitc is flat along the fixed effects: nlme and lme4 agree
# on the criterion to 1e-6 yet their compositional estimates differ by 4e-5.
# On hlmlab's own fit we therefore ask for agreement to 1e-4 (estimates) and
# 2e-5 (SEs), and exact agreement with the hand computation from fixef/vcov.
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


def test_wald_passes_satterthwaite_to_the_fit(fitc):
    w = wald(fitc, _gap_L(fitc), ddf="satterthwaite")
    ref = FITC_REF["contrasts"]["public_minus_catholic_gap"]["lmerTest_satterthwaite"]["df"]
    # lme4 and hlmlab optima differ on this flat REML surface: the DF agree to 2e-4
    np.testing.assert_allclose(w.estimate["DF"], list(ref.values()), rtol=5e-4)
