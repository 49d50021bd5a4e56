"""Tests of the artifacts that build.sh writes: zipapp, krew archive, manifest."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tarfile
import zipfile
from pathlib import Path

import yaml

from build_support import SUPPORTED_PYTHONS, Dist, run_build

# build.sh's default SOURCE_DATE_EPOCH, 1980-01-01T00:00:00Z.
SOURCE_DATE_EPOCH = 315532800
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

# Extension modules that exist once per supported Python version, one from
# each dependency that needs a version-specific build.
VERSION_TAGGED_MODULES = [
    "_cffi_backend",
    "yaml/_yaml",
    "pydantic_core/_pydantic_core",
    "multidict/_multidict",
    "aiohttp/_http_parser",
]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_zipapp_starts_with_shebang(dist: Dist):
    with dist.zipapp.open("rb") as stream:
        first_line = stream.readline()

    assert first_line == b"#!/usr/bin/env python3\n"
    assert dist.zipapp.stat().st_mode & 0o111 == 0o111


def test_zipapp_entry_point_is_console_script(dist: Dist):
    with zipfile.ZipFile(dist.zipapp) as archive:
        environment = json.loads(archive.read("environment.json"))
        names = set(archive.namelist())

    assert environment["entry_point"] == "kubectl_devspace.cli:main"
    assert "__main__.py" in names
    assert "site-packages/kubectl_devspace/cli.py" in names
    assert "site-packages/bin/check_python.py" in names
    assert environment["preamble"] == "check_python.py"


def test_zipapp_entries_are_normalized(dist: Dist):
    with zipfile.ZipFile(dist.zipapp) as archive:
        entries = archive.infolist()

    assert entries, "the zipapp has no entries"
    assert {entry.date_time for entry in entries} == {ZIP_DATE_TIME}
    assert not [entry.filename for entry in entries if "__pycache__" in entry.filename]
    assert not [entry.filename for entry in entries if entry.filename.endswith(".pyc")]
    site_packages_bin = [
        entry.filename for entry in entries if entry.filename.startswith("site-packages/bin/")
    ]
    assert site_packages_bin == ["site-packages/bin/check_python.py"]


def test_zipapp_bundles_extensions_per_python(dist: Dist):
    with zipfile.ZipFile(dist.zipapp) as archive:
        names = set(archive.namelist())

    for module in VERSION_TAGGED_MODULES:
        for version in SUPPORTED_PYTHONS:
            tag = version.replace(".", "")
            name = f"site-packages/{module}.cpython-{tag}-x86_64-linux-gnu.so"
            assert name in names, f"{name} is missing"
    assert "site-packages/cryptography/hazmat/bindings/_rust.abi3.so" in names


def test_archive_contains_binary_and_license(dist: Dist, source_snapshot: Path):
    with tarfile.open(dist.archive, "r:gz") as archive:
        members = archive.getmembers()
        zipapp_bytes = archive.extractfile("kubectl-devspace").read()
        license_bytes = archive.extractfile("LICENSE").read()

    assert [member.name for member in members] == ["LICENSE", "kubectl-devspace"]
    modes = {member.name: member.mode for member in members}
    assert modes == {"LICENSE": 0o644, "kubectl-devspace": 0o755}
    assert all(member.isreg() for member in members)
    assert zipapp_bytes == dist.zipapp.read_bytes()
    assert license_bytes == (source_snapshot / "LICENSE").read_bytes()


def test_archive_metadata_is_fixed(dist: Dist):
    with tarfile.open(dist.archive, "r:gz") as archive:
        members = archive.getmembers()
    with gzip.open(dist.archive) as stream:
        stream.read(1)
        gzip_mtime = stream.mtime
    header = dist.archive.read_bytes()[:10]

    for member in members:
        assert member.mtime == SOURCE_DATE_EPOCH, member.name
        assert (member.uid, member.gid) == (0, 0), member.name
        assert (member.uname, member.gname) == ("root", "root"), member.name
    assert gzip_mtime == 0
    # FLG byte 0: no original file name stored in the gzip header.
    assert header[3] == 0


def test_manifest_has_archive_sha256(dist: Dist):
    manifest = yaml.safe_load(dist.manifest.read_text(encoding="utf-8"))
    (platform,) = manifest["spec"]["platforms"]

    assert platform["sha256"] == sha256_of(dist.archive)
    assert platform["uri"].endswith("/" + dist.archive.name)


def test_manifest_differs_only_in_sha256(dist: Dist, source_snapshot: Path):
    """build.sh changes the sha256 line of the manifest and nothing else."""
    sha256_line = re.compile(r"^\s*sha256:")
    built = dist.manifest.read_text(encoding="utf-8").splitlines()
    source = (source_snapshot / "krew-manifest.yaml").read_text(encoding="utf-8").splitlines()

    assert len(built) == len(source)
    for built_line, source_line in zip(built, source):
        if sha256_line.match(source_line):
            assert sha256_line.match(built_line)
        else:
            assert built_line == source_line


def test_build_is_reproducible(dist: Dist, source_snapshot: Path, tmp_path: Path):
    # A tools venv at another path checks that no build path reaches the output.
    second = run_build(source_snapshot, tmp_path / "dist", tools_venv=tmp_path / "tools-venv")

    assert second.zipapp.read_bytes() == dist.zipapp.read_bytes()
    assert second.archive.read_bytes() == dist.archive.read_bytes()
    assert second.manifest.read_bytes() == dist.manifest.read_bytes()
