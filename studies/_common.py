"""Studies share the package's experiment layer (:mod:`sde_opt.experiment`)."""

from sde_opt.experiment import ResultsDir as ResultsDir
