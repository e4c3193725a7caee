"""hlmlab.graphics._axes: the smoother and draw_ellipse."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hlmlab.graphics import geometry as geo  # noqa: E402
from hlmlab.graphics import plots  # noqa: E402


def test_smoother_reproduces_a_straight_line_and_checks_input():
    x = np.linspace(0, 10, 40)
    gx, gy = plots.smooth(x, 3 + 2 * x, frac=0.3, n=25)
    np.testing.assert_allclose(gy, 3 + 2 * gx, atol=1e-9)
    with pytest.raises(ValueError, match="lengths must match"):
        plots.smooth(x, x[:5])
    with pytest.raises(ValueError, match="frac"):
        plots.smooth(x, x, frac=0)
    assert plots.smooth([1, 1, 1], [1, 2, 3])[0].size == 0


def test_smoother_follows_a_curve():
    x = np.linspace(-2, 2, 400)
    gx, gy = plots.smooth(x, x**2, frac=0.1)
    np.testing.assert_allclose(gy, gx**2, atol=0.05)


def test_draw_ellipse_puts_the_points_on_the_axes():
    e = geo.Ellipse([1, 2], [[1, 0.5], [0.5, 2]], 2.0, label="E")
    ax = plt.figure().gca()
    line = plots.draw_ellipse(e, ax, n=50, center=True)
    np.testing.assert_allclose(np.column_stack(line.get_data()), e.points(50))
    assert line.get_label() == "E" and len(ax.get_lines()) == 2
