r"""The notes' simulated example of a hierarchical model.

Each school j has a true line :math:`\beta_j = (\beta_{0j}, \beta_{1j})'`
drawn from the population of lines, and its students' scores scatter
around that line:

.. math::

    \beta_j = \gamma + u_j,\quad u_j \sim N(0, G),\qquad
    Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + \varepsilon_{ij},\quad
    \varepsilon_{ij} \sim N(0, \sigma^2),

with :math:`n_j \sim \text{Poisson}(\bar n)` students per school (schools
with none are drawn again) and :math:`X_{ij} \sim N(0, 1)`. The notes take
:math:`\gamma = (12, 2)'`, :math:`G = \begin{pmatrix}16 & 8\\ 8 & 25\end{pmatrix}`,
:math:`\sigma^2 = 20` and :math:`\bar n = 30`; these are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hlmlab.contract import check_count
from hlmlab.graphics.geometry import check_shape
from hlmlab.ols.lmlist import group_coefficients

__all__ = ["SimulatedSchools", "simulate_schools", "NOTES_GAMMA", "NOTES_G", "NOTES_SIGMA2"]

NOTES_GAMMA = (12.0, 2.0)
NOTES_G = ((16.0, 8.0), (8.0, 25.0))
NOTES_SIGMA2 = 20.0


@dataclass(frozen=True)
class SimulatedSchools:
    """A simulated two-level data set together with the truth behind it.

    Attributes
    ----------
    data : DataFrame
        One row per student: ``school`` (1, 2, ...), ``x``, ``y`` and the
        student's error ``e`` = y - b0 - b1 x.
    lines : DataFrame
        One row per school: the true intercept ``b0`` and slope ``b1``, the
        school's deviations from gamma ``u0`` and ``u1``, its size ``n``, and its
        least-squares line ``ols0``, ``ols1`` (the BLUE, from
        :func:`hlmlab.ols.lmlist.group_coefficients`; NaN when the school has
        fewer than two distinct x).
    gamma : ndarray (2,)
        Mean of the population of lines.
    G : ndarray (2, 2)
        Covariance of the population of lines.
    sigma2 : float
        Within-school variance.
    """

    data: pd.DataFrame
    lines: pd.DataFrame
    gamma: np.ndarray
    G: np.ndarray
    sigma2: float


def simulate_schools(
    n_schools: int = 10,
    gamma: tuple[float, float] = NOTES_GAMMA,
    G: object = NOTES_G,
    sigma2: float = NOTES_SIGMA2,
    mean_n: float = 30.0,
    seed: int | np.random.Generator | None = None,
) -> SimulatedSchools:
    r"""Draw schools and students from the two-level model above.

    Parameters
    ----------
    n_schools : int
        Number of schools J.
    gamma : (float, float)
        :math:`\gamma`, the mean intercept and slope.
    G : 2 x 2 array-like
        Covariance of the school lines; symmetric positive semi-definite
        (a singular G is allowed: the lines then lie on a segment in beta
        space).
    sigma2 : float
        :math:`\sigma^2 > 0`, the variance of a student around the school line.
    mean_n : float
        Mean of the Poisson school sizes.
    seed : int or numpy Generator, optional
        For a reproducible draw.
    """
    n_schools = check_count(n_schools, "n_schools")
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be positive; got {sigma2}")
    if not mean_n > 0:
        raise ValueError(f"mean_n must be positive; got {mean_n}")
    g = check_shape(G, dim=2, name="G")
    gam = np.asarray(gamma, dtype=float).ravel()
    if gam.size != 2:
        raise ValueError(f"gamma must hold an intercept and a slope; got {gam.size} values")
    rng = np.random.default_rng(seed)
    J = int(n_schools)
    u = rng.multivariate_normal(np.zeros(2), g, size=J, method="eigh")
    beta = gam + u
    sizes = rng.poisson(mean_n, size=J)
    while np.any(sizes == 0):  # a school with no students is not in the sample
        sizes[sizes == 0] = rng.poisson(mean_n, size=int(np.sum(sizes == 0)))
    school = np.repeat(np.arange(J), sizes)
    x = rng.standard_normal(school.size)
    e = rng.normal(0.0, np.sqrt(sigma2), school.size)
    y = beta[school, 0] + beta[school, 1] * x + e
    data = pd.DataFrame({"school": school + 1, "x": x, "y": y, "e": e})
    ols = group_coefficients(data, "x", "y", "school").reindex(np.arange(1, J + 1))
    ols0, ols1 = ols["intercept"].to_numpy(), ols["slope"].to_numpy()
    lines = pd.DataFrame(
        {
            "school": np.arange(1, J + 1),
            "b0": beta[:, 0],
            "b1": beta[:, 1],
            "u0": u[:, 0],
            "u1": u[:, 1],
            "n": sizes,
            "ols0": ols0,
            "ols1": ols1,
        }
    )
    return SimulatedSchools(data=data, lines=lines, gamma=gam, G=g, sigma2=float(sigma2))
