# Reference values for hlmlab's Satterthwaite and Kenward-Roger denominator
# degrees of freedom (tests/test_satterthwaite.py), computed with lmerTest
# and pbkrtest.
#
# Run from the repository root:
#
#     Rscript tests/reference/make_satterthwaite_reference.R
#
# Reads   data/hsb_students.csv, data/hsb_schools.csv and lme4/nlme example data;
# writes  tests/reference/satterthwaite_reference.json.
#
# For every model: lme4's estimates (theta, sigma, beta, vcov) so the Python
# side can evaluate at exactly the same point; lmerTest's pieces
# (varpar = (theta, sigma), A = vcov_varpar = 2 H^{-1} with H the Hessian of
# the REML/ML deviance in varpar, the Jacobian of vcov(beta) in varpar);
# Satterthwaite DF of every coefficient and of extra contrasts, the joint F
# test of a multi-row L (F, NumDF, DenDF); and for REML fits pbkrtest's
# Kenward-Roger adjusted covariance, per-row DF, and the joint test's DF and
# F scaling.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})

students <- read.csv("data/hsb_students.csv", stringsAsFactors = FALSE)
schools <- read.csv("data/hsb_schools.csv", stringsAsFactors = FALSE)
schools$in_hs <- as.character(schools$in_hs) %in% c("True", "TRUE", "true")
hsb <- function(keep) {
  d <- merge(students[students$school %in% keep, ],
             schools[, c("school", "Sector")], by = "school", all.x = TRUE)
  d <- d[order(d$X), ]
  d$Sector <- factor(d$Sector, levels = c("Catholic", "Public"))
  d$Minority <- factor(d$Minority, levels = c("No", "Yes"))
  d$school <- factor(d$school)
  d
}
hs <- hsb(schools$school[schools$in_hs])
hs1 <- hsb(schools$school[schools$half == "hs1"])
data("sleepstudy", package = "lme4")
data("Orthodont", package = "nlme")
data("ergoStool", package = "nlme")
data("Machines", package = "nlme")
data("Dyestuff2", package = "lme4")
Orthodont <- as.data.frame(Orthodont)
Orthodont$Subject <- factor(as.character(Orthodont$Subject))
ergoStool <- as.data.frame(ergoStool)
ergoStool$Subject <- factor(as.character(ergoStool$Subject))
ergoStool$Type <- factor(as.character(ergoStool$Type))
Machines <- as.data.frame(Machines)
Machines$Worker <- factor(as.character(Machines$Worker))
Machines$Machine <- factor(as.character(Machines$Machine))

mat <- function(m) list(rows = rownames(m), cols = colnames(m), values = unname(as.matrix(m)))

# One model: estimates, lmerTest pieces, per-row and joint DFs.
# `contrasts`: named list of extra L rows (named numeric vectors over fixef names);
# `joint`: names of the coefficients whose joint test (L = their unit rows) is stored.
reference <- function(name, dataset, formula, reml, contrasts = list(), joint = NULL) {
  d <- get(dataset)
  m <- lmerTest::lmer(as.formula(formula), data = d, REML = reml)
  b <- fixef(m)
  p <- length(b)
  out <- list(name = name, dataset = dataset, formula = formula,
              method = if (reml) "REML" else "ML",
              theta = unname(getME(m, "theta")), sigma = sigma(m), beta = as.list(b),
              criterion = unname(if (reml) REMLcrit(m) else deviance(m)),
              vcov = mat(as.matrix(vcov(m))),
              varpar = unname(c(getME(m, "theta"), sigma(m))),
              vcov_varpar = unname(m@vcov_varpar),
              jacobian = lapply(m@Jac_list, function(J) unname(as.matrix(J))))
  # every coefficient, and the extra contrasts, one row at a time
  L <- diag(p); colnames(L) <- names(b); rownames(L) <- names(b)
  for (k in names(contrasts)) {
    r <- contrasts[[k]]
    row <- setNames(numeric(p), names(b)); row[names(r)] <- r
    L <- rbind(L, `rownames<-`(matrix(row, 1), k))
  }
  sat <- contest(m, L, joint = FALSE, ddf = "Satterthwaite")
  out$L <- mat(L)
  out$satterthwaite <- list(estimate = sat$Estimate, se = sat[["Std. Error"]], df = sat$df)
  if (!is.null(joint)) {
    LJ <- L[joint, , drop = FALSE]
    js <- contest(m, LJ, joint = TRUE, ddf = "Satterthwaite")
    out$joint <- list(L = mat(LJ), satterthwaite = list(F = js[["F value"]], NumDF = js$NumDF,
                                                          DenDF = js$DenDF))
  }
  if (reml) {
    kr <- contest(m, L, joint = FALSE, ddf = "Kenward-Roger")
    out$kenward_roger <- list(se = kr[["Std. Error"]], df = kr$df,
                              df_pbkrtest = sapply(seq_len(nrow(L)), function(i)
                                pbkrtest::get_Lb_ddf(m, L[i, , drop = FALSE])))
    Va <- pbkrtest::vcovAdj(m)
    out$kenward_roger$vcov_adjusted <- mat(as.matrix(Va))
    if (!is.null(joint)) {
      LJ <- L[joint, , drop = FALSE]
      jk <- contest(m, LJ, joint = TRUE, ddf = "Kenward-Roger")
      # pbkrtest's own KR test of L beta = 0 (F statistic, DF and scaling)
      kk <- pbkrtest::KRmodcomp(m, LJ)
      out$joint$kenward_roger <- list(F_lmerTest = jk[["F value"]], DenDF_lmerTest = jk$DenDF,
                                      F = kk$stats$Fstat, NumDF = kk$stats$ndf,
                                      DenDF = kk$stats$ddf, F_scaling = kk$stats$F.scaling)
    }
  }
  out
}

cases <- list(
  reference("hs_ses_sector_reml", "hs", "mathach ~ ses * Sector + (1 + ses | school)", TRUE,
            contrasts = list(`gap at ses = 1` = c(SectorPublic = 1, `ses:SectorPublic` = 1),
                             `public slope` = c(ses = 1, `ses:SectorPublic` = 1)),
            joint = c("SectorPublic", "ses:SectorPublic")),
  reference("hs_ses_sector_ml", "hs", "mathach ~ ses * Sector + (1 + ses | school)", FALSE,
            joint = c("SectorPublic", "ses:SectorPublic")),
  reference("hs1_minority_ri_reml", "hs1", "mathach ~ ses * Minority + (1 | school)", TRUE,
            joint = c("ses", "MinorityYes", "ses:MinorityYes")),
  reference("sleepstudy_reml", "sleepstudy", "Reaction ~ Days + (1 + Days | Subject)", TRUE,
            joint = c("(Intercept)", "Days")),
  reference("sleepstudy_ml", "sleepstudy", "Reaction ~ Days + (1 + Days | Subject)", FALSE),
  reference("orthodont_reml", "Orthodont", "distance ~ age * Sex + (1 + age | Subject)", TRUE,
            joint = c("SexFemale", "age:SexFemale")),
  reference("ergostool_reml", "ergoStool", "effort ~ Type + (1 | Subject)", TRUE,
            contrasts = list(`T3 - T2` = c(TypeT2 = -1, TypeT3 = 1)),
            joint = c("TypeT2", "TypeT3", "TypeT4")),
  reference("machines_nested_reml", "Machines", "score ~ Machine + (1 | Worker/Machine)", TRUE,
            joint = c("MachineB", "MachineC")),
  reference("dyestuff2_singular_reml", "Dyestuff2", "Yield ~ 1 + (1 | Batch)", TRUE)
)

pkgs <- c("lme4", "lmerTest", "pbkrtest", "Matrix")
meta <- list(script = "tests/reference/make_satterthwaite_reference.R",
             created_utc = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
             R_version = R.version.string,
             packages = setNames(lapply(pkgs, function(p) format(packageVersion(p))), pkgs),
             notes = paste("varpar = (theta, sigma) as lmerTest; vcov_varpar = 2 * inverse Hessian",
                           "of lmerTest's deviance in varpar; jacobian[[i]] = d vcov(beta) / d varpar[i]."))
write_json(list(meta = meta, cases = cases), file.path("tests", "reference", "satterthwaite_reference.json"),
           auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("written tests/reference/satterthwaite_reference.json\n")
