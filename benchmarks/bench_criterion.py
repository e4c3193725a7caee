"""One evaluation of the profiled criterion: the one-level evaluator against the general elimination.

For the course's ``hs`` models (``mathach ~ ses * Sector`` with q = 1, 2 and
3 random effects per school), prints the best-of time of the criterion and
of the criterion with its exact gradient, by ``hlmlab.lmm.onelevel.OneLevel``
(what the search calls for one grouping factor) and by
``hlmlab.lmm.pls`` (the general code, any nesting), at the fit's optimum.

Run by hand: ``python benchmarks/bench_criterion.py``.
"""

from __future__ import annotations

import timeit
import warnings

import hlmlab as hl
from hlmlab._blas import single_threaded_blas
from hlmlab.lmm.onelevel import OneLevel
from hlmlab.lmm.pls import deviance, deviance_and_gradient

RANDOM = ["~ 1 | school", "~ 1 + ses | school", "~ 1 + ses + Sector | school"]


def best_us(fun, number: int = 500, repeat: int = 7) -> float:
    return min(timeit.repeat(fun, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    hs = hl.load_data("hs")
    warnings.simplefilter("ignore")
    print(f"{'random part':32s} {'OneLevel f':>11s} {'general f':>10s} {'OneLevel f+g':>13s} {'general f+g':>12s}")
    with single_threaded_blas():
        for random in RANDOM:
            fit = hl.lme("mathach ~ ses * Sector", hs, random)
            print(f"{random:32s} " + " ".join(f"{t:9.1f} µs" for t in _times(fit)))


def _times(fit) -> list[float]:
    """Best-of times (µs) of OneLevel f, general f, OneLevel f + gradient, general f + gradient."""
    stats, theta = fit.model.stats, fit.opt.theta
    one = OneLevel(stats, True)
    return [
        best_us(lambda: one.value(theta)),
        best_us(lambda: deviance(stats, theta, True)),
        best_us(lambda: one.value_and_gradient(theta)),
        best_us(lambda: deviance_and_gradient(stats, theta, True)),
    ]


if __name__ == "__main__":
    main()
