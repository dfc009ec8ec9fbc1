"""Error translation: each HTTP failure becomes one KubernetesError whose msg says what to fix."""
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import (  # noqa: E402
    POD, VMIM, ConnectionLost, WatchExpired, api_error, connect,
)

HOST = "https://k8s.example:6443"


def test_401_says_authentication_and_what_to_check():
    err = api_error(HOST, "list", VMIM, "vms", None, 401, "Unauthorized", "Unauthorized")
    assert isinstance(err, KubernetesError)
    assert "authentication" in err.msg and "api_key/kubeconfig" in err.msg and HOST in err.msg


def test_403_names_verb_resource_group_and_namespace():
    server = ('virtualmachineinstancemigrations.kubevirt.io is forbidden: User "system:serviceaccount:a:b" '
              'cannot create resource "virtualmachineinstancemigrations" in API group "kubevirt.io" '
              'in the namespace "vms"')
    err = api_error(HOST, "create", VMIM, "vms", None, 403, "Forbidden", server)
    for part in ("forbidden", "create", '"virtualmachineinstancemigrations"', '"kubevirt.io"', '"vms"',
                 "system:serviceaccount:a:b"):
        assert part in err.msg
    assert err.details["api_status"] == 403


def test_403_core_group_at_cluster_scope():
    err = api_error(HOST, "watch", POD, None, None, 403, "Forbidden", None)
    assert '"pods"' in err.msg and '"core"' in err.msg and "cluster scope" in err.msg


def test_404_names_the_object():
    err = api_error(HOST, "get", VMIM, "vms", "mig-1", 404, "NotFound", 'virtualmachineinstancemigrations "mig-1" not found')
    assert "VirtualMachineInstanceMigration vms/mig-1 not found" in err.msg


def test_404_on_a_list_suggests_the_api_is_missing():
    err = api_error(HOST, "list", VMIM, "vms", None, 404, "NotFound", "the server could not find the requested resource")
    assert "does not serve virtualmachineinstancemigrations.kubevirt.io/v1" in err.msg
    assert "KubeVirt" in err.msg


def test_410_is_a_watch_expiry():
    err = api_error(HOST, "watch", VMIM, "vms", None, 410, "Expired", "too old resource version")
    assert isinstance(err, WatchExpired)


def test_other_status_keeps_the_server_message():
    err = api_error(HOST, "create", VMIM, "vms", None, 422, "Unprocessable Entity", "spec.vmiName: Required value")
    assert "422" in err.msg and "spec.vmiName: Required value" in err.msg


def test_connection_refused_names_the_host():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    host = "http://127.0.0.1:%d" % port
    client = connect({"host": host, "api_key": "t"})
    with pytest.raises(ConnectionLost) as info:
        client.list(VMIM, "vms")
    assert "cannot reach the Kubernetes API at " + host in info.value.msg
    assert "refused" in info.value.msg.lower()
