"""Problems of a fit are warnings a user's code can catch, pointing at the user's line, and stay on the fit.

Also the design check of hlmlab.lmm.identify: random effects that no group can tell apart.
"""

import dataclasses
import warnings

import numpy as np
import pytest

import hlmlab as hl
from hlmlab.lmm.fit import LmeFit
from hlmlab.lmm.identify import constant_within_groups, deficient_in_every_group, design_messages
from hlmlab.lmm.model import build_model, report

TEXTBOOK = [
    ("Machines", "score ~ Machine", "~ 1 | Worker/Machine"),
    ("Pastes", "strength ~ 1", "~ 1 | batch/cask"),
    ("Orthodont", "distance ~ age * Sex", "~ 1 + age | Subject"),
    ("sleepstudy", "Reaction ~ Days", "~ 1 + Days | Subject"),
    ("hs", "mathach ~ ses * Sector", "~ 1 + ses | school"),
]


@pytest.mark.parametrize("case", TEXTBOOK, ids=[c[0] for c in TEXTBOOK])
def test_a_well_posed_fit_issues_no_warning(case, ref_data):
    name, fixed, random = case
    with warnings.catch_warnings():
        warnings.simplefilter("error", hl.HlmlabWarning)
        fit = hl.lme(fixed, ref_data(name), random)
    assert fit.converged and not fit.singular and fit.messages == []


def test_a_singular_fit_warns_at_the_users_line_and_keeps_the_message(ref_data):
    with pytest.warns(hl.SingularFitWarning, match="singular fit") as record:
        fit = hl.lme("Yield ~ 1", ref_data("Dyestuff2"), "~ 1 | Batch")
    assert record[0].filename == __file__  # the stacklevel points here, not into hlmlab
    assert fit.singular and any(m.startswith("singular fit") for m in fit.messages)
    assert "singular fit" in repr(fit.summary())


@pytest.mark.parametrize(
    "message, category",
    [
        ("convergence check failed: scaled gradient |H^-1 g| = 0.01 > 0.001", hl.ConvergenceWarning),
        ("the Hessian of the criterion is not positive definite at the optimum", hl.HessianWarning),
        ("singular fit: a random-effect standard deviation is (close to) zero", hl.SingularFitWarning),
    ],
)
def test_each_kind_of_problem_has_its_class(slopes, message, category):
    fit = LmeFit(slopes.model, dataclasses.replace(slopes.opt, messages=[message]), slopes._refitter)
    with pytest.warns(category) as record:
        report(fit)
    assert [str(w.message) for w in record] == [message]


# ---------------------------------------------------------------- identifiability


def test_a_random_slope_of_a_school_level_factor_is_reported_not_identified(hsm):
    # Sector is constant within each school: its random slope is confounded with the intercept,
    # and with two values Psi is not identified; before this check the fit converged without a word
    with pytest.warns(hl.IdentifiabilityWarning, match="'SectorPublic' is constant within every 'school'") as w:
        fit = hl.lme("mathach ~ ses * Sector", hsm, "~ 1 + Sector | school")
    assert w[0].filename == __file__
    assert "not identified" in fit.messages[0] and "2 distinct value" in fit.messages[0]
    assert any("not identified" in line for line in repr(fit.summary()).splitlines())


def test_a_random_slope_of_a_school_mean_is_weakly_identified(hsm):
    with pytest.warns(hl.IdentifiabilityWarning, match="weakly identified") as w, warnings.catch_warnings():
        warnings.simplefilter("ignore", hl.SingularFitWarning)
        hl.lme("mathach ~ ses + cvar(ses, school)", hsm, "~ 1 + cvar(ses, school) | school")
    assert "40 values" in str(w[0].message)


def test_dependent_columns_without_an_intercept_get_the_general_message(hsm):
    with pytest.warns(hl.IdentifiabilityWarning, match=r"linearly dependent within every 'school' group"):
        warnings.simplefilter("ignore", hl.HessianWarning)
        hl.lme("mathach ~ ses * Sector", hsm, "~ 0 + Sector | school")


def test_the_check_does_not_depend_on_the_order_of_the_rows(hsm):
    shuffled = hsm.sample(frac=1.0, random_state=3)
    with pytest.warns(hl.IdentifiabilityWarning, match="'SectorPublic' is constant"):
        hl.lme("mathach ~ ses * Sector", shuffled, "~ 1 + Sector | school")


def test_a_slope_that_varies_within_some_group_is_identified(hsm):
    model = build_model("mathach ~ ses", hsm, "~ 1 + ses | school")
    assert design_messages(model.levels, [lev.ZtZ for lev in model.stats.levels]) == []
    # a student-level variable constant within most schools but not all is still identified
    h = hsm.copy()
    h["x"] = hl.cvar(h["ses"], h["school"])
    first_school = h["school"] == h["school"].iloc[0]
    h.loc[first_school, "x"] += np.linspace(-1, 1, first_school.sum())
    model = build_model("mathach ~ ses", h, "~ 1 + x | school")
    assert design_messages(model.levels, [lev.ZtZ for lev in model.stats.levels]) == []


def test_deficient_in_every_group_agrees_with_the_ranks():
    rng = np.random.default_rng(5)
    for q in (2, 3):
        Z = rng.normal(size=(60, q))
        codes = np.repeat(np.arange(12), 5)
        ZtZ = np.stack([Z[codes == j].T @ Z[codes == j] for j in range(12)], axis=2)
        assert not deficient_in_every_group(ZtZ)
        Zd = Z.copy()
        Zd[:, -1] = Zd[:, 0] * rng.normal(size=12)[codes]  # proportional to column 0 within each group
        ZtZd = np.stack([Zd[codes == j].T @ Zd[codes == j] for j in range(12)], axis=2)
        assert deficient_in_every_group(ZtZd)
        assert not deficient_in_every_group(np.concatenate([ZtZd, ZtZ[:, :, :1]], axis=2))


def test_constant_within_groups_ignores_the_intercept_and_reads_unsorted_codes():
    codes = np.array([2, 0, 1, 0, 2, 1])
    Z = np.column_stack([np.ones(6), [5.0, 1.0, 3.0, 1.0, 5.0, 3.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert constant_within_groups(Z, codes, 3) == [1]
