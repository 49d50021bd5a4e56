"""Run the zipapp on each CPython found on this machine.

Supported versions (3.10-3.13) must run the CLI and load every bundled
extension module. Older versions must exit with one line on stderr. A version
that is not installed here is skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from build_support import SUPPORTED_PYTHONS, UNSUPPORTED_PYTHONS, Dist, require_cpython, run_captured as run_zipapp


# Runs inside the zipapp (SHIV_INTERPRETER=1) and prints a JSON report.
PROBE = r'''
import importlib
import importlib.machinery
import json
import sys
from pathlib import Path

import kubectl_devspace

site_packages = Path(kubectl_devspace.__file__).resolve().parent.parent
version_suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
extension_paths = sorted(site_packages.rglob("*" + version_suffix)) + sorted(site_packages.rglob("*.abi3.so"))
extensions = {}
for path in extension_paths:
    relative = path.relative_to(site_packages)
    name = ".".join(relative.parts[:-1] + (path.name.split(".")[0],))
    try:
        module = importlib.import_module(name)
        extensions[name] = str(Path(module.__file__).resolve())
    except Exception as error:
        extensions[name] = "import failed: " + repr(error)

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

key = ec.generate_private_key(ec.SECP256R1())
signature = key.sign(b"probe", ec.ECDSA(hashes.SHA256()))
key.public_key().verify(signature, b"probe", ec.ECDSA(hashes.SHA256()))

import yaml

loaded = yaml.load("ports: [2376, 22]", Loader=yaml.CSafeLoader)

import click
import kubernetes.client

print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "site_packages": str(site_packages),
    "extensions": extensions,
    "yaml_with_libyaml": yaml.__with_libyaml__,
    "yaml_loaded": loaded,
    "cffi_loaded": "_cffi_backend" in sys.modules,
    "module_files": {
        name: str(Path(sys.modules[name].__file__).resolve())
        for name in ["cryptography", "yaml", "kubernetes", "click", "_cffi_backend"]
    },
}))
'''


def zipapp_environment(shiv_root: Path, **extra: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SHIV_") and name not in ("PYTHONPATH", "PYTHONHOME")
    }
    environment["SHIV_ROOT"] = str(shiv_root)
    environment.update(extra)
    return environment


@pytest.mark.parametrize("version", SUPPORTED_PYTHONS)
def test_help_runs_on_python(version: str, dist: Dist, shiv_root: Path):
    interpreter = require_cpython(version)

    result = run_zipapp([interpreter, str(dist.zipapp), "--help"], zipapp_environment(shiv_root))

    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("version", SUPPORTED_PYTHONS)
def test_shebang_runs_python3_on_path(version: str, dist: Dist, shiv_root: Path, tmp_path: Path):
    interpreter = require_cpython(version)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(interpreter)
    environment = zipapp_environment(shiv_root, PATH=f"{bin_dir}:/usr/bin:/bin")

    result = run_zipapp([str(dist.zipapp), "--help"], environment)

    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


@pytest.mark.parametrize("version", SUPPORTED_PYTHONS)
def test_bundled_extensions_load_on_python(version: str, dist: Dist, shiv_root: Path):
    interpreter = require_cpython(version)
    environment = zipapp_environment(shiv_root, SHIV_INTERPRETER="1")

    result = run_zipapp([interpreter, str(dist.zipapp), "-c", PROBE], environment)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["version"] == version
    site_packages = report["site_packages"]
    assert site_packages.startswith(str(shiv_root.resolve()))
    extensions = report["extensions"]
    failures = {name: path for name, path in extensions.items() if path.startswith("import failed")}
    assert failures == {}
    tag = version.replace(".", "")
    for name in ["_cffi_backend", "yaml._yaml", "pydantic_core._pydantic_core"]:
        assert extensions[name].endswith(f".cpython-{tag}-x86_64-linux-gnu.so"), name
    assert "cryptography.hazmat.bindings._rust" in extensions
    assert report["yaml_with_libyaml"] is True
    assert report["yaml_loaded"] == {"ports": [2376, 22]}
    assert report["cffi_loaded"] is True
    for name, path in report["module_files"].items():
        assert path.startswith(site_packages), f"{name} was imported from {path}, outside the zipapp"


@pytest.mark.parametrize("version", UNSUPPORTED_PYTHONS)
def test_old_python_gets_one_line_error(version: str, dist: Dist, shiv_root: Path):
    interpreter = require_cpython(version)

    result = run_zipapp([interpreter, str(dist.zipapp), "--help"], zipapp_environment(shiv_root))

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kubectl-devspace: error: requires CPython 3.10 to 3.13 on Linux x86_64")
    assert f"CPython {version}." in lines[0]
