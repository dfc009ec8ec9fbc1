"""The real ansible-rulebook with the collection's rulebook after a node drain: three migrations, prepared,
succeed while no rulebook runs; when it starts, the source replays their cutovers - the first as its own
event, the others as one cutover_batch - and the rules start two cutover playbooks, not three. Every port
then sits on the target only (NB and SB). Kubernetes emulator, simulated KubeVirt, real OVN."""
import json

import pytest

from rulebook_process import Rulebook

pytestmark = pytest.mark.timeout(400)


def options(sandbox, lsp):
    raw = sandbox.nbctl("--format=json", "--columns=options", "find", "Logical_Switch_Port", "name=" + lsp)
    rows = json.loads(raw)["data"]
    ours = dict(rows[0][0][1]) if rows else {}
    return dict((k, v) for k, v in ours.items() if k in ("requested-chassis", "activation-strategy"))


def test_a_drain_is_cut_over_in_two_runs(k8s_emulator, ovn_sandbox, ovn_vm, kubeconfig, tmp_path):
    from kubevirt_sim import KubevirtSim
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05) as sim:
        namespace, ports, migrations = None, [], []
        for index in range(3):
            vm = ovn_vm(providers=("net1",) if index == 0 else (), hv="hv1", namespace=namespace)
            namespace = vm["namespace"]
            sim.create_vmi(namespace, vm["vm"], "hv1", ports=vm["ports"])
            sim.configure(namespace, vm["vm"], target_node="hv2")
            ports += [p["name"] for p in vm["ports"]]
            for port in vm["ports"]:      # prepared (an earlier rulebook run did it)
                ovn_sandbox.nbctl("set", "Logical_Switch_Port", port["name"], "options:requested-chassis=hv1,hv2",
                                  "options:activation-strategy=rarp")
            migrations.append(sim.migrate(namespace, vm["vm"], name="mig-" + vm["vm"])["metadata"]["name"])
        for migration in migrations:
            assert sim.wait_phase(namespace, migration, ["Succeeded", "Failed"])["status"]["phase"] == "Succeeded"

        run = Rulebook(tmp_path, {"K8S_AUTH_KUBECONFIG": kubeconfig, "OVN_NB_DB": ovn_sandbox.nb_remote,
                                  "OVN_SB_DB": ovn_sandbox.sb_remote}, verbosity=2).start()
        try:
            def done():
                for lsp in ports:
                    binding = ovn_sandbox.port_binding(lsp) or {}
                    if options(ovn_sandbox, lsp) != {"requested-chassis": "hv2"} or binding.get("chassis") != "hv2" \
                            or binding.get("additional_chassis") or binding.get("requested_additional_chassis"):
                        return False
                return True
            ovn_sandbox.wait_for(done, timeout=240, what="every port on hv2 only, NB and SB")
            ovn_sandbox.wait_for(lambda: run.log().count("Ansible runner rc: 0") >= 2, timeout=120, what="two runs")
            log = run.log()
            # (-vv: the source's and ansible-rulebook's debug lines.)
            assert "event cutover_batch of 2 migrations" in log, log[-6000:]
            assert log.count("Calling Ansible runner") == 2, log[-6000:]
            assert log.count("kubeovn.live_migration.cutover :") and "kubeovn.live_migration.prepare :" not in log
        finally:
            run.stop()
