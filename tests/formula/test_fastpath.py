"""The fast paths and the plan cache give formulaic's numbers exactly."""

import numpy as np
import pandas as pd

import hlmlab as hl
from hlmlab.formula.fixed import fixed_design
from hlmlab.formula.random import parse_random, random_design
from hlmlab.formula.terms import r_name


def test_fast_path_for_large_numeric_designs_gives_formulaics_numbers():
    from hlmlab.formula import fastpath as design

    rng = np.random.default_rng(3)
    n = design.FAST_PATH_ROWS + 500
    d = pd.DataFrame(
        {"y": rng.normal(size=n), "x": rng.normal(size=n), "w": rng.integers(0, 2, n), "g": rng.integers(0, 300, n)}
    )
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


def test_formula_plans_reuse_formulaic_exactly():
    # a formula seen before on columns of the same types reuses formulaic's spec and a column plan;
    # X, names and rows must be formulaic's, and a change of levels must not reuse a plan
    from formulaic import model_matrix as fm

    from hlmlab.formula.fastpath import _PLANS
    from hlmlab.formula.fixed import fixed_design
    from hlmlab.formula.terms import FORMULA_CONTEXT

    hs = hl.load_data("hs")
    formulas = ["mathach ~ ses * Sector", "mathach ~ Sector:ses + Minority", "mathach ~ ses:Sector - 1"]
    for formula in formulas + ["mathach ~ ses + I(ses**2)"]:
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
