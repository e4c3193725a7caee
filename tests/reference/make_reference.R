# Reference values for hlmlab's tests, computed with R (nlme, lme4, lmerTest,
# pbkrtest).
#
# Run from the repository root:
#
#     Rscript tests/reference/make_reference.R
#
# Reads   data/hsb_students.csv, data/hsb_schools.csv (the course data) and the
#         example data sets shipped with lme4 and nlme;
# writes  tests/reference/r_reference.json and tests/reference/data/*.csv
#         (the public example data sets, so the Python tests never need R).
#
# The project never needs R to run, build or test; this script is kept only
# so the stored values can be regenerated and audited.  The JSON layout is
# documented in tests/reference/README.md.

suppressPackageStartupMessages({
  library(nlme)
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

stopifnot(file.exists("data/hsb_students.csv"))
out_dir <- file.path("tests", "reference")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------------------
# Course data: merge students and schools, build hsfull, hs, hs1, hs2.
# ---------------------------------------------------------------------------

students <- read.csv("data/hsb_students.csv", stringsAsFactors = FALSE)
schools <- read.csv("data/hsb_schools.csv", stringsAsFactors = FALSE)
schools$in_hs <- as.character(schools$in_hs) %in% c("True", "TRUE", "true")

school_cols <- c("Size", "Sector", "PRACAD", "DISCLIM", "HIMINTY", "MEANSES")
hsb_levels <- list(Sector = c("Catholic", "Public"),
                   Sex = c("Female", "Male"),
                   Minority = c("No", "Yes"))

build_hsb <- function(keep) {
  d <- merge(students[students$school %in% keep, ],
             schools[, c("school", school_cols)], by = "school", all.x = TRUE)
  d <- d[order(d$X), ]
  rownames(d) <- NULL
  for (v in names(hsb_levels)) d[[v]] <- factor(d[[v]], levels = hsb_levels[[v]])
  stopifnot(!anyNA(d))
  # Helper columns standing for hlmlab's cvar()/dvar() terms.
  d$ses_mean <- ave(d$ses, d$school)                       # cvar(ses, school)
  d$ses_dvar <- d$ses - d$ses_mean                          # dvar(ses, school)
  yes <- as.numeric(d$Minority == "Yes")
  d$Minority_dvar <- yes - ave(yes, d$school)               # dvar(Minority, school)
  d$school <- factor(d$school)        # levels sorted numerically
  d
}

hsfull <- build_hsb(schools$school)
hs <- build_hsb(schools$school[schools$in_hs])
hs1 <- build_hsb(schools$school[schools$half == "hs1"])
hs2 <- build_hsb(schools$school[schools$half == "hs2"])
stopifnot(nrow(hsfull) == 7185, nlevels(hsfull$school) == 160,
          nrow(hs) == 1977, nlevels(hs$school) == 40,
          nrow(hs1) == 3684, nlevels(hs1$school) == 80,
          nrow(hs2) == 3501, nlevels(hs2$school) == 80,
          sum(hs$Sector == "Catholic") == 1144, sum(hs$Sex == "Female") == 1074)

# Names of the helper columns in hlmlab's formula language.
hlm_names <- c(ses_mean = "cvar(ses, school)",
               ses_dvar = "dvar(ses, school)",
               Minority_dvar = "dvar(Minority, school)")

rename <- function(x) {
  if (is.null(x)) return(x)
  for (k in names(hlm_names)) x <- gsub(k, hlm_names[[k]], x, fixed = TRUE)
  x
}

# ---------------------------------------------------------------------------
# Public example data sets from lme4 and nlme, exported as plain CSV.
# ---------------------------------------------------------------------------

plain <- function(d, cols) {
  d <- as.data.frame(d)[, cols]
  for (v in cols) {
    if (is.factor(d[[v]])) d[[v]] <- factor(as.character(d[[v]]), levels = levels(d[[v]]))
  }
  attr(d, "formula") <- NULL
  rownames(d) <- NULL
  d
}

examples <- list(
  sleepstudy = list(data = plain(lme4::sleepstudy, c("Reaction", "Days", "Subject")),
                    source = "lme4::sleepstudy"),
  Pastes = list(data = plain(lme4::Pastes, c("strength", "batch", "cask", "sample")),
                source = "lme4::Pastes"),
  Dyestuff = list(data = plain(lme4::Dyestuff, c("Batch", "Yield")),
                  source = "lme4::Dyestuff"),
  Dyestuff2 = list(data = plain(lme4::Dyestuff2, c("Batch", "Yield")),
                   source = "lme4::Dyestuff2"),
  Oats = list(data = plain(nlme::Oats, c("Block", "Variety", "nitro", "yield")),
              source = "nlme::Oats"),
  Orthodont = list(data = plain(nlme::Orthodont, c("distance", "age", "Subject", "Sex")),
                   source = "nlme::Orthodont"),
  Machines = list(data = plain(nlme::Machines, c("Worker", "Machine", "score")),
                  source = "nlme::Machines"),
  ergoStool = list(data = plain(nlme::ergoStool, c("effort", "Type", "Subject")),
                   source = "nlme::ergoStool")
)
for (nm in names(examples)) assign(nm, examples[[nm]]$data)

write_example <- function(nm) {
  d <- examples[[nm]]$data
  f <- file.path(data_dir, paste0(nm, ".csv"))
  dd <- d
  for (v in names(dd)) if (is.factor(dd[[v]])) dd[[v]] <- as.character(dd[[v]])
  write.csv(dd, f, row.names = FALSE)
  list(source = examples[[nm]]$source,
       file = paste0("tests/reference/data/", nm, ".csv"),
       nrow = nrow(d),
       columns = I(names(d)),
       factor_levels = lapply(Filter(is.factor, d), function(f) I(levels(f))))
}

datasets_meta <- list()
for (nm in names(examples)) datasets_meta[[nm]] <- write_example(nm)
for (nm in c("hsfull", "hs", "hs1", "hs2")) {
  d <- get(nm)
  datasets_meta[[nm]] <- list(
    source = paste0("hlmlab.load_data('", nm, "') == data/hsb_students.csv merged with ",
                    "data/hsb_schools.csv, rows in X order"),
    file = NULL, nrow = nrow(d), ngroups = nlevels(d$school),
    columns = I(c("X", "school", "mathach", "ses", "Sex", "Minority", school_cols)),
    factor_levels = lapply(hsb_levels, I),
    derived_columns = list(
      "cvar(ses, school)" = "school mean of ses",
      "dvar(ses, school)" = "ses minus its school mean",
      "dvar(Minority, school)" = "1 if Minority == 'Yes' else 0, minus the school proportion of 'Yes'"))
}

# ---------------------------------------------------------------------------
# Helpers turning R objects into JSON-friendly lists.
# ---------------------------------------------------------------------------

num <- function(x) { x <- as.numeric(x); x[!is.finite(x)] <- NA; x }
named <- function(x) { n <- rename(names(x)); x <- as.list(num(x)); names(x) <- n; x }
mat <- function(m) {
  m <- as.matrix(m)
  list(rows = I(rename(rownames(m))), cols = I(rename(colnames(m))),
       values = lapply(seq_len(nrow(m)), function(i) I(num(m[i, ]))))
}
capture <- function(expr) {
  # Evaluate expr, collecting warnings; errors become list(error = message).
  warns <- character(0)
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(error = conditionMessage(e)),
                                                 class = "fit_error")),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(value = val, warnings = unique(warns))
}
is_err <- function(x) inherits(x, "fit_error")

# nlme names a level by its grouping factor; lme4 names nested terms
# "inner:outer".  We key everything by the innermost factor name.
lme4_level <- function(g) sub(":.*$", "", g)
# lme4 names nested groups "a:A" (inner:outer); nlme writes "A/a".  We use the
# nlme form.
lme4_group_label <- function(g) {
  vapply(strsplit(g, ":", fixed = TRUE), function(p) paste(rev(p), collapse = "/"), "")
}

ranef_block <- function(re, first = NULL) {
  # re: data frame of random effects (rows = groups, cols = terms)
  rn <- rownames(re)
  idx <- if (is.null(first)) seq_along(rn) else seq_len(min(first, length(rn)))
  out <- lapply(idx, function(i) named(setNames(unlist(re[i, , drop = TRUE]), colnames(re))))
  names(out) <- rn[idx]
  out
}

order_groups <- function(re) {
  # Sort groups numerically when they look like numbers (school ids), keep
  # the package's order otherwise.
  rn <- rownames(re)
  if (all(grepl("^[0-9]+$", rn))) re[order(as.numeric(rn)), , drop = FALSE] else re
}

# ---------------------------------------------------------------------------
# nlme
# ---------------------------------------------------------------------------

nlme_levels <- function(fit) {
  # outermost first, as nlme prints them
  rev(names(fit$modelStruct$reStruct))
}

nlme_relG <- function(fit) {
  # relative covariance (G / sigma^2) for each level
  rs <- fit$modelStruct$reStruct
  out <- lapply(names(rs), function(l) as.matrix(rs[[l]]))
  names(out) <- names(rs)
  out
}

nlme_summary <- function(fit, ranef_first = NULL, with_ranef = TRUE) {
  s <- summary(fit)
  tt <- s$tTable
  ll <- logLik(fit)
  res <- list(
    fixef = named(fixef(fit)),
    se = named(tt[, "Std.Error"]),
    df = named(tt[, "DF"]),
    tvalue = named(tt[, "t-value"]),
    pvalue = named(tt[, "p-value"]),
    vcov = mat(vcov(fit)),
    sigma = num(fit$sigma),
    logLik = num(ll),
    logLik_df = num(attr(ll, "df")),
    AIC = num(AIC(fit)),
    BIC = num(BIC(fit)),
    criterion = num(-2 * ll),
    nobs = fit$dims$N,
    ngroups = as.list(fit$dims$ngrps[nlme_levels(fit)]),
    random = list()
  )
  relG <- nlme_relG(fit)
  for (l in nlme_levels(fit)) {
    G <- relG[[l]] * fit$sigma^2
    sds <- sqrt(diag(G))
    cr <- G / outer(sds, sds)
    res$random[[l]] <- list(sd = named(sds), corr = mat(cr), G = mat(G))
  }
  iv <- capture(intervals(fit, which = "all"))
  if (is_err(iv$value)) {
    res$intervals <- list(error = iv$value$error)
  } else {
    v <- iv$value
    rows <- function(df) {
      df <- as.data.frame(df)
      out <- lapply(seq_len(nrow(df)), function(i)
        list(lower = num(df[i, 1]), est = num(df[i, 2]), upper = num(df[i, 3])))
      names(out) <- rename(rownames(df))
      out
    }
    res$intervals <- list(
      level = 0.95,
      fixed = rows(v$fixed),
      random = lapply(setNames(nlme_levels(fit), nlme_levels(fit)), function(l) rows(v$reStruct[[l]])),
      sigma = list(lower = num(v$sigma[1]), est = num(v$sigma[2]), upper = num(v$sigma[3])))
  }
  if (length(iv$warnings)) res$intervals$warnings <- I(iv$warnings)
  if (with_ranef) {
    re <- ranef(fit)
    cf <- coef(fit)
    if (is.data.frame(re)) {
      l <- nlme_levels(fit)
      re <- setNames(list(re), l)
      cf <- setNames(list(cf), l)
    } else {
      cf <- lapply(setNames(names(re), names(re)), function(l) coef(fit, level = match(l, names(re))))
    }
    res$ranef <- lapply(re, function(r) ranef_block(order_groups(r), ranef_first))
    res$coef <- lapply(cf, function(r) ranef_block(order_groups(r), ranef_first))
  }
  res
}

# ---------------------------------------------------------------------------
# lme4 / lmerTest / pbkrtest
# ---------------------------------------------------------------------------

lme4_summary <- function(fit, ranef_first = NULL, with_ranef = TRUE) {
  reml <- isREML(fit)
  ll <- logLik(fit)
  vc <- VarCorr(fit)
  res <- list(
    fixef = named(fixef(fit)),
    se = named(sqrt(diag(as.matrix(vcov(fit))))),
    vcov = mat(as.matrix(vcov(fit))),
    sigma = num(sigma(fit)),
    logLik = num(ll),
    logLik_df = num(attr(ll, "df")),
    AIC = num(AIC(fit)),
    BIC = num(BIC(fit)),
    # REML fits: the REML criterion (REMLcrit = -2 REML log-likelihood).
    # ML fits: the deviance (-2 log-likelihood).  Note: in lme4 1.1-31
    # deviance(fit, REML = TRUE) on a REML fit returns the ML deviance at the
    # REML estimates, not the REML criterion; that number is kept apart.
    criterion = num(if (reml) REMLcrit(fit) else deviance(fit)),
    ml_deviance_at_estimates = num(deviance(fit, REML = FALSE)),
    theta = I(num(getME(fit, "theta"))),
    theta_names = I(names(getME(fit, "theta"))),
    isSingular = isSingular(fit),
    convergence_messages = as.list(fit@optinfo$conv$lme4$messages),
    optimizer = fit@optinfo$optimizer,
    nobs = nobs(fit),
    ngroups = as.list(setNames(as.numeric(ngrps(fit)), lme4_level(names(ngrps(fit))))),
    random = list()
  )
  for (g in names(vc)) {
    G <- vc[[g]]
    sds <- attr(G, "stddev")
    cr <- attr(G, "correlation")
    if (is.null(dim(cr))) cr <- matrix(1, 1, 1, dimnames = list(names(sds), names(sds)))
    res$random[[lme4_level(g)]] <- list(lme4_name = g, sd = named(sds), corr = mat(cr),
                                        G = mat(as.matrix(G)[, , drop = FALSE]))
  }
  if (with_ranef) {
    re <- ranef(fit, condVar = TRUE)
    res$ranef <- list()
    res$condvar <- list()
    for (g in names(re)) {
      r <- re[[g]]
      pv <- attr(r, "postVar")
      lab <- lme4_group_label(rownames(r))
      ord <- if (all(grepl("^[0-9]+$", lab))) order(as.numeric(lab)) else seq_along(lab)
      if (!is.null(ranef_first)) ord <- ord[seq_len(min(ranef_first, length(ord)))]
      l <- lme4_level(g)
      rr <- as.data.frame(r)[ord, , drop = FALSE]
      rownames(rr) <- lab[ord]
      res$ranef[[l]] <- ranef_block(rr)
      cv <- lapply(ord, function(i) mat(matrix(pv[, , i], dim(pv)[1], dim(pv)[2],
                                               dimnames = list(colnames(r), colnames(r)))))
      names(cv) <- lab[ord]
      res$condvar[[l]] <- cv
    }
  }
  res
}

lmertest_table <- function(fit, ddf) {
  r <- capture(summary(fit, ddf = ddf)$coefficients)
  if (is_err(r$value)) return(list(error = r$value$error))
  tt <- r$value
  out <- list(estimate = named(tt[, "Estimate"]), se = named(tt[, "Std. Error"]),
              df = named(tt[, "df"]), tvalue = named(tt[, "t value"]),
              pvalue = named(tt[, "Pr(>|t|)"]))
  if (length(r$warnings)) out$warnings <- I(r$warnings)
  out
}

# lme4's profiled criterion evaluated at nlme's estimates: a fair comparison
# of the two optima on one and the same function.
lme4_devfun_at_nlme <- function(lme4_call, lmefit, lme4fit) {
  devf <- eval(lme4_call)
  relG <- nlme_relG(lmefit)
  cn <- getME(lme4fit, "cnms")
  theta <- unlist(lapply(names(cn), function(g) {
    M <- relG[[lme4_level(g)]]
    M <- M[cn[[g]], cn[[g]], drop = FALSE]
    Lc <- t(chol(M))
    Lc[lower.tri(Lc, diag = TRUE)]
  }))
  list(theta = I(num(theta)), criterion = num(devf(theta)))
}

# ---------------------------------------------------------------------------
# One mixed-model case, fitted by both packages.
# ---------------------------------------------------------------------------

fit_case <- function(name, dataset, fixed, random, method,
                     r_fixed, nlme_random, lme4_random,
                     ranef_first = NULL, kr = (method == "REML"),
                     nlme_control = NULL, notes = NULL) {
  message("case ", name)
  reml <- method == "REML"
  nlme_call <- bquote(nlme::lme(.(as.formula(r_fixed)), data = .(as.name(dataset)),
                                random = .(nlme_random), method = .(method)))
  if (!is.null(nlme_control)) nlme_call$control <- nlme_control
  lme4_formula <- as.formula(paste(r_fixed, "+", lme4_random))
  lme4_call <- bquote(lmerTest::lmer(.(lme4_formula), data = .(as.name(dataset)), REML = .(reml)))
  devfun_call <- bquote(lme4::lmer(.(lme4_formula), data = .(as.name(dataset)), REML = .(reml),
                                   devFunOnly = TRUE))

  case <- list(name = name, dataset = dataset, fixed = fixed, random = random, method = method,
               r_calls = list(nlme = paste(deparse(nlme_call, width.cutoff = 500L), collapse = " "),
                              lme4 = paste(deparse(lme4_call, width.cutoff = 500L), collapse = " ")))
  used <- intersect(names(hlm_names), all.vars(lme4_formula))
  if (length(used)) case$r_columns <- as.list(hlm_names[used])
  if (!is.null(notes)) case$notes <- notes

  nf <- capture(eval(nlme_call))
  if (is_err(nf$value) && is.null(nlme_control)) {
    # nlme's defaults failed: retry with a more patient optimiser, say so.
    first_error <- nf$value$error
    ctrl <- quote(nlme::lmeControl(opt = "optim", maxIter = 500, msMaxIter = 500))
    nlme_call$control <- ctrl
    nf <- capture(eval(nlme_call))
    case$nlme_default_control_error <- first_error
    case$r_calls$nlme <- paste(deparse(nlme_call, width.cutoff = 500L), collapse = " ")
  }
  lmefit <- NULL
  if (is_err(nf$value)) {
    case$nlme <- list(error = nf$value$error)
  } else {
    lmefit <- nf$value
    case$nlme <- nlme_summary(lmefit, ranef_first)
  }
  if (length(nf$warnings)) case$nlme$warnings <- I(nf$warnings)

  lf <- capture(eval(lme4_call))
  if (is_err(lf$value)) stop("lme4 failed on ", name, ": ", lf$value$error)
  fit <- lf$value
  case$lme4 <- lme4_summary(fit, ranef_first)
  if (length(lf$warnings)) case$lme4$warnings <- I(lf$warnings)

  case$lmerTest <- list(satterthwaite = lmertest_table(fit, "Satterthwaite"))
  if (kr) case$lmerTest$kenward_roger <- lmertest_table(fit, "Kenward-Roger")

  if (!is.null(lmefit)) {
    at <- capture(lme4_devfun_at_nlme(devfun_call, lmefit, fit))
    cmp <- list(nlme_criterion = case$nlme$criterion, lme4_criterion = case$lme4$criterion)
    if (!is_err(at$value)) {
      cmp$lme4_devfun_at_nlme_theta <- at$value$criterion
      cmp$nlme_theta_lme4_scale <- at$value$theta
    }
    d <- case$nlme$criterion - case$lme4$criterion
    cmp$nlme_minus_lme4 <- d
    cmp$lower <- if (abs(d) < 1e-6) "tie (|difference| < 1e-6)" else if (d < 0) "nlme" else "lme4"
    case$comparison <- cmp
  }
  starts <- list(lme4 = getME(fit, "theta"))
  if (!is.null(case$comparison$nlme_theta_lme4_scale))
    starts$nlme <- case$comparison$nlme_theta_lme4_scale
  po <- capture(polish(lme4_formula, dataset, reml, starts, ranef_first))
  if (is_err(po$value)) {
    case$optimum <- list(error = po$value$error)
  } else {
    case$optimum <- po$value
    case$comparison$optimum_criterion <- po$value$criterion
    case$comparison$lme4_above_optimum <- case$lme4$criterion - po$value$criterion
    if (!is.null(lmefit)) case$comparison$nlme_above_optimum <- case$nlme$criterion - po$value$criterion
  }
  attr(case, "fits") <- list(nlme = lmefit, lme4 = fit)
  case
}

# The optimum itself: minimise lme4's profiled criterion (the same function
# for both packages) with nlminb from each package's estimates, polish the
# best end point with bobyqa, then build a full lmerTest fit at that point
# (an "optimiser" that returns its start), so that everything, including the
# Satterthwaite and Kenward-Roger DF, is evaluated at the best optimum found.
fixed_at_start <- function(fn, par, lower, upper, control)
  list(par = par, fval = fn(par), conv = 0, message = "evaluated at the start (polished optimum)")

polish <- function(lme4_formula, dataset, reml, starts, ranef_first) {
  lf <- lme4::lFormula(lme4_formula, data = get(dataset), REML = reml)
  devf <- do.call(lme4::mkLmerDevfun, lf)
  lower <- environment(devf)$lower
  runs <- lapply(names(starts), function(nm) {
    o <- nlminb(starts[[nm]], devf, lower = lower,
                control = list(rel.tol = 1e-15, x.tol = 1e-12, eval.max = 5000, iter.max = 5000))
    list(start = nm, how = "nlminb", par = o$par, fval = o$objective, message = o$message)
  })
  best <- runs[[which.min(vapply(runs, `[[`, 0, "fval"))]]
  b <- minqa::bobyqa(pmax(best$par, lower), devf, lower = lower,
                     control = list(rhobeg = 1e-3, rhoend = 1e-12, maxfun = 1e5))
  runs[[length(runs) + 1]] <- list(start = paste0("best nlminb end (", best$start, ")"), how = "bobyqa",
                                   par = b$par, fval = b$fval, message = b$msg)
  best <- runs[[which.min(vapply(runs, `[[`, 0, "fval"))]]
  call <- bquote(lmerTest::lmer(.(lme4_formula), data = .(as.name(dataset)), REML = .(reml),
                                start = list(theta = .(best$par)),
                                control = lme4::lmerControl(optimizer = fixed_at_start)))
  fit <- eval(call)
  s <- lme4_summary(fit, ranef_first)
  s$optimizer <- NULL
  s$how <- paste("lme4's profiled criterion minimised by nlminb (rel.tol 1e-15) from each package's",
                 "estimate, then bobyqa (rhoend 1e-12) from the best end point; the fit is built at",
                 "the best point found (lmerTest, no further optimisation)")
  s$runs <- lapply(runs, function(r) list(start = r$start, how = r$how, criterion = num(r$fval),
                                          message = r$message))
  s$best_run <- paste(best$how, "from", best$start)
  s$lmerTest <- list(satterthwaite = lmertest_table(fit, "Satterthwaite"))
  if (reml) s$lmerTest$kenward_roger <- lmertest_table(fit, "Kenward-Roger")
  s
}

strip <- function(case) { attr(case, "fits") <- NULL; case }

# Contrasts (rows of L) with estimate, SE and DF from both packages.
contrast_block <- function(case, L, labels) {
  fits <- attr(case, "fits")
  colnames(L) <- names(fixef(fits$lme4))
  out <- list(L = mat(`rownames<-`(L, labels)))
  if (!is.null(fits$nlme)) {
    V <- vcov(fits$nlme); b <- fixef(fits$nlme)
    dfs <- summary(fits$nlme)$tTable[, "DF"]
    est <- drop(L %*% b); se <- sqrt(diag(L %*% V %*% t(L)))
    nl_df <- apply(L, 1, function(r) min(dfs[r != 0]))
    out$nlme <- list(estimate = named(setNames(est, labels)), se = named(setNames(se, labels)),
                     df = named(setNames(nl_df, labels)))
  }
  for (ddf in c("Satterthwaite", if (isREML(fits$lme4)) "Kenward-Roger")) {
    r <- capture(lmerTest::contest(fits$lme4, L, joint = FALSE, ddf = ddf))
    key <- if (ddf == "Satterthwaite") "lmerTest_satterthwaite" else "lmerTest_kenward_roger"
    if (is_err(r$value)) { out[[key]] <- list(error = r$value$error); next }
    t <- as.data.frame(r$value)
    out[[key]] <- list(estimate = named(setNames(t$Estimate, labels)),
                       se = named(setNames(t[["Std. Error"]], labels)),
                       df = named(setNames(t$df, labels)))
  }
  if (isREML(fits$lme4)) {
    r <- capture(sapply(seq_len(nrow(L)), function(i) pbkrtest::get_Lb_ddf(fits$lme4, L[i, , drop = FALSE])))
    if (!is_err(r$value)) out$pbkrtest_kenward_roger_df <- named(setNames(r$value, labels))
  }
  out
}

cases <- list()
add <- function(case) { cases[[length(cases) + 1]] <<- strip(case); invisible(case) }

# ===========================================================================
# hs: one-way random-effects ANOVA
# ===========================================================================

c1 <- fit_case("hs_oneway_reml", "hs", "mathach ~ 1", "~ 1 | school", "REML",
               "mathach ~ 1", ~ 1 | school, "(1 | school)")
add(c1)

# ===========================================================================
# hs: intercepts and slopes as outcomes, REML and ML
# ===========================================================================

for (m in c("REML", "ML")) {
  cc <- fit_case(paste0("hs_ses_sector_", tolower(m)), "hs", "mathach ~ ses * Sector",
                 "~ 1 + ses | school", m,
                 "mathach ~ ses * Sector", ~ 1 + ses | school, "(1 + ses | school)",
                 ranef_first = 5)
  add(cc)
}

# ===========================================================================
# hs: pooled OLS
# ===========================================================================

ols <- lm(mathach ~ ses * Sector, data = hs)
so <- summary(ols)
fs <- so$fstatistic
first10 <- seq_len(10)
cases[[length(cases) + 1]] <- list(
  name = "hs_ols_ses_sector", dataset = "hs", fixed = "mathach ~ ses * Sector",
  random = NULL, method = "OLS",
  r_calls = list(stats = "lm(mathach ~ ses * Sector, data = hs)"),
  lm = list(
    fixef = named(coef(ols)), se = named(so$coefficients[, "Std. Error"]),
    tvalue = named(so$coefficients[, "t value"]), pvalue = named(so$coefficients[, "Pr(>|t|)"]),
    vcov = mat(vcov(ols)), sigma = num(so$sigma), df_residual = ols$df.residual,
    r_squared = num(so$r.squared), adj_r_squared = num(so$adj.r.squared),
    fstatistic = list(value = num(fs[["value"]]), numdf = num(fs[["numdf"]]), dendf = num(fs[["dendf"]]),
                      pvalue = num(pf(fs[["value"]], fs[["numdf"]], fs[["dendf"]], lower.tail = FALSE))),
    logLik = num(logLik(ols)), AIC = num(AIC(ols)), BIC = num(BIC(ols)),
    diagnostics_first_rows = list(
      note = "the first 10 rows of hs in X order",
      X = I(hs$X[first10]),
      hat = I(num(hatvalues(ols)[first10])),
      cooks_distance = I(num(cooks.distance(ols)[first10])),
      rstudent = I(num(rstudent(ols)[first10])),
      rstandard = I(num(rstandard(ols)[first10])),
      residuals = I(num(residuals(ols)[first10])),
      fitted = I(num(fitted(ols)[first10])))))

# ===========================================================================
# hs1 (Lab 1): fitc with the contextual variable, and the model without it
# ===========================================================================

fitc <- fit_case("hs1_fitc_reml", "hs1", "mathach ~ ses * Sector + cvar(ses, school)",
                 "~ 1 + ses | school", "REML",
                 "mathach ~ ses * Sector + ses_mean", ~ 1 + ses | school, "(1 + ses | school)",
                 ranef_first = 5)
b <- names(fixef(attr(fitc, "fits")$lme4))
ses_values <- -2:2
L <- t(sapply(ses_values, function(s) {
  r <- setNames(numeric(length(b)), b); r["SectorPublic"] <- 1; r["ses:SectorPublic"] <- s; r
}))
fitc$contrasts <- list(
  public_minus_catholic_gap = c(list(ses = I(ses_values)),
                                contrast_block(fitc, L, paste0("gap at ses = ", ses_values))),
  compositional_effect = contrast_block(
    fitc, matrix(as.numeric(b %in% c("ses", "ses_mean")), 1),
    "ses + cvar(ses, school) (within + contextual)"))
add(fitc)

add(fit_case("hs1_ses_sector_reml", "hs1", "mathach ~ ses * Sector", "~ 1 + ses | school", "REML",
             "mathach ~ ses * Sector", ~ 1 + ses | school, "(1 + ses | school)", ranef_first = 5))

# ===========================================================================
# hs1 example 2: minority status, random intercept then random dvar slopes
# ===========================================================================

ex2 <- list()
for (m in c("REML", "ML")) {
  tag <- tolower(m)
  ex2[[paste0("m1_", tag)]] <- add(fit_case(
    paste0("hs1_minority_ri_", tag), "hs1", "mathach ~ ses * Minority", "~ 1 | school", m,
    "mathach ~ ses * Minority", ~ 1 | school, "(1 | school)", ranef_first = 5))
  ex2[[paste0("m2_", tag)]] <- add(fit_case(
    paste0("hs1_minority_dvar_minority_", tag), "hs1", "mathach ~ ses * Minority",
    "~ 1 + dvar(Minority, school) | school", m,
    "mathach ~ ses * Minority", ~ 1 + Minority_dvar | school, "(1 + Minority_dvar | school)",
    ranef_first = 5))
  ex2[[paste0("m3_", tag)]] <- add(fit_case(
    paste0("hs1_minority_dvar_minority_ses_", tag), "hs1", "mathach ~ ses * Minority",
    "~ 1 + dvar(Minority, school) + dvar(ses, school) | school", m,
    "mathach ~ ses * Minority", ~ 1 + Minority_dvar + ses_dvar | school,
    "(1 + Minority_dvar + ses_dvar | school)", ranef_first = 5))
}

lrt <- function(pkg, small, big, tag) {
  a <- cases[[which(vapply(cases, `[[`, "", "name") == small)]][[pkg]]
  z <- cases[[which(vapply(cases, `[[`, "", "name") == big)]][[pkg]]
  if (!is.null(a$error) || !is.null(z$error)) return(list(error = "a fit failed"))
  stat <- 2 * (z$logLik - a$logLik)
  ddf <- z$logLik_df - a$logLik_df
  list(small = small, big = big, method = tag, statistic = stat, df = ddf,
       pvalue_chisq = pchisq(stat, ddf, lower.tail = FALSE))
}
lrts <- list()
for (tag in c("reml", "ml")) for (pkg in c("nlme", "lme4")) {
  lrts[[paste0(pkg, "_", tag, "_add_dvar_minority")]] <-
    lrt(pkg, paste0("hs1_minority_ri_", tag), paste0("hs1_minority_dvar_minority_", tag), toupper(tag))
  lrts[[paste0(pkg, "_", tag, "_add_dvar_ses")]] <-
    lrt(pkg, paste0("hs1_minority_dvar_minority_", tag), paste0("hs1_minority_dvar_minority_ses_", tag),
        toupper(tag))
}

# ===========================================================================
# hsfull: the notes' two models on all 160 schools (a larger check)
# ===========================================================================

add(fit_case("hsfull_oneway_reml", "hsfull", "mathach ~ 1", "~ 1 | school", "REML",
             "mathach ~ 1", ~ 1 | school, "(1 | school)", ranef_first = 5))
add(fit_case("hsfull_ses_sector_reml", "hsfull", "mathach ~ ses * Sector", "~ 1 + ses | school", "REML",
             "mathach ~ ses * Sector", ~ 1 + ses | school, "(1 + ses | school)", ranef_first = 5))

# ===========================================================================
# Public example data sets
# ===========================================================================

for (m in c("REML", "ML")) {
  add(fit_case(paste0("sleepstudy_", tolower(m)), "sleepstudy", "Reaction ~ Days", "~ 1 + Days | Subject", m,
               "Reaction ~ Days", ~ 1 + Days | Subject, "(1 + Days | Subject)"))
}
add(fit_case("pastes_nested_reml", "Pastes", "strength ~ 1", "~ 1 | batch/cask", "REML",
             "strength ~ 1", ~ 1 | batch/cask, "(1 | batch/cask)"))
add(fit_case("oats_nested_reml", "Oats", "yield ~ nitro", "~ 1 | Block/Variety", "REML",
             "yield ~ nitro", ~ 1 | Block/Variety, "(1 | Block/Variety)"))
add(fit_case("orthodont_reml", "Orthodont", "distance ~ age * Sex", "~ 1 + age | Subject", "REML",
             "distance ~ age * Sex", ~ 1 + age | Subject, "(1 + age | Subject)"))
add(fit_case("dyestuff_reml", "Dyestuff", "Yield ~ 1", "~ 1 | Batch", "REML",
             "Yield ~ 1", ~ 1 | Batch, "(1 | Batch)"))
for (m in c("REML", "ML")) {
  add(fit_case(paste0("dyestuff2_singular_", tolower(m)), "Dyestuff2", "Yield ~ 1", "~ 1 | Batch", m,
               "Yield ~ 1", ~ 1 | Batch, "(1 | Batch)",
               notes = "boundary fit: the Batch SD is 0 at the optimum (lme4 isSingular TRUE); nlme cannot reach 0 on its log scale and stops at a tiny SD"))
}
add(fit_case("machines_nested_reml", "Machines", "score ~ Machine", "~ 1 | Worker/Machine", "REML",
             "score ~ Machine", ~ 1 | Worker/Machine, "(1 | Worker/Machine)"))
add(fit_case("ergostool_reml", "ergoStool", "effort ~ Type", "~ 1 | Subject", "REML",
             "effort ~ Type", ~ 1 | Subject, "(1 | Subject)"))

# ===========================================================================
# Write
# ===========================================================================

pkgs <- c("nlme", "lme4", "lmerTest", "pbkrtest", "Matrix", "jsonlite")
ref <- list(
  meta = list(
    description = "Reference values for hlmlab's tests, computed with R. See tests/reference/README.md.",
    command = "Rscript tests/reference/make_reference.R",
    script = "tests/reference/make_reference.R",
    created_utc = format(Sys.time(), "%Y-%m-%d %H:%M:%S", tz = "UTC"),
    R_version = R.version.string,
    platform = R.version$platform,
    packages = as.list(setNames(vapply(pkgs, function(p) as.character(packageVersion(p)), ""), pkgs)),
    blas = tryCatch(extSoftVersion()[["BLAS"]], error = function(e) NULL),
    lapack = tryCatch(La_library(), error = function(e) NULL)
  ),
  datasets = datasets_meta,
  cases = cases,
  lrt = lrts
)
json <- toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null", na = "null")
writeLines(json, file.path(out_dir, "r_reference.json"))
message("wrote ", file.path(out_dir, "r_reference.json"), " with ", length(cases), " cases")
