"""Where the memory of a one-million-row fit goes, stage by stage.

tracemalloc sees numpy's and pandas' buffers (not formulaic's or scipy's C
scratch, which are small here). For each stage of ``hlmlab.lme`` (as
``build_model``/``fit_model`` split it) it prints the memory held after
the stage and the peak during it, in MB and in multiples of the model's
input columns (y, x, w, g: 4 x 8 bytes a row). Timing is not measured
here (tracemalloc slows allocation).

    python benchmarks/prototypes/memory_stages.py [n_groups]
"""
from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_lme import simulate  # noqa: E402

import importlib  # noqa: E402

lme_mod = importlib.import_module("hlmlab.lme")  # the module (hlmlab.lme is the function)
from hlmlab.deviance import sufficient_stats  # noqa: E402
from hlmlab.design import check_groups, fixed_design, parse_random, random_design, random_variables  # noqa: E402

MB = 2**20


def main(J: int) -> None:
    df = simulate(J)
    inp = df[["y", "x", "w", "g"]].memory_usage(index=False).sum()
    print(f"n = {len(df)}, input columns {inp / MB:.1f} MB")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    keep: dict[str, object] = {}

    def stage(name, f):
        tracemalloc.reset_peak()
        out = f()
        cur, peak = tracemalloc.get_traced_memory()
        print(f"{name:34s} held {(cur - base) / MB:7.1f} MB ({(cur - base) / inp:4.1f}x)"
              f"   peak {(peak - base) / MB:7.1f} MB ({(peak - base) / inp:4.1f}x)")
        keep[name] = out
        return out

    terms = parse_random("~ 1 + x | g")
    pos = stage("reset_index", lambda: df.reset_index(drop=True))
    stage("checks (random_variables, groups)", lambda: (random_variables(terms, pos), check_groups(["g"], pos)))
    design = stage("fixed_design (formulaic, X, y)", lambda: fixed_design("y ~ x * w", pos))
    levels = stage("random_design (Z, codes)", lambda: random_design(terms, pos))
    stats = stage("sufficient_stats", lambda: sufficient_stats(
        design.X, design.y, [lv.Z for lv in levels], [lv.codes for lv in levels], [lv.parent for lv in levels]))
    model = lme_mod.LmeModel("y ~ x * w", "~ 1 + x | g", "REML", df, "df", design, terms, levels, stats)
    fit = stage("fit_model (optimise, solve)", lambda: lme_mod.fit_model(model))
    stage("ranef()", lambda: fit.ranef())
    stage("fitted(), residuals()", lambda: (fit.fitted(), fit.residuals()))
    tracemalloc.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 33000)
