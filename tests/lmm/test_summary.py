"""How a mixed-model fit prints: nlme's layout as text, tables as HTML."""


def test_summary_prints_like_nlme(slopes):
    text = repr(slopes.summary())
    for piece in [
        "Linear mixed-effects model fit by REML",
        "Data: hs",
        "AIC",
        "logLik",
        "Random effects:",
        "StdDev",
        "Corr",
        "Residual",
        "Value",
        "Std.Error",
        "DF",
        "t-value",
        "p-value",
        "Correlation:",
        "Standardized Within-Group Residuals:",
        "Number of Observations: 1977",
        "Number of Groups: 40",
    ]:
        assert piece in text
    assert "<table" in slopes._repr_html_()
    assert "Log-restricted-likelihood" in repr(slopes)
