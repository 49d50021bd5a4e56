"""Helpers for the build tests: source snapshots, build.sh runs, interpreters."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# What build.sh reads. The package is copied without __pycache__.
SNAPSHOT_FILES = [
    "build.sh",
    "setup.cfg",
    "pyproject.toml",
    "LICENSE",
    "requirements.txt",
    "build-requirements.txt",
    "krew-manifest.yaml",
]
SNAPSHOT_PACKAGE = "kubectl_devspace"

SUPPORTED_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
UNSUPPORTED_PYTHONS = ["3.6", "3.7", "3.8", "3.9"]

BUILD_TIMEOUT_SECONDS = 900


def read_version() -> str:
    text = (REPO_ROOT / SNAPSHOT_PACKAGE / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert match, "__version__ not found in kubectl_devspace/__init__.py"
    return match.group(1)


def archive_name(version: str) -> str:
    return f"kubectl-devspace_{version}_linux_amd64.tar.gz"


@dataclass(frozen=True)
class Dist:
    """The artifacts of one build.sh run."""

    directory: Path
    version: str

    @property
    def zipapp(self) -> Path:
        return self.directory / "kubectl-devspace"

    @property
    def archive(self) -> Path:
        return self.directory / archive_name(self.version)

    @property
    def manifest(self) -> Path:
        return self.directory / "krew-manifest.yaml"


def snapshot_sources(destination: Path) -> Path:
    """Copy the files that build.sh reads into destination and return it."""
    destination.mkdir(parents=True)
    for name in SNAPSHOT_FILES:
        shutil.copy2(REPO_ROOT / name, destination / name)
    shutil.copytree(
        REPO_ROOT / SNAPSHOT_PACKAGE,
        destination / SNAPSHOT_PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return destination


def run_build(source: Path, dist_dir: Path, tools_venv: Path | None = None) -> Dist:
    """Run source/build.sh into dist_dir, leaving source/krew-manifest.yaml unchanged.

    Without tools_venv, builds share the repository's tools venv, which
    build.sh locks while it installs into it.
    """
    environment = dict(os.environ)
    if tools_venv is not None:
        environment["TOOLS_VENV"] = str(tools_venv)
    else:
        environment.setdefault("TOOLS_VENV", str(REPO_ROOT / "build" / "tools-venv"))
    environment.pop("SOURCE_DATE_EPOCH", None)
    environment.pop("DIST_DIR", None)
    result = subprocess.run(
        ["bash", str(source / "build.sh"), "--dist-dir", str(dist_dir), "--no-manifest-update"],
        cwd="/",
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, (
        f"build.sh failed with exit code {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return Dist(directory=dist_dir, version=read_version())


def find_cpython(version: str) -> str | None:
    """Return the path of a working CPython `version` ("3.11"), or None.

    Looks on PATH, then under $PYENV_ROOT/versions (default ~/.pyenv). A pyenv
    shim for a version that is installed but not selected exits with an
    error, so each candidate is run once to confirm its version.
    """
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates.extend(sorted(str(path) for path in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")))

    for candidate in candidates:
        try:
            result = subprocess.run(
                [candidate, "-c", "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0 and result.stdout.split() == ["cpython", version]:
            return candidate
    return None


def require_cpython(version: str) -> str:
    interpreter = find_cpython(version)
    if interpreter is None:
        pytest.skip(f"CPython {version} not found on PATH or under $PYENV_ROOT/versions")
    return interpreter


# Time limit of one command a packaging test runs (zipapp start, krew install).
RUN_TIMEOUT_SECONDS = 300


def run_captured(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with no stdin and capture its text output, within ``RUN_TIMEOUT_SECONDS``."""
    return subprocess.run(
        command,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
