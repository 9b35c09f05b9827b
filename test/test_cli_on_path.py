# Copyright 2026 grounded_sam_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`grounded-sam` on the PATH: the venv shim that tools/bootstrap.sh writes, and the colcon-installed script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import grounded_sam_ros

ROOT = Path(__file__).resolve().parents[1]


def _env_without_repo() -> dict:
    """This environment minus the repo on PYTHONPATH, so a command can only find the sources its own way."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@pytest.fixture
def fake_checkout(tmp_path):
    """tmp/checkout with a copy of the package (its version changed) and a .venv/bin whose python is this one."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "grounded_sam_ros",
        checkout / "grounded_sam_ros",
        ignore=shutil.ignore_patterns("__pycache__", "data", "msg", "srv"),
    )
    init = checkout / "grounded_sam_ros" / "__init__.py"
    init.write_text(init.read_text().replace(f'"{grounded_sam_ros.__version__}"', '"9.9.9-checkout"'))
    bin_dir = checkout / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    return checkout


def test_shim_runs_the_cli_of_the_checkout_it_belongs_to(fake_checkout, tmp_path):
    venv = fake_checkout / ".venv"
    out = subprocess.run(["bash", str(ROOT / "tools/install_cli.sh"), str(venv)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    shim = venv / "bin" / "grounded-sam"
    assert "wrote" in out.stdout and os.access(shim, os.X_OK)
    # From anywhere, by its path: the checkout's own sources (version 9.9.9-checkout), not this repo's
    run = subprocess.run(
        [str(shim), "--version"], capture_output=True, text=True, cwd=tmp_path, env=_env_without_repo()
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "grounded-sam 9.9.9-checkout"
    # On the PATH, as after `source .venv/bin/activate`
    env = _env_without_repo()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    run = subprocess.run(["grounded-sam", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0 and "segment" in run.stdout and "download" in run.stdout, run.stderr
    # Idempotent: a second run leaves the file alone
    before = shim.stat().st_mtime_ns
    again = subprocess.run(["bash", str(ROOT / "tools/install_cli.sh"), str(venv)], capture_output=True, text=True)
    assert again.returncode == 0 and "up to date" in again.stdout and shim.stat().st_mtime_ns == before


def test_bootstrap_calls_the_shim_writer():
    text = (ROOT / "tools" / "bootstrap.sh").read_text()
    assert 'tools/install_cli.sh" "$VENV"' in text


def test_the_venv_grounded_sam_works():
    shim = ROOT / ".venv" / "bin" / "grounded-sam"
    if not shim.exists():
        pytest.skip(f"{shim} is written by `make setup` (tools/bootstrap.sh); run it first")
    run = subprocess.run([str(shim), "--version"], capture_output=True, text=True, env=_env_without_repo())
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith("grounded-sam ")


def test_colcon_install_has_the_command_on_path_and_for_ros2_run():
    prefix = ROOT / "install" / "grounded_sam_ros"
    if not (prefix / "lib" / "grounded_sam_ros" / "grounded_sam_node").exists():
        pytest.skip("install/ is built by `make setup` (colcon build)")
    for path in (prefix / "bin" / "grounded-sam", prefix / "lib" / "grounded_sam_ros" / "grounded-sam"):
        assert os.access(path, os.X_OK), f"{path} missing: colcon must install scripts/grounded-sam"
        run = subprocess.run([sys.executable, str(path), "--version"], capture_output=True, text=True)
        assert run.returncode == 0 and run.stdout.startswith("grounded-sam "), run.stderr
    # ament's path hook puts bin/ on PATH
    found = subprocess.run(
        ["bash", "-c", f"source {ROOT / 'install' / 'setup.bash'} && command -v grounded-sam"],
        capture_output=True,
        text=True,
        env={"HOME": os.environ.get("HOME", "/"), "PATH": "/usr/bin:/bin"},
    )
    assert found.stdout.strip() == str(prefix / "bin" / "grounded-sam"), found.stderr
