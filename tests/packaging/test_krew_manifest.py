"""Check krew-manifest.yaml against krew's manifest rules, restated in Python.

The rules follow krew v0.4.3: internal/index/validation/validate.go (what
`kubectl krew install` enforces), internal/installation/semver (versions), and
cmd/validate-krew-manifest (what the krew-index repository checks on top:
every platform matches a supported os/arch, no two platforms overlap, and a
license file is installed). The index also requires the manifest's file
name to be <metadata.name>.yaml; test_krew_install.py runs krew's validator on
a copy named devspace.yaml and installs the archive with krew itself.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest
import yaml

from build_support import REPO_ROOT, Dist, archive_name, read_version

API_VERSION = "krew.googlecontainertools.github.com/v1alpha2"
SAFE_PLUGIN_NAME = re.compile(r"^[\w-]+$")
WINDOWS_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {
    f"LPT{i}" for i in range(1, 10)
}
SHA256 = re.compile(r"^[a-f0-9]{64}$")
# Semantic version as k8s.io/apimachinery/pkg/util/version.ParseSemantic
# accepts it, with the "v" prefix that krew requires.
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
SELECTOR_KEYS = {"os", "arch"}
# The os/arch pairs that cmd/validate-krew-manifest tries selectors against.
KREW_PLATFORMS = [
    (os_name, arch)
    for os_name, arches in {
        "windows": ["386", "amd64", "arm64"],
        "linux": ["386", "amd64", "arm", "arm64"],
        "darwin": ["386", "amd64", "arm64"],
    }.items()
    for arch in arches
]
LICENSE_FILE_NAMES = {"license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying", "copying.txt"}


def krew_manifest_errors(manifest: dict) -> list[str]:
    """Return the krew validation errors of a parsed plugin manifest."""
    errors = []
    if manifest.get("apiVersion") != API_VERSION:
        errors.append(f"apiVersion is {manifest.get('apiVersion')!r}, krew accepts only {API_VERSION!r}")
    if manifest.get("kind") != "Plugin":
        errors.append(f"kind is {manifest.get('kind')!r}, krew accepts only 'Plugin'")

    name = (manifest.get("metadata") or {}).get("name") or ""
    if not SAFE_PLUGIN_NAME.match(name) or name.upper() in WINDOWS_RESERVED_NAMES:
        errors.append(f"metadata.name {name!r} must match {SAFE_PLUGIN_NAME.pattern} and not be a Windows device name")

    spec = manifest.get("spec") or {}
    short_description = spec.get("shortDescription") or ""
    if not short_description:
        errors.append("spec.shortDescription is missing")
    if "\n" in short_description or "\r" in short_description:
        errors.append("spec.shortDescription contains a line break")
    if not SEMVER.match(spec.get("version") or ""):
        errors.append(f"spec.version {spec.get('version')!r} is not a semantic version with a 'v' prefix")

    platforms = spec.get("platforms") or []
    if not platforms:
        errors.append("spec.platforms is empty")
    for index, platform in enumerate(platforms):
        errors.extend(f"spec.platforms[{index}]: {error}" for error in platform_errors(platform))

    for os_name, arch in KREW_PLATFORMS:
        matching = [index for index, platform in enumerate(platforms) if selector_matches(platform.get("selector"), os_name, arch)]
        if len(matching) > 1:
            errors.append(f"spec.platforms {matching} overlap: all select {os_name}/{arch}")
    return errors


def platform_errors(platform: dict) -> list[str]:
    errors = []
    if not platform.get("uri"):
        errors.append("uri is missing")
    sha256 = platform.get("sha256")
    if not isinstance(sha256, str) or not SHA256.match(sha256):
        errors.append(f"sha256 {sha256!r} must be 64 lowercase hex digits")
    if not platform.get("bin"):
        errors.append("bin is missing")

    if "files" in platform:
        files = platform["files"]
        if not files:
            errors.append("files must be absent or non-empty")
        for operation in files or []:
            if not operation.get("from") or not operation.get("to"):
                errors.append(f"file operation {operation!r} needs both from and to")

    selector = platform.get("selector")
    if not selector:
        errors.append("selector is missing or empty")
    else:
        match_labels = selector.get("matchLabels")
        expressions = selector.get("matchExpressions")
        if "matchLabels" in selector and not match_labels:
            errors.append("selector.matchLabels is present but empty")
        if "matchExpressions" in selector and not expressions:
            errors.append("selector.matchExpressions is present but empty")
        keys = set(match_labels or {}) | {expression.get("key") for expression in expressions or []}
        if keys - SELECTOR_KEYS:
            errors.append(f"selector keys {sorted(keys - SELECTOR_KEYS)} are not supported, only os and arch")
        if not any(selector_matches(selector, os_name, arch) for os_name, arch in KREW_PLATFORMS):
            errors.append("selector matches no os/arch that krew supports")
    return errors


def selector_matches(selector: dict | None, os_name: str, arch: str) -> bool:
    """Evaluate a Kubernetes label selector against the labels os and arch."""
    if not selector:
        return False
    labels = {"os": os_name, "arch": arch}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def load_manifest(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def repo_manifest() -> dict:
    return load_manifest(REPO_ROOT / "krew-manifest.yaml")


def test_manifest_passes_krew_rules(repo_manifest: dict):
    assert krew_manifest_errors(repo_manifest) == []


def test_built_manifest_passes_krew_rules(dist: Dist):
    assert krew_manifest_errors(load_manifest(dist.manifest)) == []


@pytest.mark.parametrize(
    ("change", "expected_error"),
    [
        (lambda m: m.update(apiVersion="krew.googlecontainertools.github.com/v1alpha1"), "apiVersion"),
        (lambda m: m["metadata"].update(name="dev space"), "metadata.name"),
        (lambda m: m["metadata"].update(name="con"), "metadata.name"),
        (lambda m: m["spec"].update(version="0.1.0"), "spec.version"),
        (lambda m: m["spec"].update(version="v0.1"), "spec.version"),
        (lambda m: m["spec"].update(shortDescription="two\nlines"), "line break"),
        (lambda m: m["spec"]["platforms"][0].update(sha256="A" * 64), "sha256"),
        (lambda m: m["spec"]["platforms"][0].update(files=[]), "files"),
        (lambda m: m["spec"]["platforms"][0]["selector"]["matchLabels"].update(distro="debian"), "not supported"),
        (lambda m: m["spec"]["platforms"][0]["selector"]["matchLabels"].update(os="plan9"), "matches no os/arch"),
        (lambda m: m["spec"]["platforms"].append(m["spec"]["platforms"][0]), "overlap"),
    ],
)
def test_rules_reject_invalid_manifest(repo_manifest: dict, change, expected_error: str):
    change(repo_manifest)

    errors = krew_manifest_errors(repo_manifest)

    assert any(expected_error in error for error in errors), errors


def test_manifest_matches_package(repo_manifest: dict):
    version = read_version()
    spec = repo_manifest["spec"]
    (platform,) = spec["platforms"]

    assert repo_manifest["metadata"]["name"] == "devspace"
    assert spec["version"] == f"v{version}"
    assert platform["selector"] == {"matchLabels": {"os": "linux", "arch": "amd64"}}
    assert platform["uri"].startswith("https://")
    assert platform["uri"].endswith(f"/v{version}/{archive_name(version)}")
    assert spec["homepage"].startswith("https://")
    assert spec["description"].strip()
    assert "privileged" in spec["caveats"]


def test_manifest_installs_bin_and_license(repo_manifest: dict):
    """The file operations put the bin and a license file into the plugin directory."""
    (platform,) = repo_manifest["spec"]["platforms"]
    copied = {operation["from"]: operation["to"] for operation in platform["files"]}

    assert copied.get(platform["bin"]) == "."
    assert any(source.lower() in LICENSE_FILE_NAMES and target == "." for source, target in copied.items())


def test_file_operations_match_archive(dist: Dist):
    (platform,) = load_manifest(dist.manifest)["spec"]["platforms"]
    with tarfile.open(dist.archive, "r:gz") as archive:
        names = set(archive.getnames())

    for operation in platform["files"]:
        assert operation["from"] in names, f"{operation['from']} is not in {dist.archive.name}"
