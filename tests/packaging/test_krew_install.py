"""Install the built archive with krew itself and run the installed plugin.

krew and validate-krew-manifest v0.4.3 are built from the Go module proxy with
`go install` into ~/.cache/kubectl-devspace/krew-v0.4.3/bin (KREW_TOOLS_DIR
overrides the directory) the first time. The tests skip only when that build
is impossible: no go command, or `go install` fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from build_support import Dist, run_captured as run

KREW_MODULE_VERSION = "v0.4.3"
KREW_PACKAGES = {
    "krew": f"sigs.k8s.io/krew/cmd/krew@{KREW_MODULE_VERSION}",
    "validate-krew-manifest": f"sigs.k8s.io/krew/cmd/validate-krew-manifest@{KREW_MODULE_VERSION}",
}
GO_BUILD_TIMEOUT_SECONDS = 900


@pytest.fixture(scope="session")
def krew_tools() -> Path:
    """Directory that contains the krew and validate-krew-manifest binaries."""
    default = Path.home() / ".cache" / "kubectl-devspace" / f"krew-{KREW_MODULE_VERSION}" / "bin"
    tools_dir = Path(os.environ.get("KREW_TOOLS_DIR", default))
    missing = [name for name in KREW_PACKAGES if not os.access(tools_dir / name, os.X_OK)]
    if not missing:
        return tools_dir

    go = shutil.which("go")
    if go is None:
        pytest.skip(f"go not found on PATH, so krew {KREW_MODULE_VERSION} cannot be built")
    tools_dir.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ, GOBIN=str(tools_dir), GOFLAGS="-buildvcs=false")
    try:
        result = subprocess.run(
            [go, "install", *(KREW_PACKAGES[name] for name in missing)],
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GO_BUILD_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"go install of krew {KREW_MODULE_VERSION} timed out after {GO_BUILD_TIMEOUT_SECONDS} s")
    if result.returncode != 0:
        pytest.skip(f"go install of krew {KREW_MODULE_VERSION} failed: {result.stderr.strip()[-2000:]}")
    return tools_dir


def krew_environment(krew_root: Path, **extra: str) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("KREW_", "SHIV_"))}
    environment.update(KREW_ROOT=str(krew_root), KREW_NO_UPGRADE_CHECK="1", KREW_OS="linux", KREW_ARCH="amd64")
    environment.update(extra)
    return environment


def test_krew_validator_accepts_manifest(krew_tools: Path, dist: Dist, tmp_path: Path):
    # The index requires the file to be named <metadata.name>.yaml.
    manifest = tmp_path / "devspace.yaml"
    shutil.copy(dist.manifest, manifest)

    result = run(
        [str(krew_tools / "validate-krew-manifest"), "-manifest", str(manifest), "-skip-install"],
        krew_environment(tmp_path / "krew-root"),
    )

    assert result.returncode == 0, result.stderr


def test_krew_installs_archive(krew_tools: Path, dist: Dist, tmp_path: Path):
    krew_root = tmp_path / "krew-root"
    environment = krew_environment(krew_root, SHIV_ROOT=str(tmp_path / "shiv-root"))

    result = run(
        [str(krew_tools / "krew"), "install", f"--manifest={dist.manifest}", f"--archive={dist.archive}"],
        environment,
    )

    assert result.returncode == 0, result.stderr
    version = yaml.safe_load(dist.manifest.read_text(encoding="utf-8"))["spec"]["version"]
    plugin_dir = krew_root / "store" / "devspace" / version
    assert sorted(path.name for path in plugin_dir.iterdir()) == ["LICENSE", "kubectl-devspace"]
    link = krew_root / "bin" / "kubectl-devspace"
    assert link.resolve() == (plugin_dir / "kubectl-devspace").resolve()

    result = run([str(link), "--help"], environment)

    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_kubectl_finds_installed_plugin(krew_tools: Path, dist: Dist, tmp_path: Path):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not found on PATH")
    krew_root = tmp_path / "krew-root"
    environment = krew_environment(krew_root, SHIV_ROOT=str(tmp_path / "shiv-root"))
    install = run(
        [str(krew_tools / "krew"), "install", f"--manifest={dist.manifest}", f"--archive={dist.archive}"],
        environment,
    )
    assert install.returncode == 0, install.stderr
    environment["PATH"] = f"{krew_root / 'bin'}{os.pathsep}{environment.get('PATH', '')}"

    result = run([kubectl, "devspace", "--help"], environment)

    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_krew_rejects_wrong_sha256(krew_tools: Path, dist: Dist, tmp_path: Path):
    manifest = yaml.safe_load(dist.manifest.read_text(encoding="utf-8"))
    manifest["spec"]["platforms"][0]["sha256"] = "0" * 64
    wrong_manifest = tmp_path / "devspace.yaml"
    wrong_manifest.write_text(yaml.safe_dump(manifest), encoding="utf-8")

    result = run(
        [str(krew_tools / "krew"), "install", f"--manifest={wrong_manifest}", f"--archive={dist.archive}"],
        krew_environment(tmp_path / "krew-root"),
    )

    assert result.returncode != 0
    assert "checksum does not match" in result.stderr
