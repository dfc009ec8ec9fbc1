"""Re-assert through the real ansible-rulebook on the real OVN sandbox: during a prepared migration the
owned keys are wiped as Kube-OVN wipes them when a pod of the VM is deleted
(CleanLogicalSwitchPortMigrateOptions: both keys off every port of the VM, one transaction); the event
source's NB watcher sees it, the planner decides prepare again, the rulebook's prepare rule restores
them. Asserted on NB options and SB Port_Binding rows; the time it took is printed (docs/eda.md has
the figures), never asserted."""
import time
from datetime import datetime

import pytest

from rulebook_process import rulebook_lab, vm_on_hv1
from test_rulebook_end_to_end import CNI_TIMEOUT, options, settled

pytestmark = pytest.mark.timeout(400)

PREPARED = {"requested-chassis": "hv1,hv2", "activation-strategy": "rarp"}


@pytest.fixture
def lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path):
    yield from rulebook_lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path, CNI_TIMEOUT)


def owned(sandbox, lsp):
    return dict((k, v) for k, v in (options(sandbox, lsp) or {}).items() if k in PREPARED)


def wipe(sandbox, ports):
    """Both keys off every port of the VM in one NB transaction, as Kube-OVN does."""
    args = []
    for lsp in ports:
        args += ["--", "remove", "Logical_Switch_Port", lsp, "options", "requested-chassis", "activation-strategy"]
    sandbox.nbctl(*args[1:])


def test_kube_ovns_wipe_during_a_prepared_migration_is_restored(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    namespace, vm, ports = vm_on_hv1(sim, ovn_vm)
    run = rulebook()
    sim.configure(namespace, vm, target_node="hv2", hold_at="Running")
    sim.migrate(namespace, vm, name="mig1")
    sim.wait_phase(namespace, "mig1", "Running", timeout=CNI_TIMEOUT + 60)
    ovn_sandbox.wait_for(lambda: all(owned(ovn_sandbox, p) == PREPARED for p in ports), timeout=120,
                         what="prepared by the rulebook")
    run.wait_log("re-assert on")

    for attempt in range(2):    # twice: the guard re-arms once its restore landed
        # No run in progress (one VM's runs wait for each other: the time would include the wait).
        ovn_sandbox.wait_for(lambda: run.log().count("PLAY RECAP") == run.log().count("PLAY ["), timeout=120,
                             what="the rulebook's runs finished")
        wiped_at = time.time()
        wipe(ovn_sandbox, ports)
        wiped = time.monotonic()
        assert all(owned(ovn_sandbox, p) == {} for p in ports)
        ovn_sandbox.wait_for(lambda: all(owned(ovn_sandbox, p) == PREPARED for p in ports), timeout=60,
                             what="keys restored after the wipe")
        restored = time.monotonic()
        for lsp in ports:
            ovn_sandbox.wait_for(lambda: _prepared_binding(ovn_sandbox.port_binding(lsp)), timeout=10,
                                 what="SB binding of %s back to hv1 + additional hv2" % lsp)
        print("re-assert %d: event %.2f s, NB keys restored %.2f s, SB %.2f s after the wipe" % (
            attempt + 1, _logged_after(run.log(), "INFO - re-assert " + namespace, wiped_at) - wiped_at,
            restored - wiped, time.monotonic() - wiped))
    assert run.log().count("kubeovn.live_migration.prepare :") >= 3, run.log()[-4000:]

    sim.release(namespace, "mig1")
    assert sim.wait_phase(namespace, "mig1", ["Succeeded", "Failed"])["status"]["phase"] == "Succeeded"
    settled(ovn_sandbox, ports, {"requested-chassis": "hv2"}, "hv2")


def _logged_after(log, text, since):
    """The time (epoch seconds) of the first log line holding `text` logged after `since`."""
    for line in log.splitlines():
        if text in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= since - 0.01:
                return stamp
    raise AssertionError("no %r in the rulebook log" % text)


def _prepared_binding(binding):
    binding = binding or {}
    return (binding.get("requested_chassis"), binding.get("requested_additional_chassis"),
            binding.get("chassis"), binding.get("additional_chassis")) == ("hv1", ["hv2"], "hv1", ["hv2"])
