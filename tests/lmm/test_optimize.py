"""The bounded search for theta."""

import numpy as np
import pytest

import hlmlab as hl


def test_optimizer_flags_a_boundary_optimum_and_refuses_no_checks():
    from hlmlab.lmm.optimize import minimize_theta

    res = minimize_theta(
        lambda t: (t[0] + 1) ** 2 + (t[1] - 0.5) ** 2 + 3 * (t[2] - 2) ** 2, np.ones(3), np.array([0, -np.inf, 0])
    )
    assert res.singular and res.converged
    np.testing.assert_allclose(res.theta, [0, 0.5, 2], atol=1e-6)
    assert any("singular" in m for m in res.messages)
    # an even function of a bounded element (as the criterion is) with its minimum inside
    res = minimize_theta(lambda t: (t[0] ** 2 - 0.04) ** 2, np.ones(1), np.zeros(1))
    assert not res.singular and res.theta[0] == pytest.approx(0.2, abs=1e-6)


def test_fast_paths_reach_the_same_optimum_as_the_full_search():
    # stage 1 ending inside (hs) skips the bounded stage; a boundary (hsfull) is confirmed by the
    # gradient one step inward instead of Powell; both must give the answer of the full search
    from hlmlab.lmm import checkconv
    from hlmlab.lmm import optimize as opt
    from hlmlab.lmm.model import build_model
    from hlmlab.lmm.pls import deviance, deviance_and_gradient, theta_lower, theta_start

    for name, singular in (("hs", False), ("hsfull", True)):
        m = build_model("mathach ~ ses * Sector", hl.load_data(name), "~ 1 + ses | school")
        crit = lambda t, m=m: deviance(m.stats, t, True)  # noqa: E731
        fg = lambda t, m=m: deviance_and_gradient(m.stats, t, True)  # noqa: E731
        lo = theta_lower(m.stats.qs)
        fast = opt.minimize_theta(crit, theta_start(m.stats.qs), lo, fg)
        full = opt.minimize_theta(crit, theta_start(m.stats.qs), lo)  # numerical gradient: no fast path
        assert fast.converged and fast.singular == singular and "Powell" not in fast.method
        assert fast.fun <= full.fun + 1e-9 * abs(full.fun)
        np.testing.assert_allclose(fast.theta, full.theta, atol=1e-5)
        grad = lambda t, fg=fg: fg(t)[1]  # noqa: E731
        if singular:
            assert checkconv.boundary_confirmed(grad, fast.theta, lo)
        else:  # a false boundary (the optimum is inside) is not confirmed
            assert not checkconv.boundary_confirmed(grad, np.r_[fast.theta[:2], 0.0], lo)
