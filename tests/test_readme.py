"""The README's "Your own problem" example runs as written (a dozen lines, a dict of parameters)."""

import re
from pathlib import Path

import numpy as np
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


@pytest.mark.slow
def test_your_own_sde_example_runs(capsys):
    """The second block of the section: so.SDE from two functions, time dependent."""
    section = README.read_text().split("## Your own problem", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    exec(compile(code, "README.md", "exec"), {})
    flag, mean = capsys.readouterr().out.split()
    m = 0.0                       # Euler–Maruyama's mean exactly: the Euler recursion of the ODE
    for k in range(300):
        m += 0.01 * (-m + np.sin(k * 0.01))
    se = np.sqrt(0.3**2 * (1 - np.exp(-6.0)) / 2 / 1_000)        # OU variance at t = 3, 1,000 paths
    assert flag == "True" and abs(float(mean) - m) <= 5 * se


def _readme_command(title: str) -> str:
    text = README.read_text()
    section = text.split(title, 1)[1]
    return re.search(r"```bash\n(.*?)\n```", section, re.S).group(1).strip()


def test_ci_runs_the_readme_test_command_with_the_constraints():
    command = _readme_command("Run the tests:")
    ci = (README.parent / ".ci" / "run").read_text()
    assert command in ci.splitlines()
    assert "-c constraints.txt" in command
    assert "-c constraints.txt" in _readme_command("Run the main study")


def test_constraints_pin_every_runtime_dependency():
    tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11

    from packaging.requirements import Requirement

    pins = {}
    for line in (README.parent / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"]
    needed = list(project["dependencies"])
    for extra in ("torch", "test", "data", "docs"):
        needed += project["optional-dependencies"][extra]
    for text in needed:
        req = Requirement(text)
        if req.name == "sde_opt":
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), (req.name, pins[name])
    assert pins["torch"] == "2.13.0"  # the CPU build .ci/run installs first
