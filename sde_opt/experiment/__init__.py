"""The experiment layer shared by studies and validation, so that neither carries bookkeeping.

* [`ResultsDir`][sde_opt.experiment.ResultsDir] — ``results/NAME/`` written atomically (files 0644,
  temporaries of an
  interrupted write removed on the next run); [`ResultsDir.point`][sde_opt.experiment.ResultsDir.point] makes
  a grid point resumable and [`ResultsDir.points`][sde_opt.experiment.ResultsDir.points] a batch of them,
  spread over processes with [`Share`][sde_opt.experiment.Share];
  [`ResultsDir.record_config`][sde_opt.experiment.ResultsDir.record_config] writes ``config.json``.
* [`run_study`][sde_opt.experiment.run_study] — config, run, ``summary.json`` with timing accumulated across
  resumes (what
  ``sde-opt study`` calls).
* [`Progress`][sde_opt.experiment.Progress] — the one progress bar of a study (tqdm on stderr).
* [`compare`][sde_opt.experiment.compare] / [`compare_interval`][sde_opt.experiment.compare_interval] /
  [`Verdict`][sde_opt.experiment.Verdict] — the one verdict rule.
* [`format_claims`][sde_opt.experiment.format_claims] — a study's headline claims (quantity, measured [CI],
  theory, verdict) as
  the fixed-width table ``sde-opt study`` prints.

Numbers with error bars are [`sde_opt.stats.Estimate`][sde_opt.stats.Estimate] objects.
"""

from .progress import Progress as Progress
from .results import ConfigMismatch as ConfigMismatch
from .results import ResultsDir as ResultsDir
from .results import Share as Share
from .study import StudyRun as StudyRun
from .study import run_study as run_study
from .table import format_claims as format_claims
from .verdict import Verdict as Verdict
from .verdict import compare as compare
from .verdict import compare_interval as compare_interval

__all__ = ["ConfigMismatch", "Progress", "ResultsDir", "Share", "StudyRun", "run_study", "Verdict",
           "compare", "compare_interval", "format_claims"]
