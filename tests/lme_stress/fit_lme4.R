# Fit the stress cases with lme4 and store the criteria (see make_cases.py).
# Run from the repository root: Rscript tests/lme_stress/fit_lme4.R
suppressMessages({library(lme4); library(jsonlite)})
dir <- "tests/lme_stress"
cases <- read.csv(file.path(dir, "cases.csv"))
specs <- read.csv(file.path(dir, "specs.csv"))
out <- list()
for (k in seq_len(nrow(specs))) {
  d <- cases[cases$case == specs$i[k], ]
  d$g <- factor(d$g)
  f <- as.formula(sprintf("y ~ x + z + w + (%s | g)", specs$rnd[k]))
  reml <- specs$method[k] == "REML"
  m <- suppressWarnings(suppressMessages(lmer(f, d, REML = reml)))
  out[[as.character(specs$i[k])]] <- list(
    random = paste("~", specs$rnd[k], "| g"), method = specs$method[k], nobs = nrow(d),
    criterion = if (reml) REMLcrit(m) else deviance(m),
    theta = unname(getME(m, "theta")), singular = isSingular(m),
    messages = m@optinfo$conv$lme4$messages)
}
meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             command = "Rscript tests/lme_stress/fit_lme4.R")
writeLines(toJSON(list(meta = meta, cases = out), digits = 15, auto_unbox = TRUE, pretty = TRUE),
           file.path(dir, "lme4.json"))
