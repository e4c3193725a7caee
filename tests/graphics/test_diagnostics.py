"""hlmlab.graphics.diagnostics: quantile, residual and influence plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hlmlab.graphics import plots  # noqa: E402


def test_diagnostic_plots_draw_points_and_smoothers(data, lme_fit, drawn_lines):
    ax = plots.residuals_fitted(lme_fit, by="Sector")
    assert len(ax.collections) == 2 and len(drawn_lines(ax)) == 3  # two smoothers and the zero line
    np.testing.assert_allclose(
        np.sort(np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])),
        np.sort(lme_fit.residuals(level=1).to_numpy()),
    )
    ax = plots.scale_location(lme_fit)
    assert ax.collections[0].get_offsets()[:, 1].min() >= 0
    ax = plots.qq_residuals(lme_fit, by="Sector")
    assert len(drawn_lines(ax)) == 4  # points + reference line per sector
    axes = plots.qq_ranef(lme_fit, by="Sector")
    assert len(axes) == 2 and axes[1].get_ylabel() == "BLUP of x"


def test_qq_plot_is_linear_for_normal_scores():
    from scipy import stats

    q = stats.norm.ppf((np.arange(1, 101) - 0.5) / 100)
    ax = plots.qq_plot(3 + 2 * q)
    xs, ys = ax.get_lines()[0].get_data()
    np.testing.assert_allclose(ys, 3 + 2 * xs)
    with pytest.raises(ValueError, match="lengths must match"):
        plots.qq_plot([1, 2, 3], by=["a", "b"])


def test_influence_plot_labels_the_largest_changes():
    ch = pd.DataFrame({"a": [0.1, -2.0, 0.3], "b": [0.5, 0.2, 1.5]}, index=["s1", "s2", "s3"])
    ax = plots.influence_plot(ch, top=1)
    assert [t.get_text() for t in ax.texts] == ["s2", "s3"]
    with pytest.raises(TypeError, match="dropone result"):
        plots.influence_plot([1, 2, 3])


def test_influence_plot_from_dropone(data):
    from hlmlab import dropone, lm

    d = dropone(lm("y ~ x", data), "g", progress=False)
    ax = plots.influence_plot(d)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 2 * data["g"].nunique()


def test_qq_ranef_takes_the_innermost_level_of_a_nested_fit(lme_fit):
    class Nested:
        def __init__(self, inner):
            self.inner = inner
            self.data, self.groups = inner.data, inner.groups

        def ranef(self, level=None):
            outer = pd.DataFrame({"(Intercept)": [0.5, -0.5]}, index=["A", "B"])
            return {"board": outer, "g": self.inner.ranef()} if level is None else outer

    axes = plots.qq_ranef(Nested(lme_fit))
    assert len(axes) == 2
    assert len(axes[0].get_lines()[0].get_xdata()) == lme_fit.ranef().shape[0]


def test_residual_plots_keep_the_category_order_in_the_legend():
    import hlmlab as hl

    hs = hl.load_data("hs")
    hs["third"] = pd.Categorical(
        pd.qcut(hs["ses"], 3, labels=["low", "middle", "high"]).astype(str), categories=["low", "middle", "high"]
    )
    fit = hl.lm("mathach ~ ses", hs)
    ax = plots.scale_location(fit, by="third")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["low", "middle", "high"]
    plt.close("all")
