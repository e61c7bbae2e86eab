"""The experiment layer shared by studies and validation: results folder, resumable points, verdicts.

* :class:`ResultsDir` — ``results/NAME/`` written atomically; :meth:`ResultsDir.point` makes a grid
  point resumable.
* :func:`compare` / :func:`compare_interval` / :class:`Verdict` — the one verdict rule.
"""

from .results import ResultsDir as ResultsDir
from .verdict import Verdict as Verdict
from .verdict import compare as compare
from .verdict import compare_interval as compare_interval

__all__ = ["ResultsDir", "Verdict", "compare", "compare_interval"]
