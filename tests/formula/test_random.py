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


@pytest.mark.parametrize(
    "lhs", ["1 + ses", "ses - 1", "0 + ses", "1", "ses + MEANSES", "1 + ses + I(ses**2)", "1 + Sex"]
)
def test_simple_random_terms_match_formulaic(hs, lhs):
    from formulaic import model_matrix

    from hlmlab.formula.terms import FORMULA_CONTEXT

    (lev,) = random_design(parse_random(f"~ {lhs} | school"), hs)
    mm = model_matrix(f"~ {lhs}", hs, context=FORMULA_CONTEXT)
    np.testing.assert_array_equal(lev.Z, np.asarray(mm, dtype=float))
    assert lev.znames == [r_name(c) for c in mm.columns]
    np.testing.assert_array_equal(lev.z_matrix(hs.head(5)), lev.Z[:5])


# uncorrelated effects (||), several terms of one grouping ---------------------
def test_double_bar_gives_one_term_per_column_named_as_lme4():
    t = parse_random("~ 1 + Days || Subject")
    assert [(x.lhs, x.factors, x.name, x.formula) for x in t] == [
        ("1", ("Subject",), "Subject", "~1 | Subject"),
        ("0 + Days", ("Subject",), "Subject.1", "~0 + Days | Subject"),
    ]
    assert [x.lhs for x in parse_random("~ Days || Subject")] == ["1", "0 + Days"]  # implicit intercept
    assert [x.lhs for x in parse_random("~ 0 + a + b || g")] == ["0 + a", "0 + b"]
    assert [x.name for x in parse_random(["~ 1 | g", "~ 0 + x | g", "~ 0 + z | g"])] == ["g", "g.1", "g.2"]


def test_interaction_grouping_next_to_its_outer_factor_is_the_nested_level():
    a = parse_random(["~ 1 | a", "~ 1 | a:b"])
    b = parse_random("~ 1 | a/b")
    assert [(x.lhs, x.factors, x.name) for x in a] == [(x.lhs, x.factors, x.name) for x in b]
    assert parse_random("~ 1 | a:b")[0].factors == ("a:b",)  # alone it is one interaction factor
    assert parse_random("~ 1 | `my g`/b.1")[0].factors == ("my g",)


def test_levels_of_one_grouping_share_groups_and_each_group_is_its_own_parent(hs):
    outer, inner = random_design(parse_random("~ 1 + ses || school"), hs)
    assert (outer.name, inner.name) == ("school", "school.1")
    assert outer.znames == ["(Intercept)"] and inner.znames == ["ses"]
    np.testing.assert_array_equal(inner.codes, outer.codes)
    np.testing.assert_array_equal(inner.parent, np.arange(40))
    assert inner.labels.equals(outer.labels.rename("school.1"))
    listed = random_design(parse_random(["~ 1 | school", "~ 0 + ses | school"]), hs)
    np.testing.assert_array_equal(listed[1].Z, inner.Z)


def test_terms_of_one_grouping_with_a_common_column_are_refused(hs):
    with pytest.raises(ValueError, match=r"both have the column\(s\) \['\(Intercept\)'\]"):
        random_design(parse_random(["~ 1 | school", "~ 1 + ses | school"]), hs)


def test_crossed_message_suggests_outer_then_inner():
    # cask labels a, b, c are reused within each batch: the nesting is batch/cask (Pastes)
    d = pd.DataFrame({"batch": np.repeat(list("ABCDE"), 6), "cask": np.tile(list("aabbcc"), 5), "y": np.arange(30.0)})
    for terms in (["~ 1 | batch", "~ 1 | cask"], ["~ 1 | cask", "~ 1 | batch"]):
        with pytest.raises(ValueError, match=r"write '~ \.\.\. \| batch/cask'; crossed random effects are not"):
            random_design(parse_random(terms), d)


def test_dotted_names_and_R_powers_in_random_terms(hs):
    h = hs.assign(**{"ses.c": hs["ses"] - hs["ses"].mean()})
    (lev,) = random_design(parse_random("~ 1 + ses.c + I(ses.c^2) | school"), h)
    assert lev.znames == ["(Intercept)", "ses.c", "I(ses.c ** 2)"]
    np.testing.assert_allclose(lev.Z[:, 2], h["ses.c"] ** 2)
    np.testing.assert_allclose(lev.z_matrix(h.head(3)), lev.Z[:3])


def test_unused_levels_of_a_random_term_are_dropped(hs):
    h = hs.assign(Sex=hs["Sex"].cat.add_categories(["Other"]))
    (lev,) = random_design(parse_random("~ 0 + Sex | school"), h)
    assert lev.znames == ["SexFemale", "SexMale"]


def test_duplicated_grouping_column_is_an_error(hs):
    h = pd.concat([hs, hs[["school"]]], axis=1)
    with pytest.raises(ValueError, match=r"more than one column named \['school'\]"):
        random_design(parse_random("~ 1 | school"), h)
