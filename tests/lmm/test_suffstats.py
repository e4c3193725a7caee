"""Per-group cross-products equal the dense sums they stand for."""

import numpy as np
import pytest

from hlmlab.lmm.model import build_model


def test_group_cross_products_equal_dense_sums(hsm):
    m = build_model("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")
    (lev,), (ls,) = m.levels, m.stats.levels
    # the statistics are those of the centred columns: y - mean(y), and X's columns whose mean exceeds their SD
    c = m.stats.center
    X, y = m.design.X - c[:-1], m.design.y - c[-1]
    assert c[-1] == np.mean(m.design.y) and c[0] == 0
    for j in (0, 17, 39):
        rows = lev.codes == j
        Z = lev.Z[rows]
        np.testing.assert_allclose(ls.ZtZ[:, :, j], Z.T @ Z)
        np.testing.assert_allclose(ls.ZtW[:, :, j], Z.T @ np.column_stack([X[rows], y[rows]]), atol=1e-8)
    W = np.column_stack([X, y])
    np.testing.assert_allclose(m.stats.WtW, W.T @ W, rtol=1e-10, atol=1e-8)


def test_row_order_gives_the_same_statistics(hsm):
    a = build_model("mathach ~ ses", hsm, "~ 1 + ses | school")
    b = build_model("mathach ~ ses", hsm.sample(frac=1, random_state=3), "~ 1 + ses | school")
    np.testing.assert_allclose(a.stats.levels[0].ZtZ, b.stats.levels[0].ZtZ)
    np.testing.assert_allclose(a.stats.WtW, b.stats.WtW, rtol=1e-12, atol=1e-8)


def test_a_large_offset_of_y_costs_no_digits(hsm):
    # y + 1e9 gives the same criterion, theta and t-values as y itself (cross-products of centred columns)
    import hlmlab as hl

    ref = hl.lme("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")
    fit = hl.lme("mathach ~ ses * Sector", hsm.assign(mathach=hsm["mathach"] + 1e9), "~ 1 + ses | school")
    assert abs(fit.criterion - ref.criterion) < 1e-6
    np.testing.assert_allclose(fit.theta, ref.theta, atol=1e-6)
    np.testing.assert_allclose(fit.tvalue[1:], ref.tvalue[1:], atol=1e-6)
    assert fit.fixef.iloc[0] - 1e9 == pytest.approx(ref.fixef.iloc[0], abs=1e-5)
