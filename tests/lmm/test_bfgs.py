"""The first-stage search (hlmlab.lmm.bfgs): BFGS with a strong Wolfe line search."""

import math

import numpy as np
import pytest

from hlmlab.lmm.bfgs import C1, C2, bfgs, wolfe_step


def rosenbrock(x):
    a, b = x
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
    return f, g


def test_bfgs_finds_the_minimum_of_rosenbrocks_valley():
    res = bfgs(rosenbrock, np.array([-1.2, 1.0]), gtol=1e-8, ftol=0.0)
    assert res.success
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)
    assert res.fun < 1e-12


def test_bfgs_solves_a_quadratic_in_few_iterations():
    A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    b = np.array([1.0, -2.0, 0.5])

    def fg(x):
        return float(0.5 * x @ A @ x - b @ x), A @ x - b

    res = bfgs(fg, np.zeros(3), gtol=1e-10, ftol=0.0)
    np.testing.assert_allclose(res.x, np.linalg.solve(A, b), atol=1e-8)
    assert res.nit <= 12


def test_wolfe_step_meets_both_conditions():
    x = np.array([-1.2, 1.0])
    f0, g0 = rosenbrock(x)
    d = -g0

    def phi(a):
        fa, ga = rosenbrock(x + a * d)
        return fa, float(ga @ d), ga

    d0 = float(g0 @ d)
    for a1 in (1e-4, 1.0 / np.linalg.norm(g0), 1.0):  # too short, about right, far too long
        a, fa, ga = wolfe_step(phi, f0, d0, a1)
        assert fa <= f0 + C1 * a * d0
        assert abs(ga @ d) <= C2 * abs(d0)
        assert fa == pytest.approx(rosenbrock(x + a * d)[0])


def test_wolfe_step_without_a_lower_point_returns_none():
    # phi rises from the start although its slope says otherwise (a criterion at its rounding floor)
    assert wolfe_step(lambda a: (1.0 + a, -1.0, None), 1.0, -1.0, 1.0) is None


def test_a_criterion_that_is_infinite_beyond_a_point_is_stepped_around():
    # f = x^2 - 4x for x < 3, +inf beyond: the minimum at 2 lies before the wall
    def fg(x):
        if x[0] >= 3.0:
            return math.inf, np.array([np.nan])
        return float(x[0] ** 2 - 4 * x[0]), np.array([2 * x[0] - 4])

    res = bfgs(fg, np.array([-10.0]), gtol=1e-9)
    assert res.success
    assert res.x[0] == pytest.approx(2.0, abs=1e-6)


def test_an_infinite_start_is_reported_not_searched():
    res = bfgs(lambda x: (math.inf, np.zeros(1)), np.zeros(1))
    assert not res.success and "not finite" in res.message


def test_the_iteration_limit_is_reported():
    res = bfgs(rosenbrock, np.array([-1.2, 1.0]), max_iter=3, ftol=0.0, gtol=0.0)
    assert not res.success and res.nit == 3 and "limit" in res.message
