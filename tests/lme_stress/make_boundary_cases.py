"""Small mixed models whose criterion has several minima on the boundary, with lme4's answers.

100 data sets were simulated (below) with a random intercept and slope on x
(or on x and z), correlations of the random effects in {0, 0.9, -0.99,
0.999}, standard deviations in {0, 0.01, 0.5, 2}, x on scales from 0.01 to
100 with an offset of 0 or 50, and 4 to 80 groups of 1 to 14 rows; 84 of
the fits are singular. On seven of them a local search can stop at a
boundary minimum that is not the lowest (a covariance matrix of rank 1 where
one of rank 2 fits better, say): lme4 1.1-31 does on all seven, with
convergence messages, up to 6.3 units of deviance above the lowest minimum
known, and a single search of hlmlab's did on several; from another start
the search finds the lower one. Those seven are kept in ``boundary_cases.csv``
(``boundary_specs.csv`` gives the random part and method), and
``fit_lme4.R boundary`` fits them with lme4 into ``lme4_boundary.json``.
``tests/lmm/test_model.py`` checks that hlmlab's criterion is never above
lme4's on them.

Run from the repository root:

    python tests/lme_stress/make_boundary_cases.py
    Rscript tests/lme_stress/fit_lme4.R boundary
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
KEEP = [2, 20, 27, 44, 56, 74, 79]


def simulate(rng: np.random.Generator, case: int) -> tuple[pd.DataFrame, str, str]:
    m = int(rng.choice([4, 6, 10, 25, 80]))
    nj = rng.integers(1, 15, size=m)
    g = np.repeat(np.arange(m), nj)
    n = len(g)
    x = rng.normal(size=n) * rng.choice([1, 100, 0.01]) + rng.choice([0, 50])
    z = rng.normal(size=n)
    q = int(rng.choice([2, 3]))
    C = np.eye(q)
    r = rng.choice([0.0, 0.9, -0.99, 0.999])
    C[0, 1] = C[1, 0] = r
    sds = rng.choice([0.0, 0.01, 0.5, 2.0], size=q)
    B = rng.multivariate_normal(np.zeros(q), np.outer(sds, sds) * C, size=m, method="eigh")
    Z = np.column_stack([np.ones(n), x, z][:q])
    y = 3 + 0.2 * x + (Z * B[g]).sum(1) + rng.normal(size=n) * rng.choice([0.1, 1, 10])
    rnd = {2: "1 + x", 3: "1 + x + z"}[q]
    return pd.DataFrame(dict(y=y, x=x, z=z, g=g)), rnd, "REML" if case % 2 else "ML"


def main() -> None:
    rng = np.random.default_rng(99)
    frames, specs = [], []
    for i in range(100):
        d, rnd, method = simulate(rng, i)
        if i in KEEP:
            d.insert(0, "case", i)
            frames.append(d)
            specs.append((i, rnd, method))
    pd.concat(frames).to_csv(HERE / "boundary_cases.csv", index=False, float_format="%.17g")
    pd.DataFrame(specs, columns=["i", "rnd", "method"]).to_csv(HERE / "boundary_specs.csv", index=False)


if __name__ == "__main__":
    main()
