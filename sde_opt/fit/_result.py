"""Fit results: a named set of [`Estimate`][sde_opt.stats.Estimate] plus what they were fitted to."""

from __future__ import annotations

import dataclasses

from ..stats._estimate import Estimate, _plain


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The estimates of one fit, by name, plus what they were fitted to.

    Access an estimate as ``result["diffusion"]`` or ``result.diffusion``. ``info`` holds scalars
    and strings (method, time unit, bias formula …); ``extras`` holds arrays that are not estimates
    (bin centres, counts, the parameter covariance …).
    """

    model: str
    estimates: dict
    info: dict = dataclasses.field(default_factory=dict)
    extras: dict = dataclasses.field(default_factory=dict)

    def __getitem__(self, name) -> Estimate:
        return self.estimates[name]

    def __getattr__(self, name):
        est = self.__dict__.get("estimates", {})
        if name in est:
            return est[name]
        raise AttributeError(name)

    def __contains__(self, name) -> bool:
        return name in self.estimates

    def as_dict(self) -> dict:
        """JSON-ready: model, info, every estimate and the extras as lists."""
        return {"model": self.model, "info": _plain(self.info),
                "estimates": {k: e.as_dict() for k, e in self.estimates.items()},
                "extras": _plain(self.extras)}

    def __repr__(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in self.info.items()
                         if isinstance(v, (int, float, str)) and k in _HEAD_KEYS)
        lines = [f"FitResult(model={self.model!r}{', ' if head else ''}{head})"]
        for e in self.estimates.values():
            lines += ["  " + s for s in e.lines()]
        return "\n".join(lines)


_HEAD_KEYS = ("dt", "n_traces", "n_steps", "dim", "n_increments", "time_unit")

