"""lmer: lme4's one-formula syntax, the same engine as lme; uncorrelated effects (||, pdDiag).

Reference numbers are lme4's (tests/reference/r_reference.json, and lme4's
summary of ``lmer(Reaction ~ Days + (Days || Subject), sleepstudy)``).
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl

#: lme4's summary of lmer(Reaction ~ Days + (Days || Subject), sleepstudy) (REML)
LME4_DIAG = {
    "criterion": 1743.669,
    "fixef": {"(Intercept)": 251.405, "Days": 10.467},
    "se": {"(Intercept)": 6.885, "Days": 1.560},
    "sd": {"Subject": 25.0513, "Subject.1": 5.9882},
    "sigma": 25.5653,
}


@pytest.fixture(scope="module")
def sleep():
    # Days and Subject are read as integers, as pandas reads them from any CSV
    return pd.read_csv(Path(__file__).parents[1] / "reference" / "data" / "sleepstudy.csv")


def _fit(fun, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fun(*args, **kwargs)


def _check_diag(fit):
    assert fit.criterion == pytest.approx(LME4_DIAG["criterion"], abs=5e-4)
    for k, v in LME4_DIAG["fixef"].items():
        assert fit.fixef[k] == pytest.approx(v, abs=5e-4)
    for k, v in LME4_DIAG["se"].items():
        assert fit.se[k] == pytest.approx(v, abs=5e-4)
    vc = fit.varcorr()
    for l, (name, v) in enumerate(LME4_DIAG["sd"].items()):
        assert fit.level_names[l] == name
        assert vc.sd(l)[0] == pytest.approx(v, abs=5e-5)
    assert fit.sigma == pytest.approx(LME4_DIAG["sigma"], abs=5e-5)


# uncorrelated intercept and slope: lme4's numbers, through both doors -------------
def test_lmer_double_bar_gives_lme4s_fit(sleep):
    fit = hl.lmer("Reaction ~ Days + (Days || Subject)", sleep, REML=True)
    _check_diag(fit)
    assert fit.level_names == ["Subject", "Subject.1"]
    assert list(fit.ranef("Subject").columns) == ["(Intercept)"] and list(fit.ranef("Subject.1").columns) == ["Days"]
    assert fit.ngroups == {"Subject": 18, "Subject.1": 18}


@pytest.mark.parametrize(
    "random", ["~ 1 + Days || Subject", "~ Days || Subject", ["~ 1 | Subject", "~ 0 + Days | Subject"]]
)
def test_lme_reaches_the_diagonal_model_too(sleep, random):
    _check_diag(hl.lme("Reaction ~ Days", sleep, random))


def test_separate_terms_of_one_grouping_equal_the_double_bar(sleep):
    a = hl.lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)
    b = hl.lmer("Reaction ~ Days + (Days || Subject)", sleep)
    assert a.criterion == pytest.approx(b.criterion, abs=1e-9)
    np.testing.assert_allclose(a.fitted(), b.fitted(), rtol=1e-8)


def test_diagonal_fit_predicts_with_both_levels(sleep):
    fit = hl.lmer("Reaction ~ Days + (Days || Subject)", sleep)
    b0, b1 = fit.ranef("Subject"), fit.ranef("Subject.1")
    s = sleep["Subject"].to_numpy()
    by_hand = (
        fit.fixef["(Intercept)"]
        + fit.fixef["Days"] * sleep["Days"]
        + b0.loc[s, "(Intercept)"].to_numpy()
        + b1.loc[s, "Days"].to_numpy() * sleep["Days"]
    )
    np.testing.assert_allclose(fit.fitted(), by_hand, rtol=1e-10)
    np.testing.assert_allclose(fit.predict(sleep.head(12), level=2), by_hand[:12], rtol=1e-10)


# lmer and lme are one engine: the reference cases in lme4's syntax --------------
SMALL_CASES = [
    "sleepstudy_reml",
    "sleepstudy_ml",
    "pastes_nested_reml",
    "oats_nested_reml",
    "orthodont_reml",
    "dyestuff_reml",
    "machines_nested_reml",
    "ergostool_reml",
]


def _lme4_formula(case):
    lhs, group = case["random"].lstrip("~ ").split("|")
    return f"{case['fixed']} + ({lhs.strip()} | {group.strip()})"


@pytest.mark.parametrize("name", SMALL_CASES)
def test_lmer_matches_lme_and_lme4_on_the_reference_cases(name, ref_case, ref_data, r_fits):
    case = ref_case(name)
    fit = _fit(hl.lmer, _lme4_formula(case), ref_data(case["dataset"]), REML=case["method"] == "REML")
    same = r_fits(name)
    assert fit.criterion == pytest.approx(same.criterion, abs=1e-8)
    assert fit.level_names == same.level_names
    assert fit.criterion == pytest.approx(case["lme4"]["criterion"], abs=2e-3)
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["lme4"]["fixef"].values()), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("pastes_nested_reml", "strength ~ 1 + (1 | batch) + (1 | batch:cask)"),
        ("pastes_nested_reml", "strength ~ (1 | batch/cask)"),
        ("machines_nested_reml", "score ~ Machine + (1 | Worker) + (1 | Worker:Machine)"),
    ],
)
def test_nested_grouping_written_either_way_is_one_model(name, formula, ref_case, ref_data, r_fits):
    case = ref_case(name)
    fit = _fit(hl.lmer, formula, ref_data(case["dataset"]))
    same = r_fits(name)
    assert fit.level_names == same.level_names
    assert fit.criterion == pytest.approx(case["lme4"]["criterion"], abs=2e-3)
    assert fit.ranef(1).index.equals(same.ranef(1).index)  # groups labelled outer/inner, nlme's style


def test_slope_without_intercept_written_implies_the_intercept(sleep):
    a = hl.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    b = hl.lmer("Reaction ~ Days + (1 + Days | Subject)", sleep)
    assert a.criterion == pytest.approx(b.criterion, abs=1e-10)
    assert a.level_names == ["Subject"] and a.ranef().columns.tolist() == ["(Intercept)", "Days"]


def test_reml_false_is_ml(sleep, ref_case):
    fit = hl.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    assert fit.method == "ML"
    assert fit.criterion == pytest.approx(ref_case("sleepstudy_ml")["lme4"]["criterion"], abs=2e-3)


# what lmer refuses ---------------------------------------------------------------
def test_crossed_grouping_factors_are_a_clear_error(ref_data):
    pastes = ref_data("Pastes")  # cask labels a, b, c recur in every batch
    with pytest.raises(ValueError, match="crossed random effects are not supported") as err:
        hl.lmer("strength ~ 1 + (1 | batch) + (1 | cask)", pastes)
    assert "batch/cask" in str(err.value)
    crossed = pd.DataFrame(
        {"y": np.arange(24.0) % 5, "subject": np.repeat(np.arange(6), 4), "item": np.tile(np.arange(4), 6)}
    )
    with pytest.raises(ValueError, match="crossed random effects are not supported"):
        hl.lmer("y ~ 1 + (1 | subject) + (1 | item)", crossed)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("Reaction ~ Days", "no random-effects term"),
        ("Reaction ~ Days + 1 | Subject", "bar outside parentheses"),
        ("Reaction ~ 0 + (1 | Subject)", "has no terms"),
        ("Reaction ~ Days + (1 + Days | NoSuch)", "NoSuch"),
    ],
)
def test_bad_formulas_are_clear_errors(sleep, formula, message):
    with pytest.raises((ValueError, KeyError), match=message):
        hl.lmer(formula, sleep)


def test_bad_data_and_reml_are_type_errors(sleep):
    with pytest.raises(TypeError, match="DataFrame, got dict"):
        hl.lmer("Reaction ~ Days + (1 | Subject)", dict(sleep))
    with pytest.raises(TypeError, match="REML must be True or False"):
        hl.lmer("Reaction ~ Days + (1 | Subject)", sleep, REML="ML")


def test_lme4_syntax_given_to_lme_points_to_lmer(sleep):
    with pytest.raises(ValueError, match=r"hl\.lmer") as err:
        hl.lme("Reaction ~ Days + (Days | Subject)", sleep, "~ 1 | Subject")
    assert "\x1b" not in str(err.value)


# formulas mean what they mean in R, in both parts of a mixed model -----------------
def test_powers_factor_and_dotted_names_in_fixed_and_random_parts(sleep):
    d = sleep.assign(**{"Days.c": sleep["Days"] - 4.5, "Days2": sleep["Days"] ** 2})
    a = hl.lmer("Reaction ~ Days + I(Days^2) + (1 + Days.c | Subject)", d)
    b = hl.lme("Reaction ~ Days + Days2", d, "~ 1 + Days.c | Subject")
    assert a.criterion == pytest.approx(b.criterion, abs=1e-8)
    assert list(a.fixef.index) == ["(Intercept)", "Days", "I(Days ** 2)"]
    assert a.ranef().columns.tolist() == ["(Intercept)", "Days.c"]
    c = hl.lmer("Reaction ~ factor(Days) + (1 | Subject)", d)
    assert c.fixef.index[1:].tolist() == [f"factor(Days){k}" for k in range(1, 10)]
    # each factor(Days)k is the difference of day k's mean from day 0's (balanced data)
    means = d.groupby("Days")["Reaction"].mean()
    np.testing.assert_allclose(c.fixef.iloc[1:].to_numpy(), (means - means[0]).iloc[1:].to_numpy(), rtol=1e-8)


def test_unused_levels_after_subsetting_are_dropped_in_lme(hsm):
    h = hsm.assign(school=hsm["school"].astype("category"))
    some = h[h["school"].isin(sorted(h["school"].unique())[:8])]  # 8 of the 40 school levels used
    extra = some.assign(Sex=some["Sex"].cat.add_categories("Other"))
    fit = _fit(hl.lme, "mathach ~ ses + Sex", extra, "~ 1 | school")
    assert fit.fixef.index.tolist() == ["(Intercept)", "ses", "SexMale"]
    assert fit.ngroups == {"school": 8}
    ref = _fit(hl.lme, "mathach ~ ses + Sex", some.assign(school=some["school"].astype(int)), "~ 1 | school")
    assert fit.criterion == pytest.approx(ref.criterion, abs=1e-8)


def test_duplicated_columns_are_a_clear_error_in_lme(sleep):
    d = pd.concat([sleep, sleep[["Days"]]], axis=1)
    with pytest.raises(ValueError, match=r"more than one column named \['Days'\]"):
        hl.lme("Reaction ~ Days", d, "~ 1 | Subject")
    with pytest.raises(ValueError, match=r"more than one column named \['Subject'\]"):
        hl.lmer("Reaction ~ 1 + (1 | Subject)", pd.concat([sleep, sleep[["Subject"]]], axis=1))
