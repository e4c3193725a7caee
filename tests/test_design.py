"""Formulas to matrices: names, NA handling, bad input, random-effects terms."""
import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.formula.fixed import aliased_columns, fixed_design
from hlmlab.formula.random import parse_random, random_design
from hlmlab.formula.terms import r_name


@pytest.fixture(scope="module")
def hs():
    return hl.load_data("hs")


def test_r_style_names_and_column_order(hs):
    d = fixed_design("mathach ~ ses * Sector + cvar(ses, school)", hs)
    assert d.names == ["(Intercept)", "ses", "SectorPublic", "cvar(ses, school)", "ses:SectorPublic"]
    assert d.X.shape == (1977, 5) and d.y.shape == (1977,)
    assert d.n_dropped == 0 and d.rows.all()
    # cvar inside the formula is the school mean of ses
    np.testing.assert_allclose(d.X[:, 3], hl.cvar(hs["ses"], hs["school"]).to_numpy())


def test_factor_names_use_first_level_as_reference(hs):
    d = fixed_design("mathach ~ C(school)", hs)
    assert d.names[:3] == ["(Intercept)", "C(school)1906", "C(school)2208"]
    assert len(d.names) == 40


def test_r_name_translation():
    assert r_name("Intercept") == "(Intercept)"
    assert r_name("Sector[T.Public]") == "SectorPublic"
    assert r_name("ses:Sector[T.Public]") == "ses:SectorPublic"
    assert r_name("Sex[Female]") == "SexFemale"


def test_numpy_functions_and_I_inside_formulas(hs):
    d = fixed_design("mathach ~ log(Size) + I(ses**2) + np.sqrt(Size)", hs)
    np.testing.assert_allclose(d.X[:, 1], np.log(hs["Size"]))
    np.testing.assert_allclose(d.X[:, 2], hs["ses"] ** 2)


def test_missing_values_are_dropped_and_counted(hs):
    h = hs.copy()
    h.loc[[3, 10], "ses"] = np.nan
    h.loc[20, "mathach"] = np.nan
    d = fixed_design("mathach ~ ses", h)
    assert d.n_dropped == 3 and d.n == 1974
    assert not d.rows[[3, 10, 20]].any()
    np.testing.assert_allclose(d.y, h.loc[d.rows, "mathach"].to_numpy())


def test_keep_mask_drops_more_rows(hs):
    keep = np.ones(len(hs), bool)
    keep[:5] = False
    d = fixed_design("mathach ~ ses", hs, keep=keep)
    assert d.n_dropped == 5 and d.n == 1972


def test_model_matrix_for_new_data_has_same_columns(hs):
    d = fixed_design("mathach ~ ses * Sector", hs)
    new = pd.DataFrame({"ses": [-1.0, 0.0, 1.0], "Sector": pd.Categorical(["Public"] * 3, categories=["Catholic", "Public"])})
    X = d.model_matrix(new)
    np.testing.assert_allclose(X, [[1, -1, 1, -1], [1, 0, 1, 0], [1, 1, 1, 1]])


def test_missing_column_is_a_key_error_naming_it(hs):
    with pytest.raises(KeyError, match="nosuch.*available columns"):
        fixed_design("mathach ~ ses + nosuch", hs)


def test_non_numeric_response_is_an_error(hs):
    with pytest.raises(ValueError, match="response 'Sector' is not numeric"):
        fixed_design("Sector ~ ses", hs)


def test_rank_deficient_design_names_the_aliased_columns(hs):
    with pytest.raises(ValueError, match=r"rank deficient.*\['SectorPublic'\]"):
        fixed_design("mathach ~ C(school) + Sector", hs)
    with pytest.raises(ValueError, match=r"I\(2 \* ses\)"):
        fixed_design("mathach ~ ses + I(2 * ses)", hs)


def test_aliased_columns_follows_r_order():
    x = np.arange(10.0)
    X = np.column_stack([np.ones(10), x, 3 * x + 1, x**2])
    assert aliased_columns(X, ["a", "b", "c", "d"]) == ["c"]


def test_parse_random_terms():
    t = parse_random("~ 1 + ses | school")
    assert len(t) == 1 and t[0].lhs == "1 + ses" and t[0].factors == ("school",)
    t = parse_random("~ 1 | board/school")
    assert [x.name for x in t] == ["board", "board/school"]
    t = parse_random(["~ ses - 1 | g", "~ 1 | h"])
    assert [x.lhs for x in t] == ["ses - 1", "1"]
    with pytest.raises(ValueError, match="one '\\|'"):
        parse_random("~ 1 + ses")


def test_random_design_columns_and_codes(hs):
    (lev,) = random_design(parse_random("~ 1 + ses | school"), hs)
    assert lev.znames == ["(Intercept)", "ses"] and lev.q == 2 and lev.ngroups == 40
    assert lev.labels[0] == 1317 and (lev.codes[:5] == 0).all()
    (lev,) = random_design(parse_random("~ ses - 1 | school"), hs)
    assert lev.znames == ["ses"]


def test_nested_levels_are_blocked_by_parent(hs):
    h = hs.assign(board=hs["school"] % 7)
    outer, inner = random_design(parse_random("~ 1 | board/school"), h)
    assert outer.ngroups == 7 and inner.ngroups == 40
    assert inner.labels[0] == "0/2639"
    assert np.all(np.diff(inner.parent) >= 0)  # units of one parent are consecutive
    np.testing.assert_array_equal(inner.parent[inner.codes], outer.codes)


def test_crossed_factors_are_refused(hs):
    with pytest.raises(ValueError, match="crossed"):
        random_design(parse_random(["~ 1 | school", "~ 1 | Sex"]), hs)


def test_grouping_factor_with_missing_values_is_an_error(hs):
    h = hs.copy()
    h["school"] = h["school"].astype(float)
    h.loc[3, "school"] = np.nan
    with pytest.raises(ValueError, match="grouping factor 'school' has 1 missing"):
        random_design(parse_random("~ 1 | school"), h)


def test_too_many_random_effects_is_an_error():
    d = pd.DataFrame({"y": np.arange(6.0), "x": np.arange(6.0) % 3, "g": [1, 1, 2, 2, 3, 3]})
    with pytest.raises(ValueError, match="too many random effects"):
        random_design(parse_random("~ 1 + x | g"), d)


def test_fast_path_for_large_numeric_designs_gives_formulaics_numbers():
    from hlmlab.formula import fastpath as design

    rng = np.random.default_rng(3)
    n = design.FAST_PATH_ROWS + 500
    d = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n), "w": rng.integers(0, 2, n), "g": rng.integers(0, 300, n)})
    fast = fixed_design("y ~ x * w", d)
    (zf,) = random_design(parse_random("~ 1 + x | g"), d)
    old = design.FAST_PATH_ROWS
    try:
        design.FAST_PATH_ROWS = 10 * n  # force formulaic
        slow = fixed_design("y ~ x * w", d)
        (zs,) = random_design(parse_random("~ 1 + x | g"), d)
    finally:
        design.FAST_PATH_ROWS = old
    assert fast.names == slow.names == ["(Intercept)", "x", "w", "x:w"]
    np.testing.assert_array_equal(fast.X, slow.X)
    np.testing.assert_array_equal(fast.y, slow.y)
    np.testing.assert_array_equal(zf.Z, zs.Z)
    assert zf.znames == zs.znames
    np.testing.assert_array_equal(fast.model_matrix(d.head(4)), slow.X[:4])
    # a missing value sends the data through formulaic, which drops the row
    d.loc[5, "x"] = np.nan
    assert fixed_design("y ~ x * w", d).n_dropped == 1


def test_single_threaded_blas_restores_the_thread_count():
    from hlmlab._blas import _controls, single_threaded_blas

    before = [get() for get, _ in _controls()]
    with single_threaded_blas():
        assert all(get() == 1 for get, _ in _controls())
    assert [get() for get, _ in _controls()] == before


@pytest.mark.parametrize("lhs", ["1 + ses", "ses - 1", "0 + ses", "1", "ses + MEANSES", "1 + ses + I(ses**2)", "1 + Sex"])
def test_simple_random_terms_match_formulaic(hs, lhs):
    from formulaic import model_matrix

    from hlmlab.formula.terms import FORMULA_CONTEXT, r_name

    (lev,) = random_design(parse_random(f"~ {lhs} | school"), hs)
    mm = model_matrix(f"~ {lhs}", hs, context=FORMULA_CONTEXT)
    np.testing.assert_array_equal(lev.Z, np.asarray(mm, dtype=float))
    assert lev.znames == [r_name(c) for c in mm.columns]
    np.testing.assert_array_equal(lev.z_matrix(hs.head(5)), lev.Z[:5])


def test_model_matrix_refuses_unseen_factor_levels(hs):
    d = fixed_design("mathach ~ ses * Sector", hs)
    with pytest.raises(ValueError, match="'Other'.*did not have"):
        d.model_matrix(pd.DataFrame({"ses": [0.0], "Sector": ["Other"]}))


def test_group_summaries_of_a_factor_inside_a_formula_give_level_columns():
    import hlmlab as hl

    hs = hl.load_data("hs")
    d = fixed_design("mathach ~ ses + cvar(Minority, school) + dvar(Sex, school)", hs)
    assert d.names == ["(Intercept)", "ses", "cvar(Minority, school)Yes", "dvar(Sex, school)Male"]
    share = (hs["Minority"] == "Yes").groupby(hs["school"]).transform("mean")
    np.testing.assert_allclose(d.X[:, 2], share)
    male = (hs["Sex"] == "Male").astype(float)
    np.testing.assert_allclose(d.X[:, 3], male - male.groupby(hs["school"]).transform("mean"))


def test_formula_plans_reuse_formulaic_exactly():
    # a formula seen before on columns of the same types reuses formulaic's spec and a column plan;
    # X, names and rows must be formulaic's, and a change of levels must not reuse a plan
    from formulaic import model_matrix as fm

    from hlmlab.formula.fastpath import _PLANS

    from hlmlab.formula.fixed import fixed_design

    from hlmlab.formula.terms import FORMULA_CONTEXT

    hs = hl.load_data("hs")
    for formula in ["mathach ~ ses * Sector", "mathach ~ Sector:ses + Minority", "mathach ~ ses:Sector - 1", "mathach ~ ses + I(ses**2)"]:
        ref = fm(formula, hs, context=FORMULA_CONTEXT, na_action="drop").rhs
        for _ in range(2):  # the second time from the plan
            d = fixed_design(formula, hs)
            np.testing.assert_array_equal(d.X, np.asarray(ref, dtype=float))
            assert d.names == [r_name(c) for c in ref.columns] and d.rows.all()
    assert any(k[0] == "mathach ~ ses * Sector" and v[2] is not None for k, v in _PLANS.items())
    sub = hs.copy()  # the other reference level
    sub["Sector"] = sub["Sector"].cat.set_categories(["Public", "Catholic"])
    d = fixed_design("mathach ~ ses * Sector", sub)
    ref = fm("mathach ~ ses * Sector", sub.reset_index(drop=True), context=FORMULA_CONTEXT, na_action="drop").rhs
    np.testing.assert_array_equal(d.X, np.asarray(ref, dtype=float))
    assert d.names == [r_name(c) for c in ref.columns]
    withna = hs.copy()
    withna.loc[3, "ses"] = np.nan
    assert fixed_design("mathach ~ ses * Sector", withna).n_dropped == 1
