"""Per-group cross-products equal the dense sums they stand for."""

import numpy as np

from hlmlab.lmm.model import build_model


def test_group_cross_products_equal_dense_sums(hsm):
    m = build_model("mathach ~ ses * Sector", hsm, "~ 1 + ses | school")
    (lev,), (ls,) = m.levels, m.stats.levels
    X, y = m.design.X, m.design.y
    for j in (0, 17, 39):
        rows = lev.codes == j
        Z = lev.Z[rows]
        np.testing.assert_allclose(ls.ZtZ[:, :, j], Z.T @ Z)
        np.testing.assert_allclose(ls.ZtW[:, :, j], Z.T @ np.column_stack([X[rows], y[rows]]))
    W = np.column_stack([X, y])
    np.testing.assert_allclose(m.stats.WtW, W.T @ W)


def test_row_order_gives_the_same_statistics(hsm):
    a = build_model("mathach ~ ses", hsm, "~ 1 + ses | school")
    b = build_model("mathach ~ ses", hsm.sample(frac=1, random_state=3), "~ 1 + ses | school")
    np.testing.assert_allclose(a.stats.levels[0].ZtZ, b.stats.levels[0].ZtZ)
    np.testing.assert_allclose(a.stats.WtW, b.stats.WtW, rtol=1e-12)
