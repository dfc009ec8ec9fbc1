"""pods/eviction in the emulator (validating webhooks, PodDisruptionBudgets) and virt-api's eviction
webhook in the simulated KubeVirt: what `kubectl drain` meets on a KubeVirt cluster."""
import base64
import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from k8s_emulator import protobuf
from kubevirt_sim import KubevirtSim
from kubevirt_sim.virt_api import CONFIGURATION


def eviction(name, namespace):
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}


def running_pod(k8s, namespace, name, labels=None):
    k8s.create({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                "spec": {"containers": [{"name": "c", "image": "i"}], "nodeName": "node-a"},
                "status": {"phase": "Running"}})


def evict(k8s, namespace, name):
    core = client.CoreV1Api(k8s.api_client())
    return core.create_namespaced_pod_eviction(name, namespace, eviction(name, namespace), _preload_content=False)


def refused(k8s, namespace, name):
    with pytest.raises(ApiException) as caught:
        evict(k8s, namespace, name)
    return caught.value


def test_discovery_names_eviction_in_the_policy_group(k8s_emulator):
    resources = client.CoreV1Api(k8s_emulator.api_client()).get_api_resources().resources
    entry = next(r for r in resources if r.name == "pods/eviction")
    assert (entry.kind, entry.group, entry.version, entry.verbs) == ("Eviction", "policy", "v1", ["create"])


def test_a_pod_without_budget_or_webhook_is_evicted(k8s_emulator):
    running_pod(k8s_emulator, "default", "p")
    assert evict(k8s_emulator, "default", "p").status == 201
    assert k8s_emulator.get("pods", "default", "p") is None
    assert refused(k8s_emulator, "default", "p").status == 404


def test_a_budget_keeps_its_last_running_pod_but_not_an_ended_one(k8s_emulator):
    k8s_emulator.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                         "metadata": {"name": "keep-one", "namespace": "default"},
                         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}}})
    running_pod(k8s_emulator, "default", "a-1", {"app": "a"})
    error = refused(k8s_emulator, "default", "a-1")
    assert error.status == 429 and "disruption budget" in error.body
    assert "keep-one needs 1 healthy pods and has 1 currently" in error.body
    running_pod(k8s_emulator, "default", "a-2", {"app": "a"})
    assert evict(k8s_emulator, "default", "a-1").status == 201     # a-2 still runs
    k8s_emulator.patch("pods", "default", "a-2", {"status": {"phase": "Succeeded"}}, subresource="status")
    assert evict(k8s_emulator, "default", "a-2").status == 201     # ended: no budget is asked


def test_a_protobuf_eviction_is_read():
    field = protobuf.length_delimited
    raw = field(1, field(1, "virt-launcher-x") + field(3, "vms")) + field(2, b"")
    body = protobuf.MAGIC + field(1, field(1, "policy/v1") + field(2, "Eviction")) + field(2, raw)
    assert protobuf.decode(body) == {"apiVersion": "policy/v1", "kind": "Eviction", "deleteOptions": {},
                                     "metadata": {"name": "virt-launcher-x", "namespace": "vms"}}


def unreachable_webhook(k8s, policy):
    k8s.create({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "gone"},
                "webhooks": [{"name": "gone.example.com", "failurePolicy": policy,
                              "rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                                         "resources": ["pods/eviction"]}],
                              "clientConfig": {"url": "https://127.0.0.1:1/validate",
                                               "caBundle": base64.b64encode(b"").decode()}}]})


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_an_unreachable_webhook_fails_the_eviction_unless_ignored(k8s_emulator, policy):
    unreachable_webhook(k8s_emulator, policy)
    running_pod(k8s_emulator, "default", "p")
    if policy == "Fail":
        error = refused(k8s_emulator, "default", "p")
        assert error.status == 500 and 'failed calling webhook \\"gone.example.com\\"' in error.body
        assert k8s_emulator.get("pods", "default", "p") is not None
    else:
        assert evict(k8s_emulator, "default", "p").status == 201


@pytest.fixture
def drainable(k8s_emulator):
    """A simulated KubeVirt whose VMIs have the LiveMigrate eviction strategy, one VMI on node-a."""
    sim = KubevirtSim(k8s_emulator.api_client(), step_delay=0.02, eviction_strategy="LiveMigrate").start()
    try:
        vmi = sim.create_vmi("vms", "db-0", "node-a")
        yield sim, k8s_emulator, sim.active_pod_name(vmi)
    finally:
        sim.stop()


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_evicting_a_launcher_evacuates_its_vmi_by_migration(drainable):
    sim, k8s, pod = drainable
    assert k8s.get("validatingwebhookconfigurations", None, CONFIGURATION)["webhooks"][0]["clientConfig"]["url"]
    k8s.patch("nodes", None, "node-a", {"spec": {"unschedulable": True}})
    error = refused(k8s, "vms", pod)
    assert error.status == 429
    assert ('admission webhook \\"virt-launcher-eviction-interceptor.kubevirt.io\\" denied the request: '
            'Eviction triggered evacuation of VMI \\"vms/db-0\\"') in error.body
    wait_for(lambda: [m for m in k8s.list("vmim", "vms") if (m.get("status") or {}).get("phase") == "Succeeded"])
    migration, = k8s.list("vmim", "vms")
    assert migration["metadata"]["name"].startswith("kubevirt-evacuation-")
    assert migration["metadata"]["annotations"]["kubevirt.io/evacuationMigration"] == "node-a"
    vmi = k8s.get("vmi", "vms", "db-0")
    assert vmi["status"]["nodeName"] not in ("node-a", None) and not vmi["status"].get("evacuationNodeName")
    # The old pod has ended: its eviction now passes the webhook and the budget.
    assert evict(k8s, "vms", pod).status == 201
    assert k8s.get("pods", "vms", pod) is None
    assert [r[1] for r in sim.virt_api.reviews] == [False, True]
    assert not sim.errors


def test_a_second_eviction_during_the_evacuation_is_refused_and_makes_no_second_migration(drainable):
    sim, k8s, pod = drainable
    sim.configure("vms", "db-0", hold_at="Running")
    assert refused(k8s, "vms", pod).status == 429
    wait_for(lambda: k8s.list("vmim", "vms"))
    error = refused(k8s, "vms", pod)
    assert error.status == 429 and "Evacuation in progress" in error.body
    assert len(k8s.list("vmim", "vms")) == 1
    sim.release("vms", k8s.list("vmim", "vms")[0]["metadata"]["name"])


def test_without_the_webhook_the_budget_still_keeps_the_vm(drainable):
    sim, k8s, pod = drainable
    k8s.delete("validatingwebhookconfigurations", None, CONFIGURATION)
    error = refused(k8s, "vms", pod)
    assert error.status == 429 and "disruption budget" in error.body
    assert not k8s.list("vmim", "vms") and k8s.get("pods", "vms", pod) is not None
