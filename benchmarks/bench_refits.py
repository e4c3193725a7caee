"""Refits for simulation, and a fresh fit, timed against a peer in the same run.

Measures, on the course's ``hs`` data (the notes' boundary test of a random
slope: ``mathach ~ ses * Sector`` with random intercept against random
intercept and slope, REML):

* ``simulate_lrt`` with ``--nsim`` simulations (each one refits both models to
  a new response on the same design), in this process and on ``--jobs``
  worker processes (the target: 1,000 simulations in under 5 s on 2 cores);
* ``dropone`` over the 160 schools of ``hsfull`` (the same model), serially and
  on ``--jobs`` processes;
* one fresh ``hl.lme`` fit of the larger model, best of ``--repeats``, against
  the Rust-backed ``mixedlm`` package's fit of the same model when it is
  installed (``pip install ".[bench]"``), the two taking turns so that a slow
  spell of the machine does not favour either.

Run by hand (``make bench`` runs it after ``bench_lme.py``); prints the times
and their ratio. The machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import hlmlab as hl

FIXED, SMALL, LARGE = "mathach ~ ses * Sector", "~ 1 | school", "~ 1 + ses | school"


def best_of(fun, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_best(funs: dict, repeats: int) -> dict:
    """Best time of each function, the functions taking turns, so that a slow spell of the machine hits all alike."""
    times = {name: [] for name in funs}
    for _ in range(repeats):
        for name, fun in funs.items():
            t0 = time.perf_counter()
            fun()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsim", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the parallel runs")
    args = parser.parse_args()
    hs = hl.load_data("hs")
    warnings.simplefilter("ignore")
    fit0 = hl.lme(FIXED, hs, SMALL)
    fit1 = hl.lme(FIXED, hs, LARGE)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for jobs in sorted({1, args.jobs}):
        t0 = time.perf_counter()
        sim = hl.simulate_lrt(fit0, fit1, nsim=args.nsim, seed=1, progress=False, n_jobs=jobs)
        t_sim = time.perf_counter() - t0
        print(
            f"simulate_lrt, {args.nsim} simulations on {jobs} process(es): {t_sim:.2f} s "
            f"({1e3 * t_sim / args.nsim:.2f} ms each); empirical p {sim.p_empirical:.3f} "
            f"(SE {sim.se_empirical:.3f}), nominal {sim.p_nominal:.3f}"
        )
    full = hl.lme(FIXED, hl.load_data("hsfull"), LARGE)
    for jobs in sorted({1, args.jobs}):
        t0 = time.perf_counter()
        hl.dropone(full, "school", progress=False, n_jobs=jobs)
        t_drop = time.perf_counter() - t0
        print(f"dropone over {full.ngroups['school']} schools of hsfull on {jobs} process(es): {t_drop:.2f} s")
    try:
        import mixedlm
    except ImportError:
        t_fit = best_of(lambda: hl.lme(FIXED, hs, LARGE), args.repeats)
        print(f"hl.lme fresh fit of the larger model: {1e3 * t_fit:.1f} ms (best of {args.repeats})")
        print("mixedlm is not installed (pip install '.[bench]'): no peer timing")
        return
    df = hs[["mathach", "ses", "Sector", "school"]].copy()
    fits = {
        "hl.lme": lambda: hl.lme(FIXED, hs, LARGE),
        "mixedlm.lmer": lambda: mixedlm.lmer("mathach ~ ses * Sector + (1 + ses | school)", df, REML=True),
    }
    best = interleaved_best(fits, args.repeats)
    print(
        f"fresh fit of the larger model, best of {args.repeats} (the two engines taking turns): "
        f"hl.lme {1e3 * best['hl.lme']:.1f} ms, mixedlm.lmer {1e3 * best['mixedlm.lmer']:.1f} ms; "
        f"hlmlab / mixedlm = {best['hl.lme'] / best['mixedlm.lmer']:.2f}"
    )


if __name__ == "__main__":
    main()
