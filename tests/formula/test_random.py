"""The random part: terms, levels, codes, nesting, bad input."""

import numpy as np
import pandas as pd
import pytest

import hlmlab as hl
from hlmlab.formula.random import parse_random, random_design
from hlmlab.formula.terms import r_name



@pytest.fixture(scope="module")
def hs():
    return hl.load_data("hs")


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


@pytest.mark.parametrize("lhs", ["1 + ses", "ses - 1", "0 + ses", "1", "ses + MEANSES", "1 + ses + I(ses**2)", "1 + Sex"])
def test_simple_random_terms_match_formulaic(hs, lhs):
    from formulaic import model_matrix

    from hlmlab.formula.terms import FORMULA_CONTEXT

    (lev,) = random_design(parse_random(f"~ {lhs} | school"), hs)
    mm = model_matrix(f"~ {lhs}", hs, context=FORMULA_CONTEXT)
    np.testing.assert_array_equal(lev.Z, np.asarray(mm, dtype=float))
    assert lev.znames == [r_name(c) for c in mm.columns]
    np.testing.assert_array_equal(lev.z_matrix(hs.head(5)), lev.Z[:5])
