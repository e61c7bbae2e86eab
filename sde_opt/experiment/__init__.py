"""The experiment layer shared by studies and validation, so that neither carries bookkeeping.

* :class:`ResultsDir` — ``results/NAME/`` written atomically (files 0644, temporaries of an
  interrupted write removed on the next run); :meth:`ResultsDir.point` makes a grid point
  resumable and :meth:`ResultsDir.points` a batch of them, spread over processes with
  :class:`Share`; :meth:`ResultsDir.record_config` writes ``config.json``.
* :func:`run_study` — config, run, ``summary.json`` with timing accumulated across resumes (what
  ``sde-opt study`` calls).
* :class:`Progress` — the one progress bar of a study (tqdm on stderr).
* :func:`compare` / :func:`compare_interval` / :class:`Verdict` — the one verdict rule.
* :func:`format_claims` — a study's headline claims (quantity, measured [CI], theory, verdict) as
  the fixed-width table ``sde-opt study`` prints.

Numbers with error bars are :class:`sde_opt.stats.Estimate` objects.
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
