#!/usr/bin/env bash
# End-to-end check on a real cluster (kind, k3s, or a shared one) whose nodes
# run real containers, which the kwok-based tests cannot do. It checks that the
# Docker daemon starts, accepts TLS connections on 127.0.0.1:2376 from the
# tunnel container, sees /vscode, and keeps its data across a pod restart.
#
# Usage: scripts/real-cluster-check.sh NODE [WORKSPACE]
# Uses the current kubectl context (or KUBECONFIG / --context via KUBECTL_FLAGS)
# and needs `kubectl devspace` on PATH (./build.sh puts it in dist/).
# It deletes the workspace it made at the end, keeping the node data unless
# PURGE=1 is set.
set -euo pipefail

node=${1:?usage: $0 NODE [WORKSPACE]}
name=${2:-devspace-check}
flags=(${KUBECTL_FLAGS:-})

step() { printf '\n== %s\n' "$*" >&2; }

step "create $name on $node"
kubectl devspace "${flags[@]}" create "$name" --node "$node" --timeout 15m

step "the daemon answers on its unix socket"
kubectl devspace "${flags[@]}" exec-docker "$name" -- docker info --format '{{.ServerVersion}}'

step "the tunnel container reaches the daemon over TLS on 127.0.0.1:2376"
kubectl "${flags[@]}" exec -n "devspace-$name" "$name-0" -c tunnel -- docker version --format '{{.Server.Version}}'

step "the daemon does not listen on the pod IP"
if kubectl devspace "${flags[@]}" exec-docker "$name" -- sh -c 'netstat -ltn | grep -v 127.0.0.1 | grep -q ":2376 "'; then
  echo "FAIL: dockerd listens on a non-loopback address" >&2
  exit 1
fi

step "a bind mount of /vscode works inside the workspace"
kubectl devspace "${flags[@]}" exec-docker "$name" -- sh -c \
  'echo marker > /vscode/.devspace-check && docker run --rm -v /vscode:/src alpine cat /src/.devspace-check'

step "data survives a pod restart"
kubectl "${flags[@]}" delete pod -n "devspace-$name" "$name-0" --wait=true
kubectl "${flags[@]}" wait -n "devspace-$name" --for=condition=Ready "pod/$name-0" --timeout=10m
kubectl devspace "${flags[@]}" exec-docker "$name" -- cat /vscode/.devspace-check

step "status and the tunnel log"
kubectl devspace "${flags[@]}" status "$name"
kubectl devspace "${flags[@]}" logs "$name" --tail 20

step "delete"
if [[ "${PURGE:-0}" == 1 ]]; then
  kubectl devspace "${flags[@]}" delete "$name" --yes --purge
else
  kubectl devspace "${flags[@]}" delete "$name" --yes
fi
echo "real-cluster check passed" >&2
