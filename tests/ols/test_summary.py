"""How an lm fit prints: R's summary.lm as text, the tables as HTML."""

import hlmlab as hl
from hlmlab.contract import Summary
from hlmlab.ols.summary import OlsSummary, coefficient_table


def test_summary_text_reads_like_r(pooled):
    text = str(pooled.summary())
    assert "lm(formula = mathach ~ ses * Sector, data = hsm)" in text
    assert "Residual standard error: 6.344 on 1973 degrees of freedom" in text
    assert "Multiple R-squared:  0.1404" in text
    assert "F-statistic: 107.4 on 3 and 1973 DF" in text
    assert "13.5579" in text and "0.1881" in text
    assert "<table" in pooled._repr_html_()


def test_summary_is_an_object_that_prints_r_text(pooled):
    s = pooled.summary()
    assert isinstance(s, OlsSummary) and isinstance(s, Summary)
    # a notebook shows the text itself, not a quoted string with \n
    assert repr(s) == str(s) and repr(s).startswith("Call:\n") and "\\n" not in repr(s)
    assert repr(pooled) == str(s)
    assert s._repr_html_() == pooled._repr_html_()
    assert list(s.coefficients.columns) == ["Estimate", "Std. Error", "t value", "Pr(>|t|)"]


def test_coefficient_table_uses_shared_decimals_and_stars(pooled):
    shown = coefficient_table(pooled)
    assert list(shown["Estimate"]) == ["13.5579", "2.2999", "-1.4666", "1.6051"]
    assert (shown[""] == "***").all() and (shown["Pr(>|t|)"] == "< 2e-16").sum() >= 1


def test_lm_html_table_keeps_r_digits(hs):
    html = hl.lm("mathach ~ ses * Sector", hs)._repr_html_()
    assert "<td>13.5579</td>" in html and "<td>0.1881</td>" in html and "&lt; 2e-16" in html
