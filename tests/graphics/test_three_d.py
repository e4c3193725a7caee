"""hlmlab.graphics.three_d: 3-D scatter and BLUPs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hlmlab.graphics import plots  # noqa: E402


def test_scatter3d_and_ranef3d_draw_the_ellipsoid(data, stand_in_lme):
    fit = stand_in_lme(data, fixed=("x", "w"), random=("x", "w"))
    ax = plots.ranef3d(fit, by="Sector")
    assert ax.name == "3d"
    assert len(ax.collections) == 3  # two sectors and the wireframe
    with pytest.raises(ValueError, match="3 random effects"):
        plots.ranef3d(stand_in_lme(data))
    with pytest.raises(ValueError, match="3 x 3"):
        plots.scatter3d(data, "x", "w", "y", shape=np.eye(2))


def test_scatter3d_equal_aspect_shows_a_pancake_truthfully():
    rng = np.random.default_rng(3)
    # a flat ellipsoid: the third axis has 1/20 of the others' SD
    G = np.diag([4.0, 1.0, 0.01])
    pts = pd.DataFrame(rng.multivariate_normal(np.zeros(3), G, 60), columns=["a", "b", "c"])
    ax = plots.scatter3d(pts, "a", "b", "c", shape=G)
    default = [np.ptp(lim) for lim in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
    assert default[2] < 0.5 * default[0]  # matplotlib stretches the flat axis
    ax = plots.scatter3d(pts, "a", "b", "c", shape=G, equal_aspect=True)
    lims = np.array([ax.get_xlim(), ax.get_ylim(), ax.get_zlim()])
    widths = lims[:, 1] - lims[:, 0]
    np.testing.assert_allclose(widths, widths[0], rtol=1e-12)
    np.testing.assert_allclose(ax.get_box_aspect() / ax.get_box_aspect()[0], [1, 1, 1], rtol=1e-12)
    # every point and the whole ellipsoid (half-axes 2, 1, 0.1 around 0) are inside
    both = np.vstack([pts.to_numpy(), np.diag([2.0, 1.0, 0.1]), -np.diag([2.0, 1.0, 0.1])])
    assert np.all(both >= lims[:, 0] - 1e-12) and np.all(both <= lims[:, 1] + 1e-12)
    # centred on the midpoints of the ranges
    lo, hi = both.min(axis=0), both.max(axis=0)
    np.testing.assert_allclose(lims.mean(axis=1), (lo + hi) / 2, atol=1e-9)


def test_ranef3d_passes_equal_aspect(data, stand_in_lme):
    fit = stand_in_lme(data, fixed=("x", "w"), random=("x", "w"))
    ax = plots.ranef3d(fit, by="Sector", equal_aspect=True)
    widths = [np.ptp(lim) for lim in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
    np.testing.assert_allclose(widths, widths[0], rtol=1e-12)
