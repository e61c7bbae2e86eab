"""The README's "Your own problem" example runs as written (a dozen lines, a dict of parameters)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_your_own_problem_example_runs(capsys):
    text = README.read_text()
    section = text.split("## Your own problem", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["MomentumSGD", "EulerMaruyama"]
    assert all(line.endswith("(256, 2)") for line in out)
