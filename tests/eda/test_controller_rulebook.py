"""live_migration_controller.yml run by the real ansible-rulebook against a controller API over
HTTP (tests/eda/fake_controller.py): which job templates it launches, with which extra vars."""
import time

import pytest
from kubernetes.client import CustomObjectsApi

from fake_controller import FakeController
from rulebook_process import Rulebook

pytestmark = pytest.mark.timeout(180)

TEMPLATES = ("kubeovn-lm-prepare", "kubeovn-lm-cutover", "kubeovn-lm-cleanup")


@pytest.fixture
def controller():
    fake = FakeController(TEMPLATES).start()
    yield fake
    fake.stop()


def acting(launches):
    """The launches but the pins: the source emits `pin` when it sees a VMIM before its target pod is
    scheduled, which the simulated KubeVirt makes 0.1 s later (a pin is missed if the source lags more)."""
    return [(name, body) for name, body in launches if body["extra_vars"]["plan_action"] != "pin"]


def wait_launches(controller, count, rulebook, timeout=90):
    deadline = time.monotonic() + timeout
    while len(acting(controller.launched())) < count:
        if time.monotonic() > deadline:
            raise AssertionError("launches: %s\n%s" % (controller.launched(), rulebook.log()[-4000:]))
        time.sleep(0.1)
    time.sleep(1)  # nothing more may follow
    return controller.launched()


def test_a_migration_and_a_failed_one_launch_the_phase_job_templates(kubevirt_sim, kubeconfig, controller, tmp_path):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    kubevirt_sim.create_vmi("ns1", "vm2", "hv1")
    kubevirt_sim.create_vmi("ns1", "vm3", "hv1")
    env = {"K8S_AUTH_KUBECONFIG": kubeconfig, "EDA_CONTROLLER_URL": controller.url,
           "EDA_CONTROLLER_TOKEN": controller.token, "EDA_CONTROLLER_SSL_VERIFY": "no",
           # The per-VM lock holds the next action until the controller reports the job done.
           "EDA_JOB_TEMPLATE_REFRESH_DELAY": "0.5"}
    rulebook = Rulebook(tmp_path, env, rulebook="kubeovn.live_migration.live_migration_controller").start()
    try:
        # Migrations started after the source's first list: every phase is seen live.
        rulebook.wait_log("Waiting for events")
        rulebook.wait_log("following VirtualMachineInstanceMigrations")
        time.sleep(1.0)
        ok = kubevirt_sim.migrate("ns1", "vm1", target_node="hv2", name="ok")
        kubevirt_sim.wait_phase("ns1", "ok", "Succeeded")
        wait_launches(controller, 2, rulebook)     # one VM after the other: a deterministic order
        bad = kubevirt_sim.migrate("ns1", "vm2", target_node="hv3", name="bad", fail_at="Running")
        kubevirt_sim.wait_phase("ns1", "bad", "Failed")
        wait_launches(controller, 4, rulebook)
        # An abort: the VMIM is deleted while it runs; KubeVirt then ends it Failed and lets it go.
        kubevirt_sim.configure("ns1", "vm3", target_node="hv2", hold_at="Running")
        kubevirt_sim.migrate("ns1", "vm3", name="aborted")
        kubevirt_sim.wait_phase("ns1", "aborted", "Running")
        wait_launches(controller, 5, rulebook)
        CustomObjectsApi(kubevirt_sim.custom.api_client).delete_namespaced_custom_object(
            "kubevirt.io", "v1", "ns1", "virtualmachineinstancemigrations", "aborted")
        launches = wait_launches(controller, 6, rulebook)
    finally:
        rulebook.stop()
    # Each pin runs the prepare job template without waiting for the target, before that VMIM's prepare.
    pins = [(launches.index((name, body)), name, body["extra_vars"]) for name, body in launches
            if body["extra_vars"]["plan_action"] == "pin"]
    assert pins, launches
    for at, name, extra in pins:
        assert (name, extra["wait_for_target"], extra["target_node"]) == ("kubeovn-lm-prepare", False, None), extra
        assert [n for n, b in launches[at + 1:] if b["extra_vars"]["vmim"] == extra["vmim"]][0] == "kubeovn-lm-prepare"
    launches = acting(launches)
    assert [(name, body["extra_vars"]["vmim"]) for name, body in launches] == [
        ("kubeovn-lm-prepare", "ok"), ("kubeovn-lm-cutover", "ok"),
        ("kubeovn-lm-prepare", "bad"), ("kubeovn-lm-cleanup", "bad"),
        ("kubeovn-lm-prepare", "aborted"), ("kubeovn-lm-cleanup", "aborted")]   # one rollback, not two
    prepare = launches[0][1]["extra_vars"]
    assert {k: prepare[k] for k in ("vmim", "vmim_uid", "vmi", "namespace", "source_node", "target_node")} == {
        "vmim": "ok", "vmim_uid": ok["metadata"]["uid"], "vmi": "vm1", "namespace": "ns1",
        "source_node": "hv1", "target_node": "hv2"}
    assert prepare["ansible_eda"]["event"]["vmim_uid"] == ok["metadata"]["uid"]
    # The rules act on the source's decision, and pass it on.
    assert [body["extra_vars"]["plan_action"] for _unused, body in launches] == [
        "prepare", "cutover", "prepare", "rollback", "prepare", "rollback"]
    assert prepare["plan_reason"].startswith("migration ok (")
    cleanup = launches[3][1]["extra_vars"]
    assert (cleanup["vmim_uid"], cleanup["phase"], cleanup["target_node"]) == (bad["metadata"]["uid"], "Failed", "hv3")
    abort = launches[5][1]["extra_vars"]["ansible_eda"]["event"]
    assert (abort["deleted"], abort["in_flight"], abort["phase"]) == (True, True, "Running")
    assert (abort["action"], abort["cancel"]) == ("rollback", False)
