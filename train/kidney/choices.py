"""The kidney pipeline's named choices, in a module that imports nothing: `pocketml --help`
lists them without loading scikit-learn or PyTorch."""

BALANCERS = ("smote", "smotenc", "over", "under", "none")
SELECTORS = ("chi2", "mutual-info", "rfe")
FEATURE_SETS = ("seed", "auto")  # the lecture's 10 features, or the top k of the ranking
