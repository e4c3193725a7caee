"""Hard small mixed models for hlmlab's optimizer, with lme4's answers.

40 data sets were simulated (below) with random intercepts, slopes on x and z
(q = 1, 2, 3), covariances with a random correlation structure, some
standard deviations set to 0 (true boundary), predictors on scales from
0.01 to 10, and 6 to 200 groups of 1 to 30 rows. hlmlab's first engine
crashed on 3 of them (X'V^-1X numerically singular at an extreme theta) and
stopped above lme4 on one (a zero diagonal of the template with the wrong
sign below it); those and six other hard ones are kept in ``cases.csv``
(``specs.csv`` gives the random part and method). ``fit_lme4.R`` fits them
with lme4 and writes ``lme4.json``; ``tests/lmm/test_model.py`` checks that hlmlab's
criterion is never above lme4's.

Run from the repository root:

    python tests/lme_stress/make_cases.py
    Rscript tests/lme_stress/fit_lme4.R
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
KEEP = [0, 1, 5, 6, 10, 14, 20, 25, 35, 37]


def simulate(rng: np.random.Generator) -> tuple[pd.DataFrame, str, str]:
    J = int(rng.choice([6, 10, 20, 50, 200]))
    nbar = int(rng.choice([2, 4, 10, 30]))
    nj = np.maximum(rng.poisson(nbar, J), 1)
    g = np.repeat(np.arange(J), nj)
    n = len(g)
    x = rng.normal(size=n) * rng.choice([1, 10, 0.01])
    z = rng.normal(size=n)
    w = rng.binomial(1, 0.5, J)[g]
    q = int(rng.choice([1, 2, 3]))
    sds = np.exp(rng.normal(0, 1.5, q)) * rng.choice([0, 1], q, p=[0.25, 0.75])
    R = np.eye(q)
    if q > 1:
        A = rng.normal(size=(q, q))
        C = A @ A.T
        d = np.sqrt(np.diag(C))
        R = C / np.outer(d, d)
    b = rng.multivariate_normal(np.zeros(q), np.outer(sds, sds) * R, J, check_valid="ignore")
    Zc = [np.ones(n), x, z][:q]
    y = 3 + x + 0.5 * z - w + sum(b[g, k] * Zc[k] for k in range(q)) + rng.normal(size=n) * np.exp(rng.normal())
    rnd = {1: "1", 2: "1 + x", 3: "1 + x + z"}[q]
    return pd.DataFrame(dict(y=y, x=x, z=z, w=w, g=g)), rnd, str(rng.choice(["REML", "ML"]))


def main() -> None:
    rng = np.random.default_rng(2026)
    frames, specs = [], []
    for i in range(40):
        d, rnd, method = simulate(rng)
        if i in KEEP:
            d.insert(0, "case", i)
            frames.append(d)
            specs.append((i, rnd, method))
    pd.concat(frames).to_csv(HERE / "cases.csv", index=False, float_format="%.17g")
    pd.DataFrame(specs, columns=["i", "rnd", "method"]).to_csv(HERE / "specs.csv", index=False)


if __name__ == "__main__":
    main()
