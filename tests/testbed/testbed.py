"""Start, check and stop the local Kubernetes control plane of the integration tests.

The testbed runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
the kwok controller and kubelet-proxy as background processes that listen on
127.0.0.1 only. kwok plays the kubelet of the fake nodes: it moves pods to
Running, completes pods owned by Jobs and serves container logs from files.
kubelet-proxy (tools/kwok/kubelet-proxy) is the nodes' kubelet endpoint: it runs
`kubectl exec` commands as local processes on this machine and forwards every
other kubelet request to kwok.

Everything a testbed instance owns lives in its state directory, TESTBED_DIR
(default ${XDG_CACHE_HOME:-~/.cache}/kubectl-devspace-testbed/run). The `up`
and `down` scripts next to this file are the command line entry points.
This module uses the Python standard library only, plus the openssl command.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Start order. `down` stops the components in reverse order.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubelet-proxy")
PORT_NAMES = ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok",
              "kubelet-proxy")

SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"

# kwok manages the nodes that carry this annotation, so n4 stays NotReady.
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"
# kwok reads these kinds from the API instead of from its --config file (kind: plural).
KWOK_CRDS = {"ClusterLogs": "clusterlogs", "Logs": "logs"}

RESTRICTED_USER = "restricted-user"
USER_CLUSTER_ROLE = "devspace-user"
NODE_READER_CLUSTER_ROLE = "devspace-node-reader"

CERT_DAYS = 3650
START_TIMEOUT_SECONDS = 180


class TestbedError(RuntimeError):
    """A failed testbed step. The message names the step and the log to read."""


def log(message: str) -> None:
    print(f"testbed: {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    if os.environ.get("TESTBED_CACHE"):
        return Path(os.environ["TESTBED_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "kubectl-devspace-testbed"


def default_state_dir() -> Path:
    return Path(os.environ.get("TESTBED_DIR") or cache_root() / "run").resolve()


class Layout:
    """Paths inside one testbed state directory."""

    def __init__(self, root: Path):
        self.root = root
        self.pki = root / "pki"
        self.logs = root / "logs"
        self.etcd_data = root / "etcd-data"
        self.pod_logs = root / "pod-logs"
        self.kwok_home = root / "kwok-home"
        self.exec_dir = root / "exec"
        self.bin = root / "bin"
        self.lock = root / "lock"
        self.ports = root / "ports.json"
        self.processes = root / "processes.json"
        self.info = root / "testbed.json"
        self.kwok_config = root / "kwok.yaml"
        self.admin_kubeconfig = root / "admin.kubeconfig"
        self.restricted_kubeconfig = root / "restricted.kubeconfig"

    def kubeconfig(self, user: str) -> Path:
        return self.root / f"{user}.kubeconfig"

    def component_log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


@contextlib.contextmanager
def locked(layout: Layout):
    """Hold an exclusive lock on the state directory, so concurrent `up` calls wait."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_json(path: Path, default):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


# --- binaries ---------------------------------------------------------------


def build_binaries() -> Path:
    """Run the build script, which builds only what the cache lacks, and return the binary directory."""
    result = subprocess.run([str(HERE / "build")], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise TestbedError(f"building the testbed binaries failed with exit code {result.returncode}")
    return Path(result.stdout.strip().splitlines()[-1])


def link_binaries(layout: Layout, bin_dir: Path) -> None:
    """Point <state>/bin at the binary directory of this build."""
    link = layout.bin
    if link.is_symlink() and Path(os.readlink(link)) == bin_dir:
        return
    tmp = layout.root / ".bin.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(bin_dir)
    os.replace(tmp, link)


# --- ports ------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Go servers set SO_REUSEADDR too, so connections in TIME_WAIT from an
        # earlier start do not make the port look busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(layout: Layout) -> dict[str, int]:
    """Return the ports of this instance, keeping the previous ones while they are free.

    TESTBED_PORT_BASE=N assigns N, N+1, ... in PORT_NAMES order. Without it the
    kernel picks free ephemeral ports, which never clash with standard ports.
    """
    base = os.environ.get("TESTBED_PORT_BASE")
    if base:
        ports = {name: int(base) + index for index, name in enumerate(PORT_NAMES)}
    else:
        previous = read_json(layout.ports, {})
        if set(previous) == set(PORT_NAMES) and all(port_is_free(p) for p in previous.values()):
            return previous
        sockets = []
        ports = {}
        try:
            for name in PORT_NAMES:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", 0))
                ports[name] = sock.getsockname()[1]
        finally:
            for sock in sockets:
                sock.close()
    busy = [f"{name}={port}" for name, port in ports.items() if not port_is_free(port)]
    if busy:
        raise TestbedError(f"ports already in use on 127.0.0.1: {', '.join(busy)}. "
                           "Set TESTBED_PORT_BASE to another range.")
    write_atomic(layout.ports, json.dumps(ports, indent=2) + "\n")
    return ports


# --- certificates -----------------------------------------------------------


def openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise TestbedError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def issue_certificate(pki: Path, name: str, subject: str, usage: str, alt_names: str = "") -> None:
    """Write <name>.key and <name>.crt signed by the testbed CA, unless both exist."""
    key, crt = pki / f"{name}.key", pki / f"{name}.crt"
    if key.exists() and crt.exists():
        return
    csr, ext = pki / f"{name}.csr", pki / f"{name}.ext"
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-subj", subject, "-out", str(csr))
    extensions = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
    ]
    if alt_names:
        extensions.append(f"subjectAltName={alt_names}")
    ext.write_text("\n".join(extensions) + "\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"), "-CAkey", str(pki / "ca.key"),
            "-CAcreateserial", "-days", str(CERT_DAYS), "-sha256", "-extfile", str(ext), "-out", str(crt))
    csr.unlink()
    ext.unlink()
    os.chmod(key, 0o600)


def ensure_pki(layout: Layout) -> None:
    """Create the CA, the serving and client certificates and the service account key once."""
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    os.chmod(pki, 0o700)
    if not (pki / "ca.crt").exists():
        log("generating certificates")
        openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"), "-days", str(CERT_DAYS),
                "-subj", "/CN=kubectl-devspace-testbed-ca",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
    if not (pki / "sa.key").exists():
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pki / "sa.key"))
        openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
        os.chmod(pki / "sa.key", 0o600)

    apiserver_names = ",".join([
        "IP:127.0.0.1", f"IP:{SERVICE_IP}", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local",
    ])
    issue_certificate(pki, "kube-apiserver", "/CN=kube-apiserver", "serverAuth", apiserver_names)
    issue_certificate(pki, "kwok-serving", "/CN=kwok", "serverAuth", "IP:127.0.0.1,DNS:localhost")
    # system:masters is the built-in superuser group. The testbed's own parts use
    # it where a narrower role buys nothing in a throwaway cluster.
    issue_certificate(pki, "kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "clientAuth")
    issue_certificate(pki, "admin", "/O=system:masters/CN=testbed-admin", "clientAuth")
    issue_certificate(pki, "kwok", "/O=system:masters/CN=kwok-controller", "clientAuth")
    issue_certificate(pki, "kube-controller-manager", "/CN=system:kube-controller-manager", "clientAuth")
    issue_certificate(pki, "kube-scheduler", "/CN=system:kube-scheduler", "clientAuth")
    issue_certificate(pki, RESTRICTED_USER, f"/CN={RESTRICTED_USER}", "clientAuth")


def write_kubeconfig(path: Path, pki: Path, server: str, user: str, cert_name: str) -> None:
    """Write a kubeconfig with embedded certificates. JSON is valid kubeconfig YAML."""
    import base64

    def encoded(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testbed", "cluster": {
            "server": server, "certificate-authority-data": encoded("ca.crt")}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": encoded(f"{cert_name}.crt"),
            "client-key-data": encoded(f"{cert_name}.key")}}],
        "contexts": [{"name": f"{user}@testbed", "context": {
            "cluster": "testbed", "user": user, "namespace": "default"}}],
        "current-context": f"{user}@testbed",
    }
    write_atomic(path, json.dumps(config, indent=2) + "\n", mode=0o600)


# --- processes --------------------------------------------------------------


def process_stat(pid: int) -> tuple[str, str] | None:
    """Return the state (field 3) and start time (field 22, clock ticks after boot) of /proc/PID/stat.

    Returns None when the process is gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in field 2 may contain spaces, so split after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], fields[19]


def process_start_time(pid: int) -> str | None:
    stat = process_stat(pid)
    return stat[1] if stat else None


def process_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw.decode(errors="replace").split("\0")[:-1]


def process_alive(pid: int) -> bool:
    """Return True while process PID exists and is not a zombie."""
    stat = process_stat(pid)
    return stat is not None and stat[0] != "Z"


def record_matches(record: dict) -> bool:
    """Check that the recorded PID still runs the process that `up` started, not a reused PID."""
    pid = record["pid"]
    stat = process_stat(pid)
    if stat is None:
        return False
    state, start_time = stat
    # A zombie keeps its stat entry until its parent reaps it.
    if state == "Z" or start_time != record["start_time"]:
        return False
    return process_cmdline(pid) == record["argv"]


def load_records(layout: Layout) -> dict[str, dict]:
    return read_json(layout.processes, {})


def save_records(layout: Layout, records: dict[str, dict]) -> None:
    write_atomic(layout.processes, json.dumps(records, indent=2) + "\n")


def start_process(layout: Layout, records: dict, name: str, argv: list[str],
                  cwd: Path | None = None, env: dict | None = None) -> None:
    layout.logs.mkdir(parents=True, exist_ok=True)
    log_path = layout.component_log(name)
    with open(log_path, "ab") as log_file:
        log_file.write(f"\n==== testbed: starting {name} at {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode())
        log_file.flush()
        # A new session keeps the component alive after `up` exits and out of
        # the terminal's process group, so Ctrl-C in the shell does not stop it.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                   cwd=str(cwd or layout.root), env=env, start_new_session=True)
    # Popen can return while the kernel is still setting up the new program:
    # until then /proc/PID/cmdline is empty, and a record compared against it
    # would not match. So the record is made once the command line shows.
    start_time = process_start_time(process.pid)
    for _ in range(200):
        if process_cmdline(process.pid) == argv or process.poll() is not None:
            break
        time.sleep(0.01)
    records[name] = {"pid": process.pid, "start_time": start_time, "argv": argv, "log": str(log_path)}
    save_records(layout, records)
    log(f"started {name} (pid {process.pid}, log {log_path})")


def stop_process(name: str, record: dict, timeout: float = 20.0) -> None:
    """Send SIGTERM to a recorded process, then SIGKILL after `timeout` seconds."""
    if not record_matches(record):
        return
    pid = record["pid"]
    log(f"stopping {name} (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not record_matches(record):
            return
        time.sleep(0.1)
    log(f"{name} (pid {pid}) did not exit within {timeout:.0f}s after SIGTERM; sending SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and record_matches(record):
        time.sleep(0.1)


def stop_all(layout: Layout) -> None:
    records = load_records(layout)
    for name in reversed(COMPONENTS):
        if name in records:
            stop_process(name, records[name])
            del records[name]
            save_records(layout, records)


def log_tail(path: str | Path, lines: int = 25) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


# --- health checks ----------------------------------------------------------


def http_get(url: str, context: ssl.SSLContext | None = None, timeout: float = 3.0) -> tuple[int, str]:
    # An empty ProxyHandler ignores http_proxy and https_proxy, which must not
    # apply to 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def admin_tls_context(layout: Layout) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    context.load_cert_chain(str(layout.pki / "admin.crt"), str(layout.pki / "admin.key"))
    return context


def self_signed_tls_context() -> ssl.SSLContext:
    # kube-controller-manager and kube-scheduler serve /healthz with a certificate
    # they generate at start, which no CA of the testbed signed.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def health_check(layout: Layout, name: str, ports: dict[str, int]) -> bool:
    """Return True when the component's health endpoint returns 200 and "ok"."""
    try:
        if name == "etcd":
            status, body = http_get(f"http://127.0.0.1:{ports['etcd']}/health")
            return status == 200 and json.loads(body).get("health") == "true"
        if name == "kube-apiserver":
            status, body = http_get(f"https://127.0.0.1:{ports[name]}/readyz", admin_tls_context(layout))
        elif name == "kwok":
            context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
            status, body = http_get(f"https://127.0.0.1:{ports[name]}/healthz", context)
        elif name == "kubelet-proxy":
            # kubelet-proxy forwards /healthz to kwok and requires a client certificate.
            status, body = http_get(f"https://127.0.0.1:{ports[name]}/healthz", admin_tls_context(layout))
        else:
            status, body = http_get(f"https://127.0.0.1:{ports[name]}/healthz", self_signed_tls_context())
    except (OSError, ValueError):
        return False
    return status == 200 and body.strip() == "ok"


def wait_healthy(layout: Layout, name: str, ports: dict[str, int], records: dict,
                 timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health_check(layout, name, ports):
            log(f"{name} is healthy")
            return
        if name in records and not process_alive(records[name]["pid"]):
            raise TestbedError(f"{name} exited during start; last lines of {records[name]['log']}:\n"
                               f"{log_tail(records[name]['log'])}")
        time.sleep(0.5)
    log_path = layout.component_log(name)
    raise TestbedError(f"{name} was not healthy after {timeout:.0f}s; last lines of {log_path}:\n{log_tail(log_path)}")


# --- component command lines ------------------------------------------------


def component_argv(layout: Layout, name: str, ports: dict[str, int]) -> list[str]:
    binary = str(layout.bin / name)
    pki = layout.pki
    if name == "etcd":
        client = f"http://127.0.0.1:{ports['etcd']}"
        peer = f"http://127.0.0.1:{ports['etcd-peer']}"
        return [
            binary, "--name=testbed", f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=testbed={peer}", "--initial-cluster-state=new",
            # Test data is disposable, so skipping fsync trades durability for speed.
            "--unsafe-no-fsync=true", "--log-level=warn",
        ]
    if name == "kube-apiserver":
        return [
            binary,
            f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={ports[name]}",
            f"--tls-cert-file={pki / 'kube-apiserver.crt'}", f"--tls-private-key-file={pki / 'kube-apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # PodSecurity is enabled by default, so NodeRestriction is the one plugin added here.
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            # Logs and exec go to the node's kubelet endpoint, kubelet-proxy at 127.0.0.1.
            f"--kubelet-client-certificate={pki / 'kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP",
            # The endpoint reconciler would publish 127.0.0.1 for the kubernetes
            # Service, which Endpoints validation rejects as a loopback address.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ]
    if name == "kube-controller-manager":
        kubeconfig = layout.kubeconfig(name)
        return [
            binary, f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={ports[name]}", f"--cert-dir={layout.root / 'kcm-serving'}",
            "--leader-elect=false", "--controllers=*",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--cluster-name=testbed", "--profiling=false",
        ]
    if name == "kube-scheduler":
        kubeconfig = layout.kubeconfig(name)
        return [
            binary, f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={ports[name]}",
            f"--cert-dir={layout.root / 'scheduler-serving'}",
            "--leader-elect=false", "--profiling=false",
        ]
    if name == "kwok":
        return [
            binary, f"--kubeconfig={layout.kubeconfig('kwok')}", f"--config={layout.kwok_config}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_ANNOTATION_VALUE}",
            # Nodes publish kubelet-proxy's port as their kubelet port, and kwok's
            # own server listens on another port behind it.
            "--node-ip=127.0.0.1", f"--node-port={ports['kubelet-proxy']}",
            f"--server-address=127.0.0.1:{ports['kwok']}",
            f"--tls-cert-file={pki / 'kwok-serving.crt'}", f"--tls-private-key-file={pki / 'kwok-serving.key'}",
            f"--cidr={POD_CIDR}",
            f"--enable-crds={','.join(KWOK_CRDS)}",
        ]
    if name == "kubelet-proxy":
        return [
            binary, f"--listen=127.0.0.1:{ports[name]}", f"--upstream=https://127.0.0.1:{ports['kwok']}",
            f"--tls-cert-file={pki / 'kwok-serving.crt'}", f"--tls-private-key-file={pki / 'kwok-serving.key'}",
            f"--client-ca-file={pki / 'ca.crt'}", f"--exec-workdir={layout.exec_dir}",
        ]
    raise ValueError(f"unknown component {name!r}")


def component_env(layout: Layout, name: str) -> dict[str, str] | None:
    if name != "kwok":
        return None
    # kwok also loads ~/.kwok/kwok.yaml when it exists, so it gets a HOME of its own.
    env = dict(os.environ)
    env["HOME"] = str(layout.kwok_home)
    return env


# Without this KwokConfiguration, kwok v0.8.0 renewed no node Leases, so the
# node lifecycle controller marked the nodes NotReady about once a minute.
# kwok applies no defaults to a KwokConfiguration read from --config, so every
# option it needs is set here: kwok v0.8.0's defaults, with profiling off.
KWOK_CONFIGURATION = """apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  nodeLeaseDurationSeconds: 40
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enableDebuggingHandlers: true
  enableProfilingHandler: false
  enableContentionProfiling: false"""


def write_kwok_config(layout: Layout) -> None:
    """Write the kwok --config file: its options and the node and pod Stages shipped with kwok."""
    stage_dir = layout.bin / "kwok-manifests" / "stage"
    stages = [path.read_text().strip() for path in sorted(stage_dir.glob("*.yaml"))]
    if not stages:
        raise TestbedError(f"no kwok Stage manifests in {stage_dir}; remove the build cache and run up again")
    write_atomic(layout.kwok_config, "\n---\n".join([KWOK_CONFIGURATION, *stages]) + "\n")


# --- cluster objects --------------------------------------------------------


def fake_node(name: str, hostname: str, managed: bool = True, unschedulable: bool = False,
              extra_resources: dict[str, str] | None = None, ready: bool = True) -> dict:
    """Return a Node manifest. The status is kept because creating a Node stores it as given."""
    resources = {"cpu": "64", "memory": "256Gi", "pods": "250", "ephemeral-storage": "1Ti"}
    resources.update(extra_resources or {})
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": hostname,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
            "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE} if managed else {},
        },
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"capacity": resources, "allocatable": resources},
    }
    if not ready:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        node["status"]["conditions"] = [{
            "type": "Ready", "status": "False", "reason": "KubeletNotReady",
            "message": "testbed node without a kubelet", "lastHeartbeatTime": now, "lastTransitionTime": now,
        }]
    return node


def fake_nodes() -> list[dict]:
    return [
        fake_node("n1", "n1"),
        fake_node("n2", "n2-host"),
        fake_node("n3", "n3", unschedulable=True),
        fake_node("n4", "n4", managed=False, ready=False),
        fake_node("gpu1", "gpu1", extra_resources={"nvidia.com/gpu": "4"}),
    ]


READY_NODES = ("n1", "n2", "n3", "gpu1")


def rbac_objects() -> list[dict]:
    all_verbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
    read_verbs = ["get", "list", "watch"]
    user_rules = [
        {"apiGroups": [""], "verbs": all_verbs, "resources": [
            "pods", "secrets", "serviceaccounts", "persistentvolumeclaims", "configmaps", "services"]},
        {"apiGroups": [""], "verbs": read_verbs, "resources": ["pods/log", "events"]},
        {"apiGroups": [""], "verbs": ["get", "create"], "resources": ["pods/exec", "pods/attach", "pods/portforward"]},
        {"apiGroups": ["events.k8s.io"], "verbs": read_verbs, "resources": ["events"]},
        {"apiGroups": ["apps"], "verbs": all_verbs, "resources": ["statefulsets", "statefulsets/scale"]},
        {"apiGroups": ["batch"], "verbs": all_verbs, "resources": ["jobs"]},
        {"apiGroups": ["networking.k8s.io"], "verbs": all_verbs, "resources": ["networkpolicies"]},
    ]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": USER_CLUSTER_ROLE},
            "rules": user_rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": NODE_READER_CLUSTER_ROLE},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": read_verbs}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{NODE_READER_CLUSTER_ROLE}:{RESTRICTED_USER}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": NODE_READER_CLUSTER_ROLE},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RESTRICTED_USER}],
        },
    ]


def restricted_role_binding(namespace: str) -> dict:
    """Return the RoleBinding that gives the restricted user the devspace-user role in `namespace`."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": f"{USER_CLUSTER_ROLE}:{RESTRICTED_USER}", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": USER_CLUSTER_ROLE},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": RESTRICTED_USER}],
    }


def kubectl(layout: Layout, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess:
    argv = [str(layout.bin / "kubectl"), f"--kubeconfig={layout.admin_kubeconfig}", *args]
    result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise TestbedError(f"kubectl {' '.join(args)} failed with exit code {result.returncode}: "
                           f"{result.stderr.strip()}")
    return result


def apply_objects(layout: Layout, objects: list[dict]) -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    kubectl(layout, "apply", "--server-side", "--force-conflicts", "--field-manager=kubectl-devspace-testbed",
            "-f", "-", input=manifest)


def ensure_nodes(layout: Layout, kubelet_port: int) -> None:
    """Create the fake nodes that are missing and point the others at the current kubelet port."""
    existing = set(kubectl(layout, "get", "nodes", "-o", "name").stdout.split())
    missing = [node for node in fake_nodes() if f"node/{node['metadata']['name']}" not in existing]
    if missing:
        # `create` keeps the status in the manifest, so nodes start with their capacity.
        kubectl(layout, "create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": missing}))
    # kwok sets addresses and the kubelet port only on nodes that are not Ready
    # yet, and nodes kept in etcd from an earlier start were seen without
    # addresses after a restart, so both are set here.
    for name in READY_NODES:
        if f"node/{name}" in existing:
            patch = json.dumps({"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
            }})
            kubectl(layout, "patch", "node", name, "--subresource=status", "--type=merge", "-p", patch)


def bootstrap_objects(layout: Layout, ports: dict[str, int]) -> None:
    """Create the kwok CRDs, the RBAC roles and the fake nodes. Running it again changes nothing."""
    log("creating kwok CRDs, RBAC roles and fake nodes")
    crd_dir = layout.bin / "kwok-manifests" / "crd"
    for plural in KWOK_CRDS.values():
        kubectl(layout, "apply", "--server-side", "--force-conflicts", "--field-manager=kubectl-devspace-testbed",
                "-f", str(crd_dir / f"kwok.x-k8s.io_{plural}.yaml"))
    crd_names = [f"crd/{plural}.kwok.x-k8s.io" for plural in KWOK_CRDS.values()]
    kubectl(layout, "wait", "--for=condition=Established", "--timeout=60s", *crd_names)
    apply_objects(layout, rbac_objects())
    ensure_nodes(layout, ports["kubelet-proxy"])


def wait_for_nodes(layout: Layout, timeout: float = 90) -> None:
    names = [f"node/{name}" for name in READY_NODES]
    kubectl(layout, "wait", "--for=condition=Ready", f"--timeout={int(timeout)}s", *names, timeout=timeout + 30)
    log(f"nodes {', '.join(READY_NODES)} are Ready")


def wait_for_default_service_account(layout: Layout, timeout: float = 60) -> None:
    """Wait until the service account controller created default/default, which pods need."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kubectl(layout, "get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise TestbedError(f"serviceaccount default/default missing after {timeout:.0f}s; "
                       f"see {layout.component_log('kube-controller-manager')}")


# --- up, down, status -------------------------------------------------------


def write_info(layout: Layout, ports: dict[str, int]) -> None:
    info = {
        "state_dir": str(layout.root),
        "admin_kubeconfig": str(layout.admin_kubeconfig),
        "restricted_kubeconfig": str(layout.restricted_kubeconfig),
        "restricted_user": RESTRICTED_USER,
        "user_cluster_role": USER_CLUSTER_ROLE,
        "kubectl": str(layout.bin / "kubectl"),
        "bin_dir": str(layout.bin.resolve()),
        "pod_logs_dir": str(layout.pod_logs),
        "server": f"https://127.0.0.1:{ports['kube-apiserver']}",
        "ports": ports,
        "logs_dir": str(layout.logs),
    }
    write_atomic(layout.info, json.dumps(info, indent=2) + "\n")


def is_up(layout: Layout) -> bool:
    """Return True when every component that `up` records runs and the apiserver is ready."""
    records = load_records(layout)
    if not layout.info.exists() or set(records) != set(COMPONENTS):
        return False
    if not all(record_matches(records[name]) for name in COMPONENTS):
        return False
    ports = read_json(layout.ports, {})
    return bool(ports) and health_check(layout, "kube-apiserver", ports)


def start(layout: Layout) -> None:
    bin_dir = build_binaries()
    link_binaries(layout, bin_dir)
    # A partly running testbed starts over, so its parts agree on ports and flags.
    stop_all(layout)
    for directory in (layout.logs, layout.pod_logs, layout.kwok_home, layout.exec_dir):
        directory.mkdir(parents=True, exist_ok=True)
    ensure_pki(layout)
    ports = pick_ports(layout)
    server = f"https://127.0.0.1:{ports['kube-apiserver']}"
    write_kubeconfig(layout.admin_kubeconfig, layout.pki, server, "testbed-admin", "admin")
    write_kubeconfig(layout.restricted_kubeconfig, layout.pki, server, RESTRICTED_USER, RESTRICTED_USER)
    for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
        write_kubeconfig(layout.kubeconfig(name), layout.pki, server, name, name)
    write_kwok_config(layout)

    records: dict[str, dict] = {}
    for name in COMPONENTS:
        if name == "kube-controller-manager":
            # kwok needs its CRDs before it starts, and the nodes should exist
            # before the node lifecycle controller starts watching.
            bootstrap_objects(layout, ports)
        start_process(layout, records, name, component_argv(layout, name, ports),
                      cwd=layout.kwok_home if name == "kwok" else None, env=component_env(layout, name))
        wait_healthy(layout, name, ports, records)
    wait_for_nodes(layout)
    wait_for_default_service_account(layout)
    write_info(layout, ports)


def up(layout: Layout) -> Path:
    """Start the testbed unless it is already up, and return the admin kubeconfig path."""
    with locked(layout):
        if is_up(layout):
            log(f"already up (state directory {layout.root})")
            return layout.admin_kubeconfig
        started = time.monotonic()
        log(f"starting in {layout.root}")
        try:
            start(layout)
        except BaseException:
            log("start failed; stopping the components started so far (logs stay in "
                f"{layout.logs})")
            stop_all(layout)
            raise
        log(f"up in {time.monotonic() - started:.1f}s")
        return layout.admin_kubeconfig


def down(layout: Layout) -> None:
    """Stop the processes that `up` recorded in this state directory, and keep all files."""
    if not layout.root.exists():
        log(f"nothing to stop: {layout.root} does not exist")
        return
    with locked(layout):
        records = load_records(layout)
        if not records:
            log("nothing to stop")
        stop_all(layout)
        with contextlib.suppress(FileNotFoundError):
            layout.info.unlink()


def main_up(argv: list[str]) -> int:
    layout = Layout(default_state_dir())
    if argv == ["--check"]:
        return 0 if is_up(layout) else 3
    if argv:
        print("usage: up [--check]", file=sys.stderr)
        return 2
    try:
        path = up(layout)
    except TestbedError as error:
        log(f"error: {error}")
        return 1
    print(path)
    return 0


def main_down(argv: list[str]) -> int:
    if argv:
        print("usage: down", file=sys.stderr)
        return 2
    down(Layout(default_state_dir()))
    return 0
