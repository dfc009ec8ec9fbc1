"""Pin first, through the real ansible-rulebook (issue 12): a VM's ports start unpinned, as Kube-OVN
creates them; the event source emits `pin` when the VMIM appears with its source known, the rulebook's
pin rule binds the ports to the source before any target pod is scheduled, so the target pod's CNI plug
on hv2 cannot claim them. Asserted on NB options, SB Port_Binding rows and packets."""
import sys
from pathlib import Path

import pytest

from rulebook_process import rulebook_lab, vm_started_on_hv1
from test_rulebook_end_to_end import CNI_TIMEOUT, options, settled

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "extensions" / "molecule" / "harness"))
from probe import check_early_plug_is_not_claimed  # noqa: E402

pytestmark = pytest.mark.timeout(400)

OWNED = ("requested-chassis", "activation-strategy")


@pytest.fixture
def lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path):
    yield from rulebook_lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path, CNI_TIMEOUT, pinned_start=False)


def owned(sandbox, lsp):
    return dict((k, v) for k, v in (options(sandbox, lsp) or {}).items() if k in OWNED)


def test_the_rulebook_pins_before_the_target_pod_so_its_plug_never_claims_the_port(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    made = vm_started_on_hv1(sim, ovn_vm)
    namespace, vm = made["namespace"], made["vm"]
    ports = [p["name"] for p in made["ports"]]
    assert all(owned(ovn_sandbox, p) == {} for p in ports)      # as Kube-OVN creates them
    run = rulebook()
    run.wait_log("re-assert on")
    # Held before the scheduler binds the target pod: only a pin can be decided.
    sim.configure(namespace, vm, target_node="hv2", hold_at="Scheduling")
    sim.migrate(namespace, vm, name="mig-pin")
    sim.wait_phase(namespace, "mig-pin", "Scheduling")
    ovn_sandbox.wait_for(lambda: all(owned(ovn_sandbox, p) == {"requested-chassis": "hv1"} for p in ports),
                         timeout=120, what="pinned to hv1 by the rulebook")
    # Nothing but the rulebook's pin rule writes requested-chassis here (the simulated Kube-OVN only removes it).
    assert "PLAY [Pin migrating VMIs' ports to the source chassis]" in run.log(), run.log()[-4000:]

    # The target pod's CNI plugs the VM's iface-ids on hv2 before any prepare: hv2 must not claim them.
    check_early_plug_is_not_claimed(ovn_sandbox, made["ports"])

    # The scheduler binds the target pod: the rulebook prepares, the simulated CNI (which gives up after
    # CNI_TIMEOUT unless the port is bound on hv2) goes on, the migration succeeds and is cut over.
    sim.release(namespace, "mig-pin")
    assert sim.wait_phase(namespace, "mig-pin", ["Succeeded", "Failed"], timeout=CNI_TIMEOUT + 120)["status"]["phase"] \
        == "Succeeded", run.log()[-4000:]
    settled(ovn_sandbox, ports, {"requested-chassis": "hv2"}, "hv2")
