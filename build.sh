#!/usr/bin/env bash
# Build the kubectl devspace release artifacts:
#   DIST_DIR/kubectl-devspace          shiv zipapp, runs on CPython 3.10-3.13, linux x86_64
#   DIST_DIR/kubectl-devspace_<version>_linux_amd64.tar.gz
#                                      krew archive with kubectl-devspace and LICENSE
#   DIST_DIR/krew-manifest.yaml        krew-manifest.yaml with the archive's sha256
# and write the archive's sha256 into krew-manifest.yaml in the repository.
#
# The same sources, requirements.txt and build-requirements.txt give the same
# bytes, because every timestamp comes from SOURCE_DATE_EPOCH, every file mode,
# owner and order is fixed, and every installed version is pinned.
set -euo pipefail
umask 022

readonly SUPPORTED_PYTHONS=(3.10 3.11 3.12 3.13)
# manylinux2014 is glibc 2.17, so the zipapp runs on glibc 2.17 or newer.
readonly WHEEL_PLATFORM=manylinux2014_x86_64
# 1980-01-01T00:00:00Z, the earliest time that a zip entry can store. A commit
# time would change the archive with every commit, including the commit that
# records its sha256 in krew-manifest.yaml.
readonly DEFAULT_SOURCE_DATE_EPOCH=315532800

usage() {
    cat <<EOF
Usage: ./build.sh [--dist-dir DIR] [--no-manifest-update]

Build the kubectl-devspace zipapp and its krew archive.

Options:
  --dist-dir DIR         directory for the artifacts (default: \$DIST_DIR, else dist/)
  --no-manifest-update   leave krew-manifest.yaml in the repository unchanged and
                         write the sha256 only into DIR/krew-manifest.yaml
  -h, --help             show this help

Environment:
  DIST_DIR               same as --dist-dir
  PYTHON                 CPython 3.10+ that runs the build tools (default: python3)
  TOOLS_VENV             virtualenv for the pinned build tools
                         (default: build/tools-venv in the repository)
  SOURCE_DATE_EPOCH      timestamp in seconds for every archive entry
                         (default: $DEFAULT_SOURCE_DATE_EPOCH, 1980-01-01)
EOF
}

fail() {
    echo "build.sh: error: $*" >&2
    exit 1
}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dist_dir=${DIST_DIR:-$REPO_ROOT/dist}
update_manifest=1

while (($#)); do
    case $1 in
        --dist-dir)
            (($# >= 2)) || fail "--dist-dir needs a directory argument"
            dist_dir=$2
            shift 2
            ;;
        --dist-dir=*)
            dist_dir=${1#--dist-dir=}
            shift
            ;;
        --no-manifest-update)
            update_manifest=0
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            fail "unknown argument: $1"
            ;;
    esac
done

start_seconds=$SECONDS
python=${PYTHON:-python3}
tools_venv=${TOOLS_VENV:-$REPO_ROOT/build/tools-venv}
tools_python=$tools_venv/bin/python
manifest=$REPO_ROOT/krew-manifest.yaml
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$DEFAULT_SOURCE_DATE_EPOCH}
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONDONTWRITEBYTECODE=1

command -v "$python" >/dev/null || fail "Python interpreter not found: $python (set PYTHON)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    fail "$python is older than Python 3.10; set PYTHON to Python 3.10 or newer"
[[ -f $REPO_ROOT/kubectl_devspace/cli.py ]] ||
    fail "kubectl_devspace/cli.py not found; the console script kubectl_devspace.cli:main needs it"
[[ -f $manifest ]] || fail "krew manifest not found: $manifest"

mkdir -p "$dist_dir"
dist_dir=$(cd "$dist_dir" && pwd)
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/kubectl-devspace-build.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

# --- Version ------------------------------------------------------------------

version=$("$python" - "$REPO_ROOT/kubectl_devspace/__init__.py" <<'PY'
import ast
import sys

tree = ast.parse(open(sys.argv[1], encoding="utf-8").read())
for node in tree.body:
    if isinstance(node, ast.Assign) and any(
        isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
    ):
        print(ast.literal_eval(node.value))
        break
else:
    sys.exit(f"__version__ not found in {sys.argv[1]}")
PY
)
manifest_version=$(sed -n 's/^  version:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}[[:space:]]*$/\1/p' "$manifest")
[[ $manifest_version == "v$version" ]] ||
    fail "spec.version in krew-manifest.yaml is '$manifest_version' but kubectl_devspace.__version__ is '$version'; set spec.version to v$version"
archive_name=kubectl-devspace_${version}_linux_amd64.tar.gz
echo "build.sh: building kubectl-devspace $version into $dist_dir"

# --- Build tools --------------------------------------------------------------

# The tools venv is reused while build-requirements.txt and the interpreter stay
# the same. flock serializes concurrent builds that share the venv.
mkdir -p "$(dirname "$tools_venv")"
tools_stamp=$(cat "$REPO_ROOT/build-requirements.txt" <("$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)
{
    flock 9
    if [[ ! -x $tools_python || $(cat "$tools_venv/.build-requirements.sha256" 2>/dev/null) != "$tools_stamp" ]]; then
        echo "build.sh: installing build tools into $tools_venv"
        "$python" -m venv --clear "$tools_venv"
        "$tools_python" -m pip install --quiet --requirement "$REPO_ROOT/build-requirements.txt"
        echo "$tools_stamp" >"$tools_venv/.build-requirements.sha256"
    fi
} 9>"$tools_venv.lock"

# --- Package wheel ------------------------------------------------------------

# Build from a clean copy: setuptools reuses stale files from an existing
# build/lib, and __pycache__ or *.egg-info in the tree must not reach the wheel.
mkdir -p "$work_dir/src" "$work_dir/wheel"
cp "$REPO_ROOT/setup.cfg" "$REPO_ROOT/pyproject.toml" "$REPO_ROOT/LICENSE" "$work_dir/src/"
(cd "$REPO_ROOT" && tar --create --exclude=__pycache__ --exclude='*.py[co]' kubectl_devspace) |
    tar --extract --directory "$work_dir/src"
"$tools_python" -m pip wheel --quiet --no-deps --no-build-isolation \
    --wheel-dir "$work_dir/wheel" "$work_dir/src"

# --- site-packages for every supported Python ---------------------------------

# pip installs from a local wheel by name with --no-index, so it writes no
# direct_url.json (which would contain the temporary path).
"$tools_python" -m pip install --quiet --no-deps --no-compile --no-index \
    --find-links "$work_dir/wheel" --target "$work_dir/site-app" kubectl-devspace=="$version"

for python_version in "${SUPPORTED_PYTHONS[@]}"; do
    echo "build.sh: downloading wheels for CPython $python_version"
    "$tools_python" -m pip install --quiet --no-deps --no-compile --no-warn-script-location \
        --only-binary=:all: --platform "$WHEEL_PLATFORM" --implementation cp \
        --python-version "$python_version" \
        --target "$work_dir/site-$python_version" \
        --requirement "$REPO_ROOT/requirements.txt"
done

# Merge the per-version trees into one site-packages. Extension modules carry
# the Python version in their file name (cpython-310-x86_64-linux-gnu.so), so
# they sit side by side. The other files of one pinned version are identical
# across the per-version trees, except in two expected cases. Files in
# *.dist-info differ because WHEEL and RECORD name the wheel tags. An *.abi3.so
# differs when a package ships a newer stable-ABI build for 3.11+, and the one
# that 3.10 gets also loads on 3.11+. In both cases the lowest version wins.
"$tools_python" - "$work_dir/site" "$work_dir/site-app" \
    "${SUPPORTED_PYTHONS[@]/#/$work_dir/site-}" <<'PY'
import filecmp
import re
import shutil
import sys
from pathlib import Path

target = Path(sys.argv[1])
sources = [Path(arg) for arg in sys.argv[2:]]
conflicts = []

for source in sources:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        # bin/ contains console scripts of dependencies with a shebang of the
        # build machine. The zipapp runs only its own entry point.
        if relative.parts[0] == "bin" or "__pycache__" in relative.parts or path.is_dir():
            continue
        destination = target / relative
        if not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            shutil.copymode(path, destination)
            continue
        if filecmp.cmp(path, destination, shallow=False):
            continue
        in_dist_info = relative.parts[0].endswith(".dist-info")
        if in_dist_info or path.name.endswith(".abi3.so"):
            continue
        conflicts.append(f"{relative} differs between {target} and {source}")

if conflicts:
    sys.exit("build.sh: error: conflicting files while merging site-packages:\n  " + "\n  ".join(conflicts))

# RECORD also lists the console scripts that pip put under ../../bin. Their
# hashes depend on the path of the build interpreter, and the zipapp does not
# contain them.
for record in target.glob("*.dist-info/RECORD"):
    lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("../", "bin/"))]
    if kept != lines:
        record.write_text("".join(kept), encoding="utf-8")

# Each version-tagged extension module must exist for every supported version,
# or the zipapp would fail to import it on the missing one.
tag_pattern = re.compile(r"^(?P<stem>.+)\.cpython-(?P<tag>3\d+)-x86_64-linux-gnu\.so$")
tags_by_module = {}
for path in target.rglob("*.so"):
    match = tag_pattern.match(path.name)
    if match:
        module = str(path.parent.relative_to(target) / match["stem"])
        tags_by_module.setdefault(module, set()).add(match["tag"])
expected_tags = {source.name.removeprefix("site-").replace(".", "") for source in sources[1:]}
missing = [
    f"{module}: missing cpython-{', cpython-'.join(sorted(expected_tags - tags))}"
    for module, tags in sorted(tags_by_module.items())
    if tags != expected_tags
]
if missing:
    sys.exit("build.sh: error: extension modules are missing for some Python versions:\n  " + "\n  ".join(missing))

# Fixed modes, independent of the umask and of the modes inside the wheels.
for path in target.rglob("*"):
    if path.is_dir():
        path.chmod(0o755)
    elif path.stat().st_mode & 0o111:
        path.chmod(0o755)
    else:
        path.chmod(0o644)
PY

# pip (26.3 here) evaluates environment markers against the interpreter that
# runs it, not the --python-version target, and --no-deps skips dependency checks. So check
# here that requirements.txt satisfies every Requires-Dist and Requires-Python
# for each supported version.
"$tools_python" - "$work_dir/site" "${SUPPORTED_PYTHONS[@]}" <<'PY'
import sys
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

site = Path(sys.argv[1])
installed = {}
for dist_info in sorted(site.glob("*.dist-info")):
    metadata = Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
    installed[canonicalize_name(metadata["Name"])] = (Version(metadata["Version"]), metadata)

problems = []
for python_version in sys.argv[2:]:
    environment = {
        "implementation_name": "cpython",
        "implementation_version": f"{python_version}.0",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": f"{python_version}.0",
        "python_version": python_version,
        "sys_platform": "linux",
        "extra": "",
    }
    for name, (version, metadata) in sorted(installed.items()):
        requires_python = metadata.get("Requires-Python")
        if requires_python and Version(f"{python_version}.0") not in SpecifierSet(requires_python):
            problems.append(f"CPython {python_version}: {name} {version} requires Python {requires_python}")
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            dependency = installed.get(canonicalize_name(requirement.name))
            if dependency is None:
                problems.append(f"CPython {python_version}: {name} {version} requires {requirement}, which requirements.txt lacks")
            elif not requirement.specifier.contains(dependency[0], prereleases=True):
                problems.append(f"CPython {python_version}: {name} {version} requires {requirement}, but requirements.txt pins {dependency[0]}")

if problems:
    sys.exit("build.sh: error: requirements.txt does not satisfy the dependencies:\n  " + "\n  ".join(problems))
PY

# --- Zipapp -------------------------------------------------------------------

# shiv runs the preamble after it unpacks site-packages and before the entry
# point, so an unsupported interpreter gets one line instead of an ImportError
# traceback from an extension module.
min_python=${SUPPORTED_PYTHONS[0]}
max_python=${SUPPORTED_PYTHONS[-1]}
cat >"$work_dir/check_python.py" <<PY
"""Exit with one line when the interpreter cannot load the bundled extensions."""
import platform
import sys

MIN_VERSION = (${min_python/./, })
MAX_VERSION = (${max_python/./, })

if (
    sys.implementation.name != "cpython"
    or not MIN_VERSION <= sys.version_info[:2] <= MAX_VERSION
    or sys.platform != "linux"
    or platform.machine() != "x86_64"
):
    sys.exit(
        "kubectl-devspace: error: requires CPython $min_python to $max_python on Linux x86_64, "
        "but this is %s %s on %s %s (%s); put a supported python3 first on PATH"
        % (
            platform.python_implementation(),
            platform.python_version(),
            platform.system(),
            platform.machine(),
            sys.executable,
        )
    )
PY

# shiv takes its timestamps from SOURCE_DATE_EPOCH and sorts the entries. Its
# default build id is the sha256 of site-packages, which is deterministic and
# also names the unpack directory under ~/.shiv, so a fixed id would make a
# changed zipapp reuse an old unpacked tree.
"$tools_venv/bin/shiv" \
    --site-packages "$work_dir/site" \
    --console-script kubectl-devspace \
    --python "/usr/bin/env python3" \
    --preamble "$work_dir/check_python.py" \
    --reproducible \
    --output-file "$work_dir/kubectl-devspace" >/dev/null

# --- krew archive -------------------------------------------------------------

cp "$REPO_ROOT/LICENSE" "$work_dir/LICENSE"
"$tools_python" - "$work_dir/$archive_name" "$SOURCE_DATE_EPOCH" \
    "$work_dir/LICENSE" 0644 "$work_dir/kubectl-devspace" 0755 <<'PY'
import gzip
import os
import sys
import tarfile

archive_path = sys.argv[1]
mtime = int(sys.argv[2])
members = sorted(zip(sys.argv[3::2], sys.argv[4::2]), key=lambda member: os.path.basename(member[0]))

# gzip: empty file name and mtime 0 in the header, fixed compression level.
with open(archive_path, "wb") as raw, gzip.GzipFile(
    filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0
) as compressed, tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as tar:
    for path, mode in members:
        info = tarfile.TarInfo(os.path.basename(path))
        info.size = os.path.getsize(path)
        info.mtime = mtime
        info.mode = int(mode, 8)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        with open(path, "rb") as stream:
            tar.addfile(info, stream)
PY

archive_sha256=$(sha256sum "$work_dir/$archive_name" | cut -d' ' -f1)

# --- Manifest -----------------------------------------------------------------

update_sha256() {
    "$tools_python" - "$1" "$2" "$archive_sha256" <<'PY'
import re
import sys

source, destination, sha256 = sys.argv[1:]
text = open(source, encoding="utf-8").read()
updated, count = re.subn(r'(?m)^(\s*sha256:[ \t]*).*$', lambda m: f'{m.group(1)}"{sha256}"', text)
if count != 1:
    sys.exit(f"build.sh: error: expected one sha256 line in {source}, found {count}")
with open(destination, "w", encoding="utf-8") as stream:
    stream.write(updated)
PY
}

mv "$work_dir/kubectl-devspace" "$work_dir/$archive_name" "$dist_dir/"
update_sha256 "$manifest" "$dist_dir/krew-manifest.yaml"
if ((update_manifest)); then
    update_sha256 "$manifest" "$manifest"
fi

zipapp_bytes=$(stat -c %s "$dist_dir/kubectl-devspace")
archive_bytes=$(stat -c %s "$dist_dir/$archive_name")
echo "build.sh: $dist_dir/kubectl-devspace ($zipapp_bytes bytes)"
echo "build.sh: $dist_dir/$archive_name ($archive_bytes bytes, sha256 $archive_sha256)"
if ((update_manifest)); then
    echo "build.sh: wrote sha256 into $manifest"
fi
echo "build.sh: done in $((SECONDS - start_seconds)) s"
