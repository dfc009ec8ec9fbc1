"""kubeovn.live_migration.vmim_info through ansible-playbook, against the Kubernetes API emulator
with the simulated KubeVirt driving real VMIM phases, target pods and VMI migration state."""
from ansible_run import run_module
from test_vmim_helpers import NS, assert_clean_failure, in_background, run_tasks, until

ALL_PHASES = ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
# The simulator keeps two watches open (VMIMs and VMIs); more means the module is watching too.
SIM_WATCHES = 2


def test_a_migration_followed_from_creation_to_success(k8s_emulator, kubeconfig, kubevirt_sim):
    kubevirt_sim.create_vmi(NS, "db-0", "hv1")
    kubevirt_sim.configure(NS, "db-0", target_node="hv2", hold_at="Scheduling")
    created = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0"})
    assert created["changed"] is True, created
    name = created["migration"]["name"]
    kubevirt_sim.wait_phase(NS, name, "Scheduling")

    # Held at Scheduling: the target pod exists but is not bound. The wait must see the binding.
    worker, box = in_background("vmim_info", {"kubeconfig": kubeconfig, "namespace": NS, "name": name,
                                              "wait_for": ["target_scheduled"], "wait_timeout": 60})
    until(lambda: k8s_emulator.open_watches >= SIM_WATCHES + 2, "the module to watch the VMIM and its pods")
    assert worker.is_alive()
    kubevirt_sim.release(NS, name)
    worker.join(120)
    scheduled = box["result"]
    assert not scheduled["failed"], scheduled
    rec = scheduled["migrations"][0]
    assert (rec["name"], rec["vmi"], rec["source_node"], rec["target_node"]) == (name, "db-0", "hv1", "hv2")
    assert rec["target_pod"].startswith("virt-launcher-db-0-")

    # The end, authenticated the way AWX's Kubernetes credential does it: K8S_AUTH_* variables.
    env = {"K8S_AUTH_HOST": k8s_emulator.url, "K8S_AUTH_API_KEY": k8s_emulator.token, "K8S_AUTH_VERIFY_SSL": "false"}
    done = run_module("vmim_info", {"namespace": NS, "vmi": "db-0", "wait_for": ["Succeeded", "Failed"]}, env=env,
                      verbosity=3)
    assert not done["failed"], done
    assert '"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in done["_output"]  # -vvv shows the invocation
    assert k8s_emulator.token not in done["_output"]
    [rec] = done["migrations"]
    assert rec["phase"] == "Succeeded" and rec["in_flight"] is False
    assert (rec["source_node"], rec["target_node"], rec["vmi_node"]) == ("hv1", "hv2", "hv2")
    assert rec["migration_state_matches"] is True and rec["uid"] == created["migration"]["uid"]
    assert [t["phase"] for t in rec["phase_transition_timestamps"]] == ALL_PHASES
    assert all(t["timestamp"] for t in rec["phase_transition_timestamps"])
    assert done["vmi"]["exists"] is True and done["vmi"]["node"] == "hv2"
    assert done["vmi"]["migration_state"]["migrationUid"] == rec["uid"]


def test_waits_that_cannot_succeed_fail_with_the_last_state(kubeconfig, kubevirt_sim):
    kubevirt_sim.create_vmi(NS, "db-0", "hv1")
    kubevirt_sim.configure(NS, "db-0", target_node="hv3", hold_at="Running")
    held = kubevirt_sim.migrate(NS, "db-0")["metadata"]["name"]
    kubevirt_sim.create_vmi(NS, "web-1", "hv1")
    kubevirt_sim.configure(NS, "web-1", target_node="hv2", fail_at="TargetReady")
    failing = kubevirt_sim.migrate(NS, "web-1")["metadata"]["name"]
    kubevirt_sim.wait_phase(NS, held, "Running")
    timed_out, failed = run_tasks([
        ("vmim_info", {"kubeconfig": kubeconfig, "namespace": NS, "name": held, "wait_for": ["Succeeded"],
                       "wait_timeout": 1}),
        ("vmim_info", {"kubeconfig": kubeconfig, "namespace": NS, "name": failing, "wait_for": ["Succeeded"],
                       "wait_timeout": 60}),
    ])
    assert_clean_failure(timed_out, "timed out after 1s", "vms/" + held, "last seen phase: Running")
    [rec] = timed_out["migrations"]
    assert (rec["phase"], rec["source_node"], rec["target_node"], rec["in_flight"]) == ("Running", "hv1", "hv3", True)
    # A migration that failed can never succeed: the wait ends at once, not at its timeout.
    assert_clean_failure(failed, "ended in phase Failed without reaching phase Succeeded")
    rec = failed["migrations"][0]
    assert rec["phase"] == "Failed" and rec["source_node"] == "hv1" and rec["vmi_node"] == "hv1"


def test_stale_state_of_an_earlier_migration_is_not_this_ones(kubeconfig, kubevirt_sim):
    kubevirt_sim.create_vmi(NS, "db-0", "hv1")
    first = kubevirt_sim.migrate(NS, "db-0", target_node="hv2")["metadata"]["name"]
    kubevirt_sim.wait_phase(NS, first, "Succeeded")
    # Back again, held before its target pod is scheduled: the VMI still carries the first
    # migration's state (source hv1, target hv2), which must not be reported as the second's.
    kubevirt_sim.configure(NS, "db-0", target_node="hv1", hold_at="Scheduling")
    second = kubevirt_sim.migrate(NS, "db-0")["metadata"]["name"]
    kubevirt_sim.wait_phase(NS, second, "Scheduling")

    listed, waited = run_tasks([
        ("vmim_info", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0"}),
        # Nor may a wait for the target node be satisfied by the stale targetNode.
        ("vmim_info", {"kubeconfig": kubeconfig, "namespace": NS, "name": second,
                       "wait_for": ["target_scheduled"], "wait_timeout": 1}),
    ])
    assert not listed["failed"], listed
    records = dict((r["name"], r) for r in listed["migrations"])
    assert set(records) == {first, second}
    new, old = records[second], records[first]
    assert new["migration_state_matches"] is False and new["in_flight"] is True
    assert (new["source_node"], new["target_node"]) == ("hv2", None)
    assert new["target_pod"] and new["target_pod"] != old["target_pod"]
    assert old["migration_state_matches"] is True and (old["source_node"], old["target_node"]) == ("hv1", "hv2")
    assert listed["vmi"]["migration_state"]["migrationUid"] == old["uid"]

    assert_clean_failure(waited, "timed out", "target_scheduled")
    assert waited["migrations"][0]["target_node"] is None
