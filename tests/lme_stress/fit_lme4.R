# Fit the stress cases with lme4 and store the criteria (see make_cases.py and
# make_boundary_cases.py). Run from the repository root:
#   Rscript tests/lme_stress/fit_lme4.R            # cases.csv -> lme4.json
#   Rscript tests/lme_stress/fit_lme4.R boundary   # boundary_cases.csv -> lme4_boundary.json
suppressMessages({library(lme4); library(jsonlite)})
dir <- "tests/lme_stress"
set <- commandArgs(trailingOnly = TRUE)
boundary <- length(set) > 0 && set[1] == "boundary"
prefix <- if (boundary) "boundary_" else ""
fixed <- if (boundary) "y ~ x + z" else "y ~ x + z + w"
cases <- read.csv(file.path(dir, paste0(prefix, "cases.csv")))
specs <- read.csv(file.path(dir, paste0(prefix, "specs.csv")))
out <- list()
for (k in seq_len(nrow(specs))) {
  d <- cases[cases$case == specs$i[k], ]
  d$g <- factor(d$g)
  f <- as.formula(sprintf("%s + (%s | g)", fixed, specs$rnd[k]))
  reml <- specs$method[k] == "REML"
  m <- suppressWarnings(suppressMessages(lmer(f, d, REML = reml)))
  out[[as.character(specs$i[k])]] <- list(
    random = paste("~", specs$rnd[k], "| g"), method = specs$method[k], nobs = nrow(d),
    criterion = if (reml) REMLcrit(m) else deviance(m),
    theta = unname(getME(m, "theta")), singular = isSingular(m),
    messages = m@optinfo$conv$lme4$messages)
}
meta <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             command = paste("Rscript tests/lme_stress/fit_lme4.R", if (boundary) "boundary" else ""),
             fixed = fixed)
writeLines(toJSON(list(meta = meta, cases = out), digits = 15, auto_unbox = TRUE, pretty = TRUE),
           file.path(dir, if (boundary) "lme4_boundary.json" else "lme4.json"))
