"""R's formula syntax rewritten for formulaic, and lme4's one-formula syntax split."""

import pytest

from hlmlab.formula.rsyntax import backtick_names, plain_identifiers, r_formula, split_lme4


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("y ~ I(Days^2)", "y ~ I(Days**2)"),
        ("y ~ log(x^2) + np.power(x, 2)", "y ~ log(x**2) + np.power(x, 2)"),
        ("y ~ I((a + b)^2)", "y ~ I((a + b)**2)"),
        ("y ~ (a + b + c)^2", "y ~ (a + b + c)^2"),  # formulaic's crossing operator, as in R
        ("y ~ x.1 + log(x.1)", "y ~ `x.1` + log(`x.1`)"),
        ("y ~ np.log(x) + I(np.pi * x) + I(2.5e-3 * x)", "y ~ np.log(x) + I(np.pi * x) + I(2.5e-3 * x)"),
        ("y ~ `my var` + C(s, levels=['a.b', 'c'])", "y ~ `my var` + C(s, levels=['a.b', 'c'])"),
        ("y ~ I(a | b)", "y ~ I(a | b)"),  # inside a call a bar is Python's "or"
    ],
)
def test_r_formula_rewrites_what_python_reads_otherwise(given, expected):
    assert r_formula(given) == expected
    assert r_formula(expected) == expected  # a second pass changes nothing


def test_offset_and_bars_are_clear_errors():
    with pytest.raises(ValueError, match=r"offset\(\) is not supported; subtract it from the response"):
        r_formula("y ~ x + offset(log(n))")
    with pytest.raises(ValueError, match=r"'\|'.*hl\.lmer"):
        r_formula("Reaction ~ Days + (Days | Subject)")
    with pytest.raises(ValueError, match="unbalanced"):
        r_formula("y ~ log(x")


def test_names_found_in_a_formula():
    text = r_formula("y ~ x.1 + `my var` + log(x)")
    assert backtick_names(text) == {"x.1", "my var"}
    assert plain_identifiers(text) == {"y", "log", "x"}


def test_split_lme4_terms():
    assert split_lme4("Reaction ~ Days + (Days | Subject)") == ("Reaction ~ Days", ["~ Days | Subject"])
    assert split_lme4("Reaction ~ Days + (Days || Subject)") == ("Reaction ~ Days", ["~ Days || Subject"])
    assert split_lme4("strength ~ (1 | batch/cask)") == ("strength ~ 1", ["~ 1 | batch/cask"])
    assert split_lme4("y ~ x * w + (1 | a) + (0 + x | a:b)") == ("y ~ x * w", ["~ 1 | a", "~ 0 + x | a:b"])
    assert split_lme4("y ~ I(x^2) + (1 + I(x^2) | g)") == ("y ~ I(x^2)", ["~ 1 + I(x^2) | g"])


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x", "no random-effects term"),
        ("y ~ x + 1 | g", "bar outside parentheses"),
        ("y ~ 0 + (1 | g)", "fixed part .* has no terms"),
        ("~ x + (1 | g)", "must have a response"),
        ("y ~ x + ( | g)", "needs effects left of"),
        ("y ~ x + (1 | )", "grouping factor right of it"),
        ("y ~ x + + (1 | g)", "empty term"),
    ],
)
def test_split_lme4_bad_formulas_are_clear_errors(formula, message):
    with pytest.raises(ValueError, match=message):
        split_lme4(formula)
