r"""Ellipses and ellipsoids: the geometry of data space and beta space.

An ellipse here is the set

.. math:: E(c, S, r) = \{\, c + r A u : \lVert u \rVert = 1 \,\}, \qquad A A' = S,

with *centre* c, symmetric positive semi-definite *shape* S and *radius* r.
A is taken from the singular value decomposition S = U D U', A = U D^{1/2},
so a singular shape gives a degenerate ellipse (a segment), which is what a
singular G or a collinear pair of variables should look like. When S is
invertible the points satisfy (x - c)' S^{-1} (x - c) = r².

The *shadow* (projection) of E(c, S, r) on the k-th axis is the interval
c_k ± r sqrt(S_kk), and its shadow on a direction l is l'c ± r sqrt(l'Sl).
That is why the choice of radius carries the meaning:

=========================  ===============================================
data ellipse, r = 1         shadows are mean ± 1 SD of each variable
dispersion ellipse, r = 1   shadows are mean ± 1 SD of each component
confidence, "shadows"       r = t(0.975, df): every shadow is an ordinary
                            95% interval for the corresponding combination
confidence, "coverage"      r = sqrt(2 F(0.95; 2, df)): the ellipse covers
                            the pair of parameters with probability 0.95
                            (about 2.45 for large df)
=========================  ===============================================

==========================  ==============================================
ellipse                     points on E(c, S, r), for one or several radii
Ellipse                     an ellipse as numbers: centre, shape, radius
check_shape                 validate a symmetric positive semi-definite shape
radius                      the radius for a convention and DF
data_ellipse                mean and covariance of two variables
confidence_ellipse          two coefficients, or two combinations L beta, of
                            an lm or lme fit
dispersion_ellipses         G, sigma² (X_j'X_j)^{-1}, V_j = their sum and,
                            for shrinkage, Var(BLUP) = G V_j^{-1} G and the
                            BLUP's prediction-error covariance
ellipsoid                   a 3-D ellipsoid as surface meshes
shape_summary               eigenvalues, axis lengths, condition number
==========================  ==============================================

The four methods' ellipses of beta space are in
:mod:`hlmlab.graphics.betaspace`; each group's least-squares line in
:func:`hlmlab.ols.lmlist.group_coefficients` (``group_ols`` here is that
function under its old name, kept for the book).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hlmlab.contract import check_conf_level
from hlmlab.graphics._shapes import _center, _factor, _radii, check_shape
from hlmlab.inference.hypotheses import contrast_matrix
from hlmlab.ols.lmlist import group_coefficients as group_ols

__all__ = [
    "Ellipse",
    "ellipse",
    "check_shape",
    "radius",
    "data_ellipse",
    "confidence_ellipse",
    "dispersion_ellipses",
    "ellipsoid",
    "shape_summary",
    "group_ols",
]


# ---------------------------------------------------------------------------
# points on an ellipse
# ---------------------------------------------------------------------------
def ellipse(center: Any, shape: Any, radius: Any = 1, n: int = 100) -> np.ndarray:
    r"""Points on the ellipse {c + r A u : ``|u|`` = 1}, A A' = shape.

    With u_k = (cos t_k, sin t_k), t_k = 2 pi k / (n - 1), k = 0, ..., n - 1
    (the first and last points coincide, so the curve closes), the points are

    .. math:: x_k = c + r\, U D^{1/2} u_k, \qquad S = U D U'.

    Parameters
    ----------
    center : array-like, (2,)
    shape : array-like, (2, 2)
        Symmetric positive semi-definite. A singular shape gives a segment of
        half-length r sqrt(d_1) through the centre.
    radius : float or sequence of floats
        One radius, or several at once.
    n : int
        Number of points per ellipse (at least 3).

    Returns
    -------
    numpy.ndarray
        (n, 2) for a single radius; (len(radius), n, 2) for a sequence.
    """
    s = check_shape(shape, dim=2)
    c = _center(center, 2)
    if int(n) < 3:
        raise ValueError(f"n must be at least 3; got {n}")
    t = np.linspace(0.0, 2 * np.pi, int(n))
    unit = np.column_stack([np.cos(t), np.sin(t)])
    base = unit @ _factor(s).T
    r = _radii(radius)
    pts = c + r[:, None, None] * base[None]
    return pts[0] if np.ndim(radius) == 0 else pts


# ---------------------------------------------------------------------------
# an ellipse as numbers
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Ellipse:
    r"""An ellipse E(c, S, r) = {x : (x - c)' S^{-1} (x - c) = r²} as numbers.

    Attributes
    ----------
    center : ndarray (2,)
        c.
    shape : ndarray (2, 2)
        S, symmetric positive semi-definite.
    radius : float
        r.
    names : tuple of str
        What the two coordinates are (axis labels).
    label : str
        What the ellipse is (a legend entry).
    df : float
        Degrees of freedom behind the radius (inf when none apply).
    """

    center: np.ndarray
    shape: np.ndarray
    radius: float = 1.0
    names: tuple[str, str] = ("x", "y")
    label: str = ""
    df: float = float("inf")
    info: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        s = check_shape(self.shape, dim=2)
        object.__setattr__(self, "shape", s)
        object.__setattr__(self, "center", _center(self.center, 2))
        object.__setattr__(self, "radius", float(_radii(self.radius)[0]))
        object.__setattr__(self, "names", tuple(str(v) for v in self.names))

    def points(self, n: int = 100) -> np.ndarray:
        """(n, 2) points on the ellipse (see :func:`ellipse`)."""
        return ellipse(self.center, self.shape, self.radius, n)

    def shadows(self) -> pd.DataFrame:
        r"""Projections on the axes: c_k ± r sqrt(S_kk), one row per coordinate."""
        half = self.radius * np.sqrt(np.diag(self.shape))
        return pd.DataFrame(
            {"center": self.center, "lower": self.center - half, "upper": self.center + half},
            index=list(self.names),
        )

    def shadow(self, direction: Any) -> tuple[float, float]:
        r"""Projection on a direction l: l'c ± r sqrt(l' S l)."""
        lvec = np.asarray(direction, dtype=float).ravel()
        if lvec.size != 2:
            raise ValueError(f"direction must have 2 values; got {lvec.size}")
        mid = float(lvec @ self.center)
        half = self.radius * float(np.sqrt(lvec @ self.shape @ lvec))
        return mid - half, mid + half

    def quadratic_form(self, x: Any) -> np.ndarray:
        r"""(x - c)' S^+ (x - c) for each row of x (S^+ the pseudo-inverse)."""
        d = np.atleast_2d(np.asarray(x, dtype=float)) - self.center
        return np.einsum("ij,jk,ik->i", d, np.linalg.pinv(self.shape, hermitian=True), d)

    def contains(self, x: Any) -> np.ndarray:
        """True for rows of x inside or on the ellipse (x - c)' S^+ (x - c) <= r²."""
        return self.quadratic_form(x) <= self.radius**2 * (1 + 1e-9)

    def scaled(self, radius: float, label: str | None = None) -> Ellipse:
        """The same centre and shape with another radius."""
        return Ellipse(self.center, self.shape, radius, self.names, self.label if label is None else label, self.df)


# ---------------------------------------------------------------------------
# radius conventions
# ---------------------------------------------------------------------------
def radius(kind: str = "coverage", df: float = np.inf, conf_level: float = 0.95, dim: int = 2) -> float:
    r"""Radius of a confidence ellipse for a convention.

    .. math::

        r_{\text{coverage}} = \sqrt{d\, F(\text{conf\_level}; d, \text{df})}, \qquad
        r_{\text{shadows}} = t\bigl((1 + \text{conf\_level})/2, \text{df}\bigr),

    with d = 2 for an ellipse. For df = inf these are sqrt(chi²(conf_level; d))
    (2.448 for d = 2, conf_level 0.95) and the normal quantile (1.960).

    Parameters
    ----------
    kind : {"coverage", "shadows"}
    df : float
        Denominator degrees of freedom (``np.inf`` for the normal limit).
    conf_level : float
        Confidence level, strictly between 0 and 1.
    dim : int
        Dimension of the region for "coverage".
    """
    conf_level = check_conf_level(conf_level)
    df = float(df)
    if not df > 0:
        raise ValueError(f"df must be positive; got {df}")
    if kind == "coverage":
        if np.isinf(df):
            return float(np.sqrt(stats.chi2.ppf(conf_level, dim)))
        return float(np.sqrt(dim * stats.f.ppf(conf_level, dim, df)))
    if kind == "shadows":
        if np.isinf(df):
            return float(stats.norm.ppf((1 + conf_level) / 2))
        return float(stats.t.ppf((1 + conf_level) / 2, df))
    raise ValueError(f"kind must be 'coverage' or 'shadows'; got {kind!r}")


# ---------------------------------------------------------------------------
# data ellipse
# ---------------------------------------------------------------------------
def data_ellipse(x: Any, y: Any, radius: float = 1.0, names: tuple[str, str] | None = None, label: str = "") -> Ellipse:
    r"""Data ellipse of two variables: centre the means, shape the covariance.

    .. math:: c = (\bar x, \bar y)', \qquad
              S = \frac{1}{n-1}\sum_i (z_i - c)(z_i - c)', \quad z_i = (x_i, y_i)'.

    With radius 1 the shadows are mean ± 1 SD of each variable, and the
    shadow on any direction l is l'c ± SD(l'z). Pairs with a missing value
    are dropped.

    Raises
    ------
    ValueError
        If x and y differ in length or fewer than 2 complete pairs remain.
    """
    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.size != ys.size:
        raise ValueError(f"x has {xs.size} values and y has {ys.size}: their lengths must match")
    ok = np.isfinite(xs) & np.isfinite(ys)
    if ok.sum() < 2:
        raise ValueError(f"a data ellipse needs at least 2 complete pairs; got {int(ok.sum())}")
    z = np.column_stack([xs[ok], ys[ok]])
    if names is None:
        names = (getattr(x, "name", None) or "x", getattr(y, "name", None) or "y")
    return Ellipse(z.mean(axis=0), np.cov(z, rowvar=False), radius, names, label, info={"n": int(ok.sum())})


# ---------------------------------------------------------------------------
# confidence ellipses from a fit
# ---------------------------------------------------------------------------
def confidence_ellipse(
    fit: Any,
    coefs: Any = None,
    L: Any = None,
    kind: str = "coverage",
    conf_level: float = 0.95,
    df: float | None = None,
    ddf: str | None = None,
    label: str = "",
) -> Ellipse:
    r"""Confidence ellipse for two coefficients, or two combinations L beta, of a fit.

    .. math:: c = L\hat\beta, \qquad S = L \widehat{\mathrm{Var}}(\hat\beta) L', \qquad
              r = \sqrt{2 F(\text{conf\_level}; 2, \nu)} \ \text{(coverage)} \ \text{or}\
              t((1+\text{conf\_level})/2, \nu) \ \text{(shadows)}.

    With "shadows" each axis projection is the ordinary Wald interval
    L_k beta ± t SE(L_k beta); with "coverage" the ellipse is the joint
    confidence region whose boundary is where the Wald F statistic of
    H0: L beta = x equals its critical value.

    Parameters
    ----------
    fit : fitted lm or lme model
        Uses ``fixef``, ``vcov`` and ``contrast_df`` (the contract, :mod:`hlmlab.contract`).
    coefs : two coefficient names or positions, optional
    L : (2, p) array or DataFrame, optional
        Rows of L as :func:`hlmlab.inference.hypotheses.contrast_matrix`
        builds them (with neither, the first two coefficients).
    kind : {"coverage", "shadows"}
    conf_level : float
        Confidence level, strictly between 0 and 1.
    df : float, optional
        Overrides the fit's DF. Otherwise "coverage" uses the DF of the joint
        F test of L and "shadows" the smallest DF of the two rows (the
        shadows are exact intervals when the rows have equal DF).
    ddf : str, optional
        Passed to ``fit.contrast_df`` (``"nlme"`` or ``"satterthwaite"``).
    """
    Lm = contrast_matrix(fit, coefs, L, nrow=2)
    beta = np.asarray(fit.fixef, dtype=float)
    V = np.asarray(fit.vcov, dtype=float)
    if df is None:
        row_df, joint_df = fit.contrast_df(Lm.to_numpy(), ddf)
        df = float(joint_df) if kind == "coverage" else float(np.min(row_df))
    r = radius(kind, df, conf_level)
    Lv = Lm.to_numpy()
    center = Lv @ beta
    shape = Lv @ V @ Lv.T
    shape = (shape + shape.T) / 2
    return Ellipse(center, shape, r, tuple(str(i) for i in Lm.index), label or f"{100 * conf_level:g}% {kind}", df)


# ---------------------------------------------------------------------------
# dispersion ellipses for the random coefficients and their estimates
# ---------------------------------------------------------------------------
def dispersion_ellipses(
    G: Any,
    sigma: float,
    X: Any = None,
    XtX: Any = None,
    center: Any = None,
    radius: float = 1.0,
    names: tuple[str, str] | None = None,
    blup: bool = False,
) -> dict[str, Ellipse]:
    r"""The dispersion ellipses of a group's coefficients (Figures 13–19).

    With S_j = sigma² (X_j'X_j)^{-1}, the sampling covariance of the group's
    OLS estimate (its BLUE) given its true coefficients:

    .. math::

        \mathrm{Var}(\beta_j) = G, \qquad
        \mathrm{Var}(\hat\beta_j \mid \beta_j) = S_j = \sigma^2 (X_j'X_j)^{-1}, \qquad
        V_j = \mathrm{Var}(\hat\beta_j) = G + S_j .

    With ``blup=True`` also the two ellipses of the shrinkage argument. The
    BLUP is \tilde\beta_j = \gamma + G V_j^{-1} (\hat\beta_j - \gamma), so

    .. math::

        \mathrm{Var}(\tilde\beta_j - \gamma) = G V_j^{-1} G, \qquad
        \mathrm{Var}(\tilde\beta_j - \beta_j)
            = \bigl(G^{-1} + S_j^{-1}\bigr)^{-1} = G - G V_j^{-1} G = G V_j^{-1} S_j .

    The two add up to G (the BLUP and its prediction error are uncorrelated),
    and in the Loewner order G V_j^{-1} G ≤ G ≤ V_j: the BLUPs vary less than
    the true coefficients, the BLUEs more. Both are computed from V_j^{-1}
    alone (the last form is the Woodbury identity), so a singular G works:
    along a direction with no variance in G the BLUP has no variance either
    and there is no prediction error.

    Parameters
    ----------
    G : (2, 2) array or DataFrame
        Covariance of the random intercept and slope (positive semi-definite;
        may be singular).
    sigma : float
        Residual SD.
    X : (n_j, 2) array, optional
        The group's design (intercept column and slope variable); or
    XtX : (2, 2) array, optional
        X_j'X_j directly (must be invertible).
    center : (2,) array, optional
        Centre of all of them (default the origin); gamma for Figure 13.
    radius : float
        1 gives shadows of ± 1 SD.
    names : (str, str), optional
        Coordinate names (default G's column names, or intercept and slope).
    blup : bool
        Also return ``"BLUP"`` and ``"error"`` (default False, the three
        ellipses only).

    Returns
    -------
    dict
        ``"G"``, ``"sampling"`` (S_j = sigma² (X_j'X_j)^{-1}) and ``"V"``
        (V_j = G + S_j); with ``blup=True`` also ``"BLUP"`` (G V_j^{-1} G,
        the variance of the BLUP around gamma) and ``"error"``
        ((G^{-1} + S_j^{-1})^{-1} = G - G V_j^{-1} G, the prediction-error
        covariance of the BLUP).
    """
    g = check_shape(G, dim=2, name="G")
    if (X is None) == (XtX is None):
        raise ValueError("give exactly one of X (the group's design) or XtX")
    if X is not None:
        xm = np.asarray(X, dtype=float)
        if xm.ndim != 2 or xm.shape[1] != 2:
            raise ValueError(f"X must have 2 columns (intercept and slope variable); got shape {xm.shape}")
        XtX = xm.T @ xm
    xtx = check_shape(XtX, dim=2, name="XtX")
    if np.linalg.matrix_rank(xtx) < 2:
        raise ValueError("X_j'X_j is singular: the group's OLS coefficients are not estimable")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a non-negative number; got {sigma}")
    samp = sigma**2 * np.linalg.inv(xtx)
    samp = (samp + samp.T) / 2
    c = np.zeros(2) if center is None else _center(center, 2)
    if names is None:
        names = tuple(G.columns[:2]) if isinstance(G, pd.DataFrame) else ("(Intercept)", "slope")
    V = g + samp
    out = {
        "G": Ellipse(c, g, radius, names, "G: true coefficients"),
        "sampling": Ellipse(c, samp, radius, names, "σ²(X'X)⁻¹: BLUE given the truth"),
        "V": Ellipse(c, V, radius, names, "V = G + σ²(X'X)⁻¹: BLUE"),
    }
    if blup:
        var_blup, err = _shrinkage_shapes(g, samp)
        out["BLUP"] = Ellipse(c, var_blup, radius, names, "G V⁻¹ G: BLUP")
        out["error"] = Ellipse(c, err, radius, names, "(G⁻¹ + [σ²(X'X)⁻¹]⁻¹)⁻¹: BLUP − truth")
    return out


def _shrinkage_shapes(G: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""(G V^{-1} G, G V^{-1} S) with V = G + S, without inverting G.

    G V^{-1} S = G - G V^{-1} G = (G^{-1} + S^{-1})^{-1} has no subtraction,
    so it keeps its accuracy when S is small next to G (and vice versa).
    V is positive definite whenever S is; when S is singular too (sigma = 0)
    the pseudo-inverse of V is used.
    """
    V = G + S
    try:
        VinvG = np.linalg.solve(V, G)
    except np.linalg.LinAlgError:
        VinvG = np.linalg.pinv(V, hermitian=True) @ G
    var_blup = G @ VinvG
    err = VinvG.T @ S  # G V^{-1} S (V, G symmetric)
    var_blup = (var_blup + var_blup.T) / 2
    err = (err + err.T) / 2
    # rounding can leave eigenvalues of order -1e-17 on a singular G: clip them
    return _psd(var_blup), _psd(err)


def _psd(s: np.ndarray) -> np.ndarray:
    w, u = np.linalg.eigh(s)
    if w.min() >= 0:
        return s
    w = np.clip(w, 0.0, None)
    return (u * w) @ u.T


# ---------------------------------------------------------------------------
# 3-D ellipsoids
# ---------------------------------------------------------------------------
def ellipsoid(center: Any, shape: Any, radius: float = 1.0, n: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Surface of the ellipsoid {c + r A u : ``|u|`` = 1} in 3-D, A = U D^{1/2}.

    Returns three (n, n) meshes X, Y, Z (for ``Axes3D.plot_surface`` or
    ``plot_wireframe``), from u on a latitude–longitude grid of the unit
    sphere. A singular shape gives a flat (or linear) ellipsoid.
    """
    s = check_shape(shape, dim=3)
    c = _center(center, 3)
    r = float(_radii(radius)[0])
    if int(n) < 3:
        raise ValueError(f"n must be at least 3; got {n}")
    lon = np.linspace(0, 2 * np.pi, int(n))
    lat = np.linspace(0, np.pi, int(n))
    u = np.stack(
        [
            np.outer(np.cos(lon), np.sin(lat)),
            np.outer(np.sin(lon), np.sin(lat)),
            np.outer(np.ones_like(lon), np.cos(lat)),
        ],
        axis=-1,
    )
    pts = c + r * u @ _factor(s).T
    return pts[..., 0], pts[..., 1], pts[..., 2]


def shape_summary(shape: Any) -> pd.Series:
    r"""Eigenvalues, axis half-lengths and condition number of a PSD shape.

    For S = U diag(λ_1 ≥ ... ≥ λ_d) U', the ellipsoid's half-axes are
    sqrt(λ_k), and the condition number is κ = λ_1 / λ_d (inf when S is
    singular, i.e. λ_d <= 1e-12 λ_1, the level of rounding error). A large
    κ means a flat "pancake" ellipsoid: some combination of the random
    effects has almost no variance.

    Returns
    -------
    pandas.Series
        ``eigenvalue1..d``, ``axis1..d`` (= sqrt), ``condition`` (λ_1/λ_d)
        and ``axis_ratio`` (sqrt of the condition number).
    """
    s = check_shape(shape)
    ev = np.clip(np.linalg.eigvalsh(s)[::-1], 0.0, None)
    ev[ev <= 1e-12 * ev[0]] = 0.0  # rounding-level eigenvalues of a singular shape
    d = ev.size
    cond = float(ev[0] / ev[-1]) if ev[-1] > 0 else float("inf")
    vals = {f"eigenvalue{k + 1}": float(ev[k]) for k in range(d)}
    vals.update({f"axis{k + 1}": float(np.sqrt(ev[k])) for k in range(d)})
    vals["condition"] = cond
    vals["axis_ratio"] = float(np.sqrt(cond))
    return pd.Series(vals, name="shape")
