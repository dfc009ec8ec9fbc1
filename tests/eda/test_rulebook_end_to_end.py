"""The collection's rulebook run by the real ansible-rulebook: Kubernetes emulator, simulated
KubeVirt (its target pod's CNI gives up unless the port is bound on the target chassis in time, as
Kube-OVN's does) and a real OVN. Assertions are on the resulting NB options and SB bindings."""
import json

import pytest

from rulebook_process import rulebook_lab, vm_on_hv1

pytestmark = pytest.mark.timeout(400)

# The simulated CNI waits for the port on the target chassis, as Kube-OVN's does (30 s there): a
# migration that gets past Scheduling proves prepare landed first. Generous here, so that the test
# does not assert on time on a loaded machine (docs/eda.md has the measured latency).
CNI_TIMEOUT = 150


@pytest.fixture
def lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path):
    yield from rulebook_lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path, CNI_TIMEOUT)


def options(sandbox, lsp):
    raw = sandbox.nbctl("--format=json", "--columns=options", "find", "Logical_Switch_Port", "name=" + lsp)
    rows = json.loads(raw)["data"]
    return dict(rows[0][0][1]) if rows else None


def settled(sandbox, ports, requested, chassis, timeout=120):
    """Wait until every port has exactly `requested` as our NB options and SB binds it on `chassis` only."""
    def done():
        for lsp in ports:
            binding = sandbox.port_binding(lsp) or {}
            ours = dict((k, v) for k, v in (options(sandbox, lsp) or {}).items()
                        if k in ("requested-chassis", "activation-strategy"))
            if ours != requested or binding.get("chassis") != chassis or binding.get("additional_chassis"):
                return False
        return True
    sandbox.wait_for(done, timeout=timeout, what="ports %s: NB %s, SB bound on %s only" % (ports, requested, chassis))


def test_a_migration_through_every_phase_ends_bound_on_the_target(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    namespace, vm, ports = vm_on_hv1(sim, ovn_vm)
    run = rulebook()
    sim.configure(namespace, vm, target_node="hv2")
    sim.migrate(namespace, vm, name="mig1")
    done = sim.wait_phase(namespace, "mig1", ["Succeeded", "Failed"], timeout=CNI_TIMEOUT + 60)
    # Failed here would mean the target pod's CNI gave up: prepare never landed.
    assert done["status"]["phase"] == "Succeeded", (sim.errors, run.log()[-4000:])
    settled(ovn_sandbox, ports, {"requested-chassis": "hv2"}, "hv2")
    # The Succeeded event's cutover runs after prepare (one VM's actions are serialised).
    run.wait_log("kubeovn.live_migration.cutover :")
    log = run.log()
    assert "kubeovn.live_migration.prepare :" in log
    assert log.index("kubeovn.live_migration.prepare :") < log.index("kubeovn.live_migration.cutover :")


def test_a_failed_migration_is_rolled_back_to_the_source(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    namespace, vm, ports = vm_on_hv1(sim, ovn_vm)
    rulebook()
    sim.configure(namespace, vm, target_node="hv2", fail_at="Running")
    sim.migrate(namespace, vm, name="mig1")
    # Running is only reached once prepare has bound the ports on hv2 (the CNI waits for it).
    sim.wait_phase(namespace, "mig1", "Failed", timeout=CNI_TIMEOUT + 60)
    settled(ovn_sandbox, ports, {"requested-chassis": "hv1"}, "hv1")


def test_a_rulebook_restarted_mid_migration_finishes_the_job(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    namespace, vm, ports = vm_on_hv1(sim, ovn_vm)
    first = rulebook("first")
    sim.configure(namespace, vm, target_node="hv2", hold_at="Running")
    sim.migrate(namespace, vm, name="mig1")
    sim.wait_phase(namespace, "mig1", "Running", timeout=CNI_TIMEOUT + 60)
    settled_prepared = {"requested-chassis": "hv1,hv2", "activation-strategy": "rarp"}
    ovn_sandbox.wait_for(lambda: all(options(ovn_sandbox, p) == settled_prepared for p in ports), timeout=120,
                         what="prepared by the first rulebook")
    first.stop()
    sim.release(namespace, "mig1")                           # the migration ends while no rulebook runs
    assert sim.wait_phase(namespace, "mig1", ["Succeeded", "Failed"])["status"]["phase"] == "Succeeded"
    # Nobody has cut over yet; Kube-OVN may have wiped both keys when the source pod ended.
    left = [options(ovn_sandbox, p) for p in ports]
    assert all(o in (settled_prepared, {}) for o in left), left
    second = rulebook("second")
    settled(ovn_sandbox, ports, {"requested-chassis": "hv2"}, "hv2")
    assert "cutover" in second.log()
