"""A vmim_info wait survives what real API servers do to watches: streams cut mid-way, streams
ended by the server, and 410 Gone after compaction (then it re-lists). The test drives the VMIM
itself, so it knows exactly which watch the module has open."""
import queue
import sys
import threading
from pathlib import Path

import pytest

from ansible_run import run_module
from k8s_emulator import K8sEmulator
from test_vmim_helpers import NS, VMIMS, until

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import VMIM, connect  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.watch import ResourceWatcher  # noqa: E402


@pytest.fixture
def k8s_emulator():
    """No bookmarks: a bookmark could move the module's resourceVersion past the compaction and
    hide the 410 this test must provoke."""
    emulator = K8sEmulator(token="emulator-token", bookmark_interval=3600).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def record_opened_watches(emulator):
    """The resourceVersion each watch request started from, in order (test instrumentation)."""
    opened = []
    original = emulator.watch_opened

    def watch_opened(stream):
        opened.append(int(stream.request.query.get("resourceVersion") or 0))
        original(stream)
    emulator.watch_opened = watch_opened
    return opened


def test_wait_resumes_after_cuts_and_relists_after_410(k8s_emulator, kubeconfig):
    k8s_emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                         "metadata": {"name": "db-0", "namespace": NS}, "status": {"phase": "Running", "nodeName": "hv1"}})
    k8s_emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                         "metadata": {"name": "m1", "namespace": NS}, "spec": {"vmiName": "db-0"},
                         "status": {"phase": "Running"}})
    opened = record_opened_watches(k8s_emulator)
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=run_module("vmim_info", {
        "kubeconfig": kubeconfig, "namespace": NS, "name": "m1", "wait_for": ["Succeeded"], "wait_timeout": 60})))
    worker.start()
    until(lambda: len(opened) >= 1, "the module's watch")
    listed_at = opened[0]

    # 1. The connection drops mid-stream: resume from the same resourceVersion, not from scratch.
    k8s_emulator.cut_watches()
    until(lambda: len(opened) >= 2, "the watch to be resumed after a cut")
    assert opened[1] == listed_at

    # 2. A change the module sees moves its resourceVersion on; then the server ends the stream.
    k8s_emulator.patch(VMIMS, NS, "m1", {"status": {"phase": "Running", "migrationState": {"mode": "PreCopy"}}},
                       subresource="status")
    seen_at = int(k8s_emulator.resource_version)
    k8s_emulator.cut_watches(graceful=True)
    until(lambda: len(opened) >= 3, "the watch to be resumed after the server ended it")
    assert opened[2] == seen_at

    # 3. History compacted past the module's resourceVersion: 410 Gone, then a re-list and a new watch.
    k8s_emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                         "metadata": {"name": "other", "namespace": "elsewhere"}})
    k8s_emulator.compact()
    floor = int(k8s_emulator.resource_version)
    k8s_emulator.cut_watches()
    until(lambda: len(opened) >= 5, "a watch after the re-list")
    assert opened[3] == seen_at < floor       # refused with 410
    assert opened[4] == floor                 # from the re-list
    assert worker.is_alive()

    k8s_emulator.patch(VMIMS, NS, "m1", {"status": {"phase": "Succeeded"}}, subresource="status")
    worker.join(120)
    result = box["result"]
    assert not result["failed"], result
    assert result["migrations"][0]["phase"] == "Succeeded"


def test_watcher_resumes_across_an_api_server_restart(k8s_emulator):
    """The watcher itself (as the EDA source uses it): events made while the server was down and
    after it came back both arrive, once each; stop() ends the thread."""
    def vmim(name):
        return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                "metadata": {"name": name, "namespace": NS}, "spec": {"vmiName": "db-0"}}

    client = connect({"host": k8s_emulator.url, "api_key": k8s_emulator.token})
    items, version = client.list(VMIM, NS)
    assert items == []
    events = queue.Queue()
    watcher = ResourceWatcher(client, VMIM, NS, version, events, "vmim")
    watcher.start()
    try:
        k8s_emulator.create(vmim("before"))
        key, kind, obj = events.get(timeout=30)
        assert (key, kind, obj["metadata"]["name"]) == ("vmim", "ADDED", "before")
        k8s_emulator.stop()
        k8s_emulator.create(vmim("while-down"))      # straight into the store: the server is down
        k8s_emulator.start()
        k8s_emulator.create(vmim("after"))
        seen = []
        while len(seen) < 2:
            key, kind, obj = events.get(timeout=30)
            seen.append((key, kind, obj["metadata"]["name"]))
        assert seen == [("vmim", "ADDED", "while-down"), ("vmim", "ADDED", "after")]
        assert events.empty()
    finally:
        watcher.stop()
        watcher.join(30)
        client.close()
    assert not watcher.is_alive()
