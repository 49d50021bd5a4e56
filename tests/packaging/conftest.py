"""Fixtures for the build tests: a source snapshot, its build, and a SHIV_ROOT.

The session builds once, with ./build.sh run in a snapshot of the sources in a
temporary directory, so edits made to the work tree while the tests run do not
change what the tests compare. DEVSPACE_DIST_DIR=DIR makes the tests check the
artifacts already in DIR (for example dist/ after `bash build.sh` in CI)
instead; the reproducibility test then builds once and compares with DIR.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from build_support import Dist, read_version, run_build, snapshot_sources


@pytest.fixture(scope="session")
def source_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_sources(tmp_path_factory.mktemp("build") / "source")


@pytest.fixture(scope="session")
def dist(source_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Dist:
    prebuilt = os.environ.get("DEVSPACE_DIST_DIR")
    if prebuilt:
        return Dist(directory=Path(prebuilt).resolve(), version=read_version())
    return run_build(source_snapshot, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def shiv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory where the zipapp unpacks its site-packages (instead of ~/.shiv)."""
    return tmp_path_factory.mktemp("shiv-root")
