"""Deleting a workspace's data on its node, which only ``delete --purge`` does.

The plugin cannot reach a node's file system through the API, so a Job
pinned to the node mounts each data directory and empties it. The Job uses
the workspace's Docker image, which the node has pulled already.
"""

import time

from . import manifests
from .errors import Timeout, WorkspaceFailed

POLL_INTERVAL = 1.0

_EMPTY_SCRIPT = (
    "set -eu\n"
    "for dir in /purge/*; do\n"
    '  rm -rf "$dir"/..?* "$dir"/.[!.]* "$dir"/*\n'
    '  echo "emptied $dir"\n'
    "done\n"
)


def purge_job_name(name):
    return f"{name}-purge"


def purge_job(spec, namespace):
    """Return the Job that empties the workspace's node directories, or None when it has none."""
    paths = manifests.data_paths(spec)
    directories = [path for path in (paths["workspace"], paths["docker"]) if path]
    if not directories:
        return None

    volumes = [
        {"name": f"data-{index}", "hostPath": {"path": path, "type": "DirectoryOrCreate"}}
        for index, path in enumerate(directories)
    ]
    mounts = [{"name": volume["name"], "mountPath": f"/purge/{index}"} for index, volume in enumerate(volumes)]

    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": purge_job_name(spec.name),
            "namespace": namespace,
            "labels": manifests.labels(spec.name, "purge"),
        },
        "spec": {
            "backoffLimit": 2,
            "ttlSecondsAfterFinished": 600,
            "template": {
                "metadata": {"labels": manifests.labels(spec.name, "purge")},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "nodeSelector": {manifests.HOSTNAME_LABEL: spec.hostname},
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [{
                        "name": "purge",
                        "image": spec.dind_image,
                        "command": ["sh", "-c", _EMPTY_SCRIPT],
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    }


def wait_for_job(cluster, name, namespace, timeout):
    """Poll until Job ``name`` succeeds; raise when it fails or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        job = cluster.get("Job", name, namespace)
        status = job.get("status", {})

        if status.get("succeeded"):
            return
        for condition in status.get("conditions", []):
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                raise WorkspaceFailed(
                    f"job {namespace}/{name} could not delete the node data: {condition.get('message', 'no message')}",
                    hint=f"run 'kubectl logs -n {namespace} job/{name}' to see why; the data is still on the node",
                )

        if time.monotonic() >= deadline:
            raise Timeout(
                f"job {namespace}/{name} did not finish deleting the node data within {timeout:g}s",
                hint=f"check 'kubectl describe job -n {namespace} {name}', then run delete --purge again",
            )
        time.sleep(POLL_INTERVAL)
