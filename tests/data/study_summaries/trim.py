"""Write NAME.json here: the part of a study's summary.json that its ``headline_claims`` reads.

    PYTHONPATH=. python tests/data/study_summaries/trim.py results/NAME/summary.json

The function runs on a proxy of the summary that records every key and index it reads; the copy
keeps exactly those (lists keep their length). The copy must give the same rows as the original,
which is checked before writing. Used to refresh the fixtures of tests/test_study_tables.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


class _Log:
    def __init__(self):
        self.paths = set()


def _wrap(v, path, log):
    if isinstance(v, dict):
        return _Dict(v, path, log)
    if isinstance(v, list):
        return _List(v, path, log)
    return v


class _Dict:
    def __init__(self, d, path, log):
        self._d, self._p, self._log = d, path, log
        log.paths.add(path)

    def __getitem__(self, k):
        v = self._d[k]
        return _wrap(v, self._p + (k,), self._log) if self._touch(k) else v

    def _touch(self, k):
        self._log.paths.add(self._p + (k,))
        return True

    def get(self, k, default=None):
        return self[k] if k in self._d else default

    def __contains__(self, k):
        if k in self._d:
            self._touch(k)
        return k in self._d

    def keys(self):
        return [k for k in self._d if self._touch(k)]

    def __iter__(self):
        return iter(self.keys())

    def items(self):
        return [(k, self[k]) for k in self._d]

    def values(self):
        return [self[k] for k in self._d]

    def __len__(self):
        return len(self._d)


class _List:
    def __init__(self, xs, path, log):
        self._xs, self._p, self._log = xs, path, log
        log.paths.add(path)

    def __getitem__(self, i):
        i = range(len(self._xs))[i]
        self._log.paths.add(self._p + (i,))
        return _wrap(self._xs[i], self._p + (i,), self._log)

    def __iter__(self):
        return (self[i] for i in range(len(self._xs)))

    def __len__(self):
        return len(self._xs)


def trim(summary: dict, headline_claims) -> dict:
    """The part of ``summary`` that ``headline_claims`` reads (see the module docstring)."""
    log = _Log()
    headline_claims(_Dict(summary, (), log))

    def keep(v, path):
        if isinstance(v, dict):
            return {k: keep(x, path + (k,)) for k, x in v.items() if path + (k,) in log.paths}
        if isinstance(v, list):
            return [keep(x, path + (i,)) if path + (i,) in log.paths else None
                    for i, x in enumerate(v)]
        return v

    out = keep(summary, ())
    if headline_claims(out) != headline_claims(summary):
        raise RuntimeError("the trimmed summary gives other rows")
    return out


def main(path: str) -> Path:
    from sde_opt import studies

    summary = json.loads(Path(path).read_text())
    name = Path(path).parent.name
    module = studies.registry()[name]
    trimmed = trim(summary, module.headline_claims)
    out = Path(__file__).parent / f"{name}.json"
    out.write_text(json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n")
    return out


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(main(p))
