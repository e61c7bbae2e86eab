"""A clean install: the wheel adds only ``sde_opt`` and its commands work next to a user's own
``validation`` package (the PyPI name ``validation`` and the user's folder must not shadow ours).

The wheel is installed without dependencies into a fresh virtual environment that sees this
interpreter's site-packages (jax, numpy …), so the test needs no network.
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    str(ROOT), "-w", str(out)], check=True)
    (whl,) = out.glob("sde_opt-*.whl")
    return whl


def _venv_seeing_this_interpreters_packages(venv: Path) -> Path:
    """A fresh venv that also imports what the running interpreter has installed (jax, …).

    ``venv --system-site-packages`` would not do: made from inside a venv it sees the *base*
    interpreter's packages, not the venv's. A ``.pth`` file naming the running interpreter's
    site-packages folders works from a venv and from a system interpreter alike; the new venv's own
    site-packages (where the wheel goes) stays first on the path.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (Path(purelib) / "_outer_site_packages.pth").write_text("\n".join(outer) + "\n")
    return venv


@pytest.mark.slow
def test_the_wheel_has_no_top_level_module_but_sde_opt(wheel):
    with zipfile.ZipFile(wheel) as z:
        tops = {n.split("/")[0] for n in z.namelist()}
        names = z.namelist()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"sde_opt"}
    assert "sde_opt/studies/msgd_escape.py" in names
    assert "sde_opt/validation/heavy_ball_covariance.py" in names


@pytest.mark.slow
def test_commands_run_from_a_folder_holding_a_package_named_validation(wheel, tmp_path):
    venv = _venv_seeing_this_interpreters_packages(tmp_path / "venv")
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q", str(wheel)],
                   check=True)
    user = tmp_path / "user"
    (user / "validation").mkdir(parents=True)
    (user / "validation" / "__init__.py").write_text("raise ImportError('the user validation package')\n")
    (user / "studies").mkdir()
    (user / "studies" / "__init__.py").write_text("raise ImportError('the user studies package')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(user)  # the user's folder first on the path, as with `python -m` there
    where = subprocess.run([str(py), "-c", "import sde_opt, sys; print(sde_opt.__file__)"], cwd=user,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert str(venv) in where, where  # the wheel, not the editable checkout
    exe = venv / "bin" / "sde-opt"
    v = subprocess.run([str(exe), "validate", "--select", "heavy-ball", "--quiet"], cwd=user, env=env,
                       capture_output=True, text=True, timeout=600)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "heavy" in v.stdout.lower()
    s = subprocess.run([str(exe), "study", "msgd-escape", "--quick", "--no-progress", "--out",
                        str(tmp_path / "results")], cwd=user, env=env, capture_output=True, text=True,
                       timeout=900)
    assert s.returncode == 0, s.stdout + s.stderr
    assert (tmp_path / "results" / "msgd-escape" / "summary.json").exists()
