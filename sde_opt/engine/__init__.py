"""Simulate batches of paths of any chain: events, exit times, censoring, streamed observables."""

from ._simulate import CENSORED as CENSORED
from ._simulate import DIVERGED as DIVERGED
from ._simulate import EXITED as EXITED
from ._simulate import SimulationResult as SimulationResult
from ._simulate import simulate as simulate
from ._simulate import use_cpu_cores as use_cpu_cores
from ._stream import StreamedSummary as StreamedSummary
from ._stream import simulate_streamed as simulate_streamed
from ._trajectory import coarsen_normals as coarsen_normals
from ._trajectory import trajectory as trajectory
from .events import EnterBall as EnterBall
from .events import LeaveBall as LeaveBall
from .events import OnState as OnState
from .events import Threshold as Threshold

__all__ = [
    "EnterBall", "LeaveBall", "Threshold", "OnState", "CENSORED", "DIVERGED", "EXITED", "SimulationResult",
    "simulate", "simulate_streamed", "StreamedSummary", "use_cpu_cores", "trajectory", "coarsen_normals",
]
