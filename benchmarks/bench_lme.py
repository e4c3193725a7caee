"""Speed, memory and optimum of hlmlab.lme against its peers, in one run.

Model (issue 3, "Performance"), simulated from the notes' example::

    y_ij = 12 + 2 x_ij - 2 w_j + 1 x_ij w_j + b0_j + b1_j x_ij + e_ij
    (b0_j, b1_j) ~ N(0, G),  G = [[16, 8], [8, 25]],  e_ij ~ N(0, 20)
    x_ij ~ N(0, 1),  w_j ~ Bernoulli(0.5) (a group-level dummy)
    n_j ~ Poisson(30), empty groups dropped

fitted as ``y ~ x * w`` with random ``~ 1 + x | g`` (REML), with 1,000,
10,000 and 33,000 groups (the last about 1,000,000 rows); plus the course's
``hs`` and ``hsfull`` data with ``mathach ~ ses * Sector``, random
``~ 1 + ses | school``.

Engines: hlmlab, statsmodels MixedLM (REML), the Rust-backed ``mixedlm``
package, and R's lme4 (when ``Rscript`` and lme4 are installed). Each fit
runs in a fresh subprocess that loads the data, imports its engine, then
times "DataFrame in memory -> finished fit with BLUPs" (best of
``--repeats``; slow fits run once). The child resets the kernel's peak-RSS
mark after loading (``/proc/self/clear_refs``), so "fit MB" is the peak
resident memory during the first fit above what the process held before it
(for R: the peak of R's heap, ``gc(reset=TRUE)`` / ``gc()`` "max used").

Each engine's optimum is converted to theta = chol(G / sigma²) and the REML
criterion is re-evaluated at it by ``reml_eval`` (independent of hlmlab),
so a fast fit cannot hide a worse optimum.

Usage::

    python benchmarks/bench_lme.py                      # everything
    python benchmarks/bench_lme.py --sizes hs,1000 --repeats 5
    python benchmarks/bench_lme.py --sizes 33000 --skip-peers statsmodels

Results: a table on stdout, and JSON + text in ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import reml_eval  # noqa: E402

ENGINES = ("hlmlab", "statsmodels", "mixedlm", "lme4")
PEERS = ENGINES[1:]

#: True values of the simulation (stated in the README and the results).
GAMMA = {"(Intercept)": 12.0, "x": 2.0, "w": -2.0, "x:w": 1.0}
G_TRUE = np.array([[16.0, 8.0], [8.0, 25.0]])
SIGMA2_TRUE = 20.0
MEAN_GROUP_SIZE = 30


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """One benchmark model: response, predictor with random slope, group."""

    response: str
    slope: str
    group: str
    level2: str  # the group-level predictor (w, or Sector)

    @property
    def fixed(self) -> str:
        return f"{self.response} ~ {self.slope} * {self.level2}"

    @property
    def random(self) -> str:
        return f"~ 1 + {self.slope} | {self.group}"

    @property
    def lme4(self) -> str:
        return f"{self.fixed} + (1 + {self.slope} | {self.group})"


SIM_SPEC = ModelSpec("y", "x", "g", "w")
HS_SPEC = ModelSpec("mathach", "ses", "school", "Sector")


def simulate(n_groups: int, seed: int = 20261125, shuffle: bool = False) -> pd.DataFrame:
    """Simulate the notes' example with ``n_groups`` groups (see module doc).

    Columns y, x (float64), w (float64 0/1), g (int64, 0-based; rows sorted
    by group unless ``shuffle``).
    """
    rng = np.random.default_rng(seed)
    sizes = rng.poisson(MEAN_GROUP_SIZE, n_groups)
    sizes = sizes[sizes > 0]
    J = len(sizes)
    g = np.repeat(np.arange(J), sizes)
    n = len(g)
    w_j = rng.binomial(1, 0.5, J).astype(float)
    b = rng.multivariate_normal(np.zeros(2), G_TRUE, J)
    x = rng.standard_normal(n)
    w = w_j[g]
    y = (
        GAMMA["(Intercept)"]
        + GAMMA["x"] * x
        + GAMMA["w"] * w
        + GAMMA["x:w"] * x * w
        + b[g, 0]
        + b[g, 1] * x
        + rng.normal(0, np.sqrt(SIGMA2_TRUE), n)
    )
    df = pd.DataFrame({"y": y, "x": x, "w": w, "g": g})
    if shuffle:
        df = df.iloc[rng.permutation(n)].reset_index(drop=True)
    return df


def load_case(name: str, shuffle: bool = False) -> tuple[pd.DataFrame, ModelSpec]:
    """Data and model of a case: ``"hs"``, ``"hsfull"`` or a number of groups."""
    if name in ("hs", "hsfull"):
        import hlmlab

        df = hlmlab.load_data(name)[["mathach", "ses", "Sector", "school"]]
        return df, HS_SPEC
    return simulate(int(name), shuffle=shuffle), SIM_SPEC


def numeric_design(df: pd.DataFrame, spec: ModelSpec):
    """y, X = [1, slope, level2, slope:level2], Z = [1, slope], group codes.

    Built by hand (no formula engine) for the independent REML evaluation.
    """
    s = df[spec.slope].to_numpy(float)
    l2 = df[spec.level2]
    w = (
        (l2 == l2.cat.categories[1]).to_numpy(float)
        if isinstance(l2.dtype, pd.CategoricalDtype)
        else l2.to_numpy(float)
    )
    X = np.column_stack([np.ones(len(df)), s, w, s * w])
    codes = pd.factorize(df[spec.group], sort=True)[0]
    return df[spec.response].to_numpy(float), X, X[:, :2], codes


def input_bytes(df: pd.DataFrame, spec: ModelSpec) -> int:
    """Bytes of the columns the model uses (the "input columns")."""
    cols = [spec.response, spec.slope, spec.level2, spec.group]
    return int(df[cols].memory_usage(index=False, deep=True).sum())


# --------------------------------------------------------------------------
# the child: one engine, one case, fresh process
# --------------------------------------------------------------------------
def _proc_status(key: str) -> int:
    """A ``/proc/self/status`` field in bytes (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return -1


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def fit_hlmlab(df, spec):
    import hlmlab

    fit = hlmlab.lme(spec.fixed, df, spec.random, method="REML")
    fit.ranef()
    return fit


def info_hlmlab(fit):
    G = np.asarray(fit.G, float)
    sigma2 = float(fit.sigma) ** 2
    return {
        "crit": -2.0 * float(fit.loglik),
        "theta": reml_eval.theta_from_G(G, sigma2).tolist(),
        "beta": [float(v) for v in np.asarray(fit.fixef)],
        "converged": bool(getattr(fit, "converged", True)),
    }


def fit_statsmodels(df, spec):
    import warnings

    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        md = smf.mixedlm(spec.fixed, df, groups=df[spec.group], re_formula=f"~{spec.slope}")
        res = md.fit(reml=True)
        _ = res.random_effects  # computed (and timed) as part of the fit
    return res


def info_statsmodels(res):
    return {
        "crit": -2.0 * float(res.llf),
        "theta": reml_eval.theta_from_G(np.asarray(res.cov_re), float(res.scale)).tolist(),
        "beta": [float(v) for v in np.asarray(res.fe_params)],
        "converged": bool(res.converged),
    }


def fit_mixedlm(df, spec):
    import mixedlm

    res = mixedlm.lmer(spec.lme4, df, REML=True)
    res.ranef()
    return res


def info_mixedlm(res):
    return {
        "crit": float(res.REMLcrit()),
        "theta": np.asarray(res.theta, float).tolist(),
        "beta": np.asarray(res.beta, float).tolist(),
        "converged": bool(res.converged),
    }


def warm_imports(engine: str) -> None:
    """Import the engine before timing (imports are not part of a fit)."""
    if engine == "hlmlab":
        import hlmlab

        hlmlab.lme  # noqa: B018  (resolves the lazy name: loads the engine's modules)
    elif engine == "statsmodels":
        import statsmodels.formula.api  # noqa: F401
    elif engine == "mixedlm":
        import mixedlm

        mixedlm.lmer  # noqa: B018  (demand-loaded export)


def run_child(engine: str, data_path: str, case: str, repeats: int, budget: float) -> dict:
    """Fit ``repeats`` times (fewer when one fit exceeds ``budget`` s); report."""
    df = pd.read_pickle(data_path)
    spec = HS_SPEC if case in ("hs", "hsfull") else SIM_SPEC
    warm_imports(engine)
    fit_fn = globals()[f"fit_{engine}"]
    info_fn = globals()[f"info_{engine}"]
    gc.collect()
    base_rss = _proc_status("VmRSS")
    reset_ok = _reset_peak()
    times: list[float] = []
    res = None
    spent = 0.0
    peak = None
    for i in range(max(1, repeats)):
        res = None
        gc.collect()  # a previous fit held in reference cycles must not count
        t0 = time.perf_counter()
        res = fit_fn(df, spec)
        dt = time.perf_counter() - t0
        if i == 0:
            peak = _proc_status("VmHWM")  # memory: the first fit alone
        times.append(dt)
        spent += dt
        if spent > budget:
            break
    out = info_fn(res)
    out.update(
        times=times,
        fit_peak_bytes=(peak - base_rss) if reset_ok else None,
        proc_peak_bytes=peak,
        base_rss_bytes=base_rss,
    )
    return out


# --------------------------------------------------------------------------
# lme4 through Rscript
# --------------------------------------------------------------------------
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(lme4))
d <- read.csv(args[1])
d[[args[3]]] <- factor(d[[args[3]]])
if ("Sector" %in% names(d)) d$Sector <- factor(d$Sector, levels = c("Catholic", "Public"))
form <- as.formula(args[2])
reps <- as.integer(args[4]); budget <- as.numeric(args[5])
times <- numeric(0); spent <- 0
g0 <- gc(reset = TRUE)
base <- sum(g0[, 2])  # "used" (Mb) of Ncells and Vcells before the fits
for (i in seq_len(reps)) {
  tt <- system.time({ m <- lmer(form, data = d, REML = TRUE); b <- ranef(m) })[["elapsed"]]
  times <- c(times, tt); spent <- spent + tt
  if (spent > budget) break
}
gg <- gc()
maxmb <- sum(gg[, ncol(gg)]) - base  # peak of R's heap during the fits, above the start
conv <- is.null(m@optinfo$conv$lme4$messages)
cat(sprintf('{"times": [%s], "crit": %.10f, "theta": [%s], "beta": [%s], "r_heap_max_mb": %.3f, "converged": %s}\n',
    paste(sprintf("%.6f", times), collapse = ","), REMLcrit(m),
    paste(sprintf("%.12g", getME(m, "theta")), collapse = ","),
    paste(sprintf("%.12g", fixef(m)), collapse = ","), maxmb, tolower(as.character(conv))))
"""


def have_lme4() -> bool:
    """True when Rscript exists and can load lme4."""
    if shutil.which("Rscript") is None:
        return False
    r = subprocess.run(["Rscript", "-e", "suppressMessages(library(lme4))"], capture_output=True, timeout=120)
    return r.returncode == 0


def r_version() -> str | None:
    if shutil.which("Rscript") is None:
        return None
    r = subprocess.run(
        ["Rscript", "-e", 'cat(R.version.string, "lme4", format(packageVersion("lme4")))'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.stdout.strip() or None


# --------------------------------------------------------------------------
# the parent
# --------------------------------------------------------------------------
@dataclass
class Row:
    case: str
    engine: str
    n: int
    groups: int
    input_mb: float
    best_s: float | None = None
    first_s: float | None = None
    n_fits: int = 0
    fit_mb: float | None = None
    proc_peak_mb: float | None = None
    crit_reported: float | None = None
    crit_at_theta: float | None = None
    converged: bool | None = None
    load1: float | None = None  # 1-minute load average when the engine started
    theta: list = field(default_factory=list)
    beta: list = field(default_factory=list)
    error: str | None = None


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[str, str, int]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return out, f"timeout after {timeout:.0f} s", -9
    return out, err, proc.returncode


def run_engine(engine: str, case: str, tmp: Path, args) -> dict:
    """Run one engine on one case in a fresh subprocess; the child's JSON."""
    if engine == "lme4":
        spec = HS_SPEC if case in ("hs", "hsfull") else SIM_SPEC
        script = tmp / "fit.R"
        script.write_text(R_SCRIPT)
        cmd = [
            "Rscript",
            str(script),
            str(tmp / f"{case}.csv"),
            spec.lme4,
            spec.group,
            str(args.repeats),
            str(args.budget),
        ]
    else:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            engine,
            "--data",
            str(tmp / f"{case}.pkl"),
            "--case",
            case,
            "--repeats",
            str(args.repeats),
            "--budget",
            str(args.budget),
        ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err, rc = _wait(proc, args.timeout)
    if rc != 0:
        tail = (err or "").strip().splitlines()[-1:]
        return {"error": " | ".join(tail) or f"exit {rc}"}
    return json.loads(out.strip().splitlines()[-1])


def bench_case(case: str, engines: list[str], tmp: Path, args) -> list[Row]:
    df, spec = load_case(case, args.shuffle)
    df.to_pickle(tmp / f"{case}.pkl")
    if "lme4" in engines:
        df.to_csv(tmp / f"{case}.csv", index=False)
    y, X, Z, codes = numeric_design(df, spec)
    stats = reml_eval.suff_stats(y, X, Z, codes)
    n, J, mb = len(df), int(codes.max()) + 1, input_bytes(df, spec) / 2**20
    rows = []
    for engine in engines:
        print(f"  {case:>6} {engine:<12}", end="", flush=True)
        load1 = os.getloadavg()[0]
        res = run_engine(engine, case, tmp, args)
        row = Row(case, engine, n, J, mb, load1=load1)
        if "error" in res:
            row.error = res["error"]
            print(f" failed: {row.error[:100]}")
            rows.append(row)
            continue
        row.best_s, row.first_s, row.n_fits = min(res["times"]), res["times"][0], len(res["times"])
        if res.get("fit_peak_bytes") is not None:
            row.fit_mb = res["fit_peak_bytes"] / 2**20
        elif res.get("r_heap_max_mb") is not None:
            row.fit_mb = res["r_heap_max_mb"]
        if res.get("proc_peak_bytes"):
            row.proc_peak_mb = res["proc_peak_bytes"] / 2**20
        row.crit_reported, row.converged = res["crit"], res["converged"]
        row.theta, row.beta = res["theta"], res["beta"]
        try:
            row.crit_at_theta = reml_eval.reml_criterion(np.array(row.theta), stats)
        except np.linalg.LinAlgError:
            row.crit_at_theta = float("nan")
        print(f" {row.best_s:9.3f} s  crit {row.crit_at_theta:.6f}")
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    """Text table with ratios against hlmlab within each case."""
    head = (
        f"{'case':>7} {'n':>9} {'J':>6} {'engine':<12} {'best s':>9} {'first s':>9} {'fits':>4} "
        f"{'x hlmlab':>9} {'fit MB':>8} {'x input':>8} {'REML crit at theta':>19} "
        f"{'- best':>10} {'conv':>5} {'load':>5}"
    )
    lines = [head, "-" * len(head)]
    for case in dict.fromkeys(r.case for r in rows):
        rs = [r for r in rows if r.case == case]
        ref = next((r.best_s for r in rs if r.engine == "hlmlab" and r.best_s), None)
        best_crit = min(
            (r.crit_at_theta for r in rs if r.crit_at_theta is not None and np.isfinite(r.crit_at_theta)),
            default=np.nan,
        )
        for r in rs:
            if r.error:
                lines.append(f"{case:>7} {r.n:>9} {r.groups:>6} {r.engine:<12} failed: {r.error[:80]}")
                continue
            ratio = f"{r.best_s / ref:9.1f}" if ref else f"{'-':>9}"
            fit_mb = f"{r.fit_mb:8.1f}" if r.fit_mb is not None else f"{'-':>8}"
            xin = f"{r.fit_mb / r.input_mb:8.1f}" if r.fit_mb is not None else f"{'-':>8}"
            lines.append(
                f"{case:>7} {r.n:>9} {r.groups:>6} {r.engine:<12} {r.best_s:9.4f} {r.first_s:9.4f} "
                f"{r.n_fits:>4} {ratio} {fit_mb} {xin} {r.crit_at_theta:19.6f} "
                f"{r.crit_at_theta - best_crit:10.2e} {str(r.converged):>5} {r.load1:5.1f}"
            )
        lines.append(f"{'':>7} input columns: {rs[0].input_mb:.3f} MB")
    return "\n".join(lines)


def environment() -> dict:
    import importlib.metadata as md

    vers = {}
    for pkg in ("hlmlab", "numpy", "scipy", "pandas", "formulaic", "statsmodels", "mixedlm"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = None
    try:
        head = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(HERE.parent), "status", "--porcelain", "hlmlab"], capture_output=True, text=True
            ).stdout.strip()
        )
    except OSError:
        head, dirty = None, None
    return {
        "git": head,
        "hlmlab_dirty": dirty,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "versions": vers,
        "R": r_version(),
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes", default="hs,hsfull,1000,10000,33000", help="comma-separated cases: hs, hsfull, or numbers of groups"
    )
    p.add_argument("--repeats", type=int, default=5, help="fits per engine and case (best is reported)")
    p.add_argument(
        "--budget", type=float, default=3.0, help="stop repeating once an engine has spent this many seconds on a case"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds before a child is killed")
    p.add_argument(
        "--skip-peers",
        nargs="?",
        const="all",
        default="",
        help="skip all peers (no value) or a comma-separated list of them",
    )
    p.add_argument("--shuffle", action="store_true", help="shuffle the simulated rows (not sorted by group)")
    p.add_argument("--engines", default=",".join(ENGINES), help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(HERE / "results"), help="folder for JSON and text results")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def select_engines(args) -> list[str]:
    engines = [e for e in args.engines.split(",") if e]
    skip = set(PEERS) if args.skip_peers == "all" else set(filter(None, args.skip_peers.split(",")))
    engines = [e for e in engines if e not in skip]
    if "lme4" in engines and not have_lme4():
        print("Rscript with lme4 not found: lme4 skipped")
        engines.remove("lme4")
    return engines


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args.data, args.case, args.repeats, args.budget)))
        return 0
    engines = select_engines(args)
    env = environment()
    print(
        f"engines: {', '.join(engines)}; {env['cpus']} CPUs, load {env['load_avg'][0]:.2f}; "
        f"git {env['git']}{' + uncommitted hlmlab changes' if env['hlmlab_dirty'] else ''}"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hlmlab-bench-") as tmpdir:
        for case in args.sizes.split(","):
            rows += bench_case(case.strip(), engines, Path(tmpdir), args)
    text = table(rows)
    print()
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"bench-{stamp}.json").write_text(
        json.dumps(
            {
                "command": " ".join(sys.argv),
                "environment": env,
                "truth": {"gamma": GAMMA, "G": G_TRUE.tolist(), "sigma2": SIGMA2_TRUE},
                "rows": [asdict(r) for r in rows],
            },
            indent=1,
        )
    )
    (out / f"bench-{stamp}.txt").write_text(" ".join(sys.argv) + "\n\n" + text + "\n")
    print(f"\nwritten: {out / f'bench-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
