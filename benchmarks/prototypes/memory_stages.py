"""Where the memory of a one-million-row fit goes, stage by stage.

tracemalloc sees numpy's and pandas' buffers (not formulaic's or scipy's C
scratch, which are small here). For each stage of ``hlmlab.lme`` (as
``build_model``/``fit_model`` split it) it prints the memory held after
the stage and the peak during it, in MB and in multiples of the model's
input columns (y, x, w, g: 4 x 8 bytes a row), and the resident-set peak
(VmHWM, reset before each stage) above the RSS at the start: what the
benchmark's "fit MB" measures, including memory the allocator keeps. Timing is not measured
here (tracemalloc slows allocation).

    python benchmarks/prototypes/memory_stages.py [n_groups]
"""
from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_lme import _proc_status, _reset_peak, simulate  # noqa: E402

import importlib  # noqa: E402

lme_mod = importlib.import_module("hlmlab.lme")  # the module (hlmlab.lme is the function)

MB = 2**20


def main(J: int) -> None:
    df = simulate(J)
    inp = df[["y", "x", "w", "g"]].memory_usage(index=False).sum()
    print(f"n = {len(df)}, input columns {inp / MB:.1f} MB")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rss0 = _proc_status("VmRSS")
    keep: dict[str, object] = {}

    def stage(name, f):
        tracemalloc.reset_peak()
        _reset_peak()
        out = f()
        cur, peak = tracemalloc.get_traced_memory()
        hwm = _proc_status("VmHWM") - rss0
        print(f"{name:34s} held {(cur - base) / MB:7.1f} MB ({(cur - base) / inp:4.1f}x)"
              f"   peak {(peak - base) / MB:7.1f} MB ({(peak - base) / inp:4.1f}x)"
              f"   RSS peak {hwm / MB:7.1f} MB ({hwm / inp:4.1f}x)")
        keep[name] = out
        return out

    # the real pipeline (hlmlab.lme = build_model + fit_model), with its inner
    # steps wrapped so that each reports as it returns
    for name in ("fixed_design", "random_design", "sufficient_stats"):
        fn = getattr(lme_mod, name)

        def wrapped(*a, _fn=fn, _name=name, **k):
            return stage("  " + _name, lambda: _fn(*a, **k))

        setattr(lme_mod, name, wrapped)
    model = stage("build_model (all of the above)", lambda: lme_mod.build_model("y ~ x * w", df, "~ 1 + x | g"))
    fit = stage("fit_model (optimise, solve)", lambda: lme_mod.fit_model(model))
    stage("ranef()", lambda: fit.ranef())
    stage("fitted(), residuals()", lambda: (fit.fitted(), fit.residuals()))
    tracemalloc.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 33000)
