"""Anatomy of one hlmlab.lme fit: time per stage and number of criterion evaluations.

Stages as ``hlmlab.lme`` splits them (build_model: formulas, group codes,
sufficient statistics; fit_model: optimisation, final solve; then ranef()).
Evaluations of the criterion (with or without gradient) are counted by
wrapping ``hlmlab.deviance``'s functions. Best of ``reps`` fits.

    python benchmarks/prototypes/fit_anatomy.py [hs|hsfull|n_groups] [reps]
"""
from __future__ import annotations

import importlib
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hlmlab  # noqa: E402
from bench_lme import load_case  # noqa: E402

lme_mod = importlib.import_module("hlmlab.lme")
dev = importlib.import_module("hlmlab.deviance")
design = importlib.import_module("hlmlab.design")

CALLS: Counter = Counter()


def counted(mod, name):
    fn = getattr(mod, name)

    def wrapper(*a, **k):
        CALLS[name] += 1
        return fn(*a, **k)

    setattr(mod, name, wrapper)
    if hasattr(lme_mod, name):
        setattr(lme_mod, name, wrapper)


def main(case: str, reps: int) -> None:
    df, spec = load_case(case)
    for name in ("deviance", "deviance_and_gradient", "factorize"):
        counted(dev, name)
    stages: dict[str, list[float]] = {k: [] for k in ("fixed_design", "random_design", "sufficient_stats",
                                                      "build_model", "fit_model", "ranef", "total")}
    for name in ("fixed_design", "random_design"):
        fn = getattr(lme_mod, name)

        def timed(*a, _fn=fn, _name=name, **k):
            t = time.perf_counter()
            out = _fn(*a, **k)
            stages[_name].append(time.perf_counter() - t)
            return out

        setattr(lme_mod, name, timed)
    fn_ss = lme_mod.sufficient_stats

    def timed_ss(*a, **k):
        t = time.perf_counter()
        out = fn_ss(*a, **k)
        stages["sufficient_stats"].append(time.perf_counter() - t)
        return out

    lme_mod.sufficient_stats = timed_ss
    for _ in range(reps):
        CALLS.clear()
        t0 = time.perf_counter()
        model = lme_mod.build_model(spec.fixed, df, spec.random, "REML")
        t1 = time.perf_counter()
        fit = lme_mod.fit_model(model)
        t2 = time.perf_counter()
        fit.ranef()
        t3 = time.perf_counter()
        stages["build_model"].append(t1 - t0)
        stages["fit_model"].append(t2 - t1)
        stages["ranef"].append(t3 - t2)
        stages["total"].append(t3 - t0)
    print(f"case {case}: n = {fit.nobs}, groups = {fit.ngroups}; best of {reps} (ms), load {np.round(__import__('os').getloadavg()[0], 1)}")
    for k, v in stages.items():
        print(f"  {k:18s} {min(v) * 1e3:8.2f}")
    print("  calls per fit:", dict(CALLS))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "hs", int(sys.argv[2]) if len(sys.argv) > 2 else 10)
