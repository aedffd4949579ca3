"""Installed as users install it: a wheel built from the checkout carries every config file, and
`pip install --target` and a regular install into a fresh venv both run `dlrun --help` and a
one-epoch run outside the checkout. `dlrun --version` names dlrun's version."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def _pip(*args: str, python: str = sys.executable) -> None:
    subprocess.run(
        [python, "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout's files (the build writes build/ beside them)."""
    base = tmp_path_factory.mktemp("wheel")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    src = base / "src"
    for name in files:
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((REPO / name).read_bytes())
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), str(src))
    return next((base / "dist").glob("dlrun-*.whl"))


def test_every_conf_file_is_in_the_wheel(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    files = {p for p in (REPO / "conf").rglob("*") if p.is_file()}
    missing = sorted(str(p.relative_to(REPO)) for p in files if f"runner/{p.relative_to(REPO)}" not in names)
    assert not missing, f"conf files a regular install would lack: {missing}"


def _run(cmd: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _one_epoch(cmd: list, cwd: Path, env: dict) -> None:
    help_ = _run([*cmd, "--help"], cwd, env)
    assert help_.returncode == 0 and "== Choices" in help_.stdout, help_.stderr
    run = _run([*cmd, "dataset=function", "trainer.epochs=1", "trainer.progress=plain", "hydra.run.dir=run"], cwd, env)
    assert run.returncode == 0, run.stderr
    assert (cwd / "run" / "DONE").is_file() and (cwd / "run" / "metrics.csv").is_file()


def test_target_install_runs_outside_the_checkout(wheel, tmp_path):
    target = tmp_path / "target"
    _pip("install", "--no-deps", "--target", str(target), str(wheel))
    env = {"PYTHONPATH": str(target)}
    where = _run([sys.executable, "-c", "import runner; print(runner.__file__)"], tmp_path, env)
    assert where.stdout.strip() == str(target / "runner" / "__init__.py")
    _one_epoch([sys.executable, "-m", "runner"], tmp_path, env)  # `python -m runner` is dlrun too
    version = _run([sys.executable, "-m", "runner.cli", "--version"], tmp_path, env)
    assert version.stdout.startswith("dlrun 0.1.0 (torch ") and "hydra-core 1.3" in version.stdout

    # without its configs the installed package says where it looked, in one line
    import shutil

    shutil.rmtree(target / "runner" / "conf")
    broken = _run([sys.executable, "-m", "runner.cli", "trainer.epochs=1"], tmp_path, env)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1
    assert str(target / "runner" / "conf") in broken.stderr and "reinstall dlrun" in broken.stderr


def test_regular_install_into_a_fresh_venv_runs(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    # the heavy dependencies come from the test venv's site-packages (a path, so its editable
    # install of dlrun, a .pth file there, is not applied)
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _pip("install", "--no-deps", "--no-index", str(wheel), python=python)
    _one_epoch([str(venv / "bin" / "dlrun")], tmp_path, {})
