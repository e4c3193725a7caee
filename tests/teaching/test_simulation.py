"""hlmlab.teaching.simulation: the notes' simulated example."""

import numpy as np
import pytest

from hlmlab.teaching.simulation import simulate_schools


def test_simulation_is_reproducible_and_well_formed():
    a, b = simulate_schools(20, seed=4), simulate_schools(20, seed=4)
    assert a.data.equals(b.data)
    assert len(a.lines) == 20 and (a.lines["n"] > 0).all()
    assert a.lines["n"].sum() == len(a.data)
    assert set(a.data["school"]) == set(range(1, 21))


def test_simulated_lines_have_the_population_moments():
    sim = simulate_schools(20000, mean_n=2, seed=0)
    beta = sim.lines[["b0", "b1"]].to_numpy()
    np.testing.assert_allclose(beta.mean(axis=0), [12, 2], atol=0.15)
    np.testing.assert_allclose(np.cov(beta.T), [[16, 8], [8, 25]], rtol=0.05)


def test_within_school_variance_is_sigma2():
    sim = simulate_schools(400, seed=2)
    d = sim.data.merge(sim.lines, on="school")
    resid = d["y"] - d["b0"] - d["b1"] * d["x"]
    np.testing.assert_allclose(resid, d["e"], atol=1e-12)
    assert resid.var() == pytest.approx(20, rel=0.05)
    np.testing.assert_allclose(sim.lines[["u0", "u1"]].to_numpy() + [12, 2], sim.lines[["b0", "b1"]].to_numpy())


def test_ols_lines_are_least_squares():
    sim = simulate_schools(3, seed=5)
    d = sim.data[sim.data["school"] == 2]
    slope, intercept = np.polyfit(d["x"], d["y"], 1)
    row = sim.lines.iloc[1]
    assert (row["ols0"], row["ols1"]) == pytest.approx((intercept, slope))


def test_singular_G_puts_the_lines_on_a_segment():
    sim = simulate_schools(50, G=[[4, 2], [2, 1]], seed=1)  # rank 1: slope - 2 = (intercept - 12) / 2
    np.testing.assert_allclose(sim.lines["b1"] - 2, (sim.lines["b0"] - 12) / 2, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"G": [[1, 2], [2, 1]]}, "positive semi-definite"), ({"sigma2": 0}, "sigma2"), ({"n_schools": 0}, "n_schools")],
)
def test_bad_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_schools(**kwargs)


@pytest.mark.parametrize("bad", [0, -2, 2.5, "10"])
def test_the_number_of_schools_is_checked(bad):
    with pytest.raises(ValueError, match="n_schools must be a positive whole number"):
        simulate_schools(n_schools=bad, seed=1)
