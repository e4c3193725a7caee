"""The convergence, boundary and singularity checks, on criteria whose answers are known."""

import numpy as np
import pytest

from hlmlab import _numdiff
from hlmlab.lmm.checkconv import (
    GRAD_TOL,
    at_bound,
    boundary_confirmed,
    check_convergence,
    column_below,
    inward_probes,
    is_singular,
)


def _g_and_H(f, x):
    return _numdiff.gradient(f, x, rel=1e-6), _numdiff.hessian(f, x, rel=1e-4)


def test_an_interior_minimum_passes():
    f = lambda t: (t[0] - 1) ** 2 + 2 * (t[1] + 0.5) ** 2  # noqa: E731
    x = np.array([1.0, -0.5])
    g, H = _g_and_H(f, x)
    assert check_convergence(f, x, g, H, np.array([0.0, -np.inf])) == []


def test_a_point_short_of_the_minimum_fails_the_scaled_gradient_test():
    f = lambda t: (t[0] - 1) ** 2 + 2 * (t[1] + 0.5) ** 2  # noqa: E731
    x = np.array([1.01, -0.5])
    g, H = _g_and_H(f, x)
    (msg,) = check_convergence(f, x, g, H, np.array([0.0, -np.inf]))
    assert "scaled gradient" in msg and f"> {GRAD_TOL}" in msg


def test_a_saddle_point_fails_the_hessian_test():
    f = lambda t: t[0] ** 2 - t[1] ** 2  # noqa: E731
    x = np.array([1e-9, 0.0])
    g, H = _g_and_H(f, x)
    (msg,) = check_convergence(f, x + 1.0, g, H, np.array([-np.inf, -np.inf]))
    assert "not positive definite" in msg


def test_a_false_boundary_is_caught_and_a_true_one_confirmed():
    lower = np.array([0.0, -np.inf])
    false = lambda t: (t[0] ** 2 - 0.25) ** 2 + (t[1] - 2) ** 2  # noqa: E731  (minimum at t0 = 0.5, even in t0)
    x = np.array([0.0, 2.0])
    g, H = _g_and_H(false, x)
    msgs = check_convergence(false, x, g, H, lower)
    assert any("theta[0] is on its bound but the criterion decreases inward" in m for m in msgs)
    grad_false = lambda t: np.array([4 * t[0] * (t[0] ** 2 - 0.25), 2 * (t[1] - 2)])  # noqa: E731
    assert not boundary_confirmed(grad_false, x, lower)
    grad_true = lambda t: np.array([2 * t[0] * (1 + t[0] ** 2), 2 * (t[1] - 2)])  # noqa: E731  (t0² + t0⁴/2: minimum at 0)
    assert boundary_confirmed(grad_true, x, lower)
    assert not boundary_confirmed(None, x, lower)


def test_bounds_singularity_and_the_column_below_a_diagonal():
    # a 2 x 2 template: theta = (T11, T21, T22); the diagonals are bounded
    lower = np.array([0.0, -np.inf, 0.0])
    assert list(at_bound(np.array([5e-5, 0.3, 1.0]), lower)) == [True, False, False]
    assert is_singular(np.array([1.0, 0.3, 0.0]), lower) and not is_singular(np.array([1.0, 0.3, 0.2]), lower)
    assert list(column_below(0, lower)) == [1] and list(column_below(2, lower)) == []
    probes = inward_probes(np.array([0.0, 0.3, 1.0]), 0, lower, np.array([0.01]))
    assert len(probes) == 2 and probes[1][1] == pytest.approx(-0.3) and probes[0][0] == pytest.approx(0.01)
