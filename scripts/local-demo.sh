#!/usr/bin/env bash
# Run kubectl devspace end to end on the local control plane. The script
# installs the Python dependencies, builds the zipapp and starts the testbed,
# which it builds from source on the first run (about 10 minutes on 2 cores).
# Then it creates, shows, uses and deletes a workspace named "demo" on node n1.
#
# The testbed's nodes are kwok fakes: no container really runs, so a sample
# tunnel log stands in for the VS Code CLI's output, and exec-docker runs its
# command on this machine. The testbed stays up; tests/testbed/down stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
./build.sh --no-manifest-update >&2

kubeconfig=$(tests/testbed/up | tail -n 1)
testbed_json="$(dirname "$kubeconfig")/testbed.json"
kubectl_path=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["kubectl"])' "$testbed_json")
logs_dir=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pod_logs_dir"])' "$testbed_json")

export KUBECONFIG="$kubeconfig"
export PATH="$PWD/dist:$(dirname "$kubectl_path"):$PATH"

# A CRI-format log line, as a kubelet stores container output, served by kwok.
log_file="$logs_dir/devspace-demo/demo-0/tunnel.log"
mkdir -p "$(dirname "$log_file")"
printf '%s stdout F To grant access to the server, please log into https://github.com/login/device and use code DEMO-1234\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)" > "$log_file"
kubectl apply -f - >/dev/null <<YAML
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: local-demo-tunnel
spec:
  selector:
    matchNamespaces: [devspace-demo]
    matchNames: [demo-0]
  logs:
  - containers: [tunnel]
    logsFile: $log_file
    follow: true
YAML

step kubectl get nodes
kubectl get nodes
step kubectl devspace create demo --node n1
kubectl devspace create demo --node n1
step kubectl devspace status
kubectl devspace status
step kubectl devspace status demo
kubectl devspace status demo
step kubectl devspace exec-docker demo -- sh -c "'echo hello from exec-docker; exit 3'"
kubectl devspace exec-docker demo -- sh -c 'echo hello from exec-docker; exit 3' || echo "(exit status $?)"
step kubectl devspace delete demo --yes
kubectl devspace delete demo --yes
kubectl delete clusterlogs local-demo-tunnel >/dev/null
printf '\nThe testbed is still up; stop it with tests/testbed/down.\n' >&2
