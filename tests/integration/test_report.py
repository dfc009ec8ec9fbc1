"""The `report` playbook (kubeovn.live_migration.report) on the Kubernetes API emulator driven by the
simulated KubeVirt, with the collection's Events posted by vmi_event and the VMs' ports in a real
OVN Northbound database."""
import json
import re

from kubernetes import client

from ansible_run import assert_ok, run_playbook, run_tasks
from test_vmim_helpers import until

NS = "report"
FAILED_AT = "TargetReady"


def table_lines(output):
    """The lines the `Recent migrations` task printed."""
    start = output.index("TASK [Recent migrations]")
    brace = output.index("{", output.index("=>", start))
    return json.JSONDecoder().raw_decode(output[brace:])[0]["msg"]


def cells(line):
    return re.split(r"\s{2,}", line.strip())


def run_report(tmp_path, kubeconfig, extra_vars, name="rows.json"):
    """Run the report playbook, then read its `report_rows` fact back: (run, table, rows)."""
    out = tmp_path / name
    wrapper = tmp_path / ("wrap-" + name + ".yml")
    wrapper.write_text(json.dumps([
        {"import_playbook": "kubeovn.live_migration.report"},
        {"hosts": "localhost", "gather_facts": False, "tasks": [
            {"ansible.builtin.copy": {"content": "{{ report_rows | to_json }}", "dest": str(out)}}]},
    ]))
    run = run_playbook(wrapper, extra_vars=extra_vars, env={"K8S_AUTH_KUBECONFIG": kubeconfig})
    assert run.rc == 0, run.output
    return run, table_lines(run.output), json.loads(out.read_text())


def event(kubeconfig, vmi, reason, vmim, **extra):
    args = {"kubeconfig": kubeconfig, "namespace": (vmim or {}).get("metadata", {}).get("namespace", NS), "vmi": vmi,
            "reason": reason}
    if vmim:
        args.update(migration=vmim["metadata"]["name"], migration_uid=vmim["metadata"]["uid"])
    args.update(extra)
    return ("vmi_event", args)


def test_report_prints_a_row_per_migration(ovn_sandbox, ovn_vm, k8s_emulator, kubeconfig, kubevirt_sim, tmp_path):
    sb, sim = ovn_sandbox, kubevirt_sim
    vms = dict((name, ovn_vm(namespace=NS, vm=name, providers=providers))
               for name, providers in (("db-0", ()), ("web-1", ()), ("app-2", ("net1",)), ("job-3", ())))
    for name in vms:
        sim.create_vmi(NS, name, "hv1")
    # A VM of another namespace, with no OVN ports at all.
    sim.create_vmi("other", "solo", "hv2")

    succeeded = sim.migrate(NS, "db-0", target_node="hv2")
    failed = sim.migrate(NS, "web-1", target_node="hv2", fail_at=FAILED_AT)
    sim.configure(NS, "app-2", target_node="hv3", hold_at="Running")
    in_flight = sim.migrate(NS, "app-2")
    sim.configure(NS, "job-3", target_node="hv2", hold_at="Running")
    aborted = sim.migrate(NS, "job-3")
    solo = sim.migrate("other", "solo", target_node="hv3")
    for vmim, phase in ((succeeded, "Succeeded"), (failed, "Failed"), (in_flight, "Running"), (aborted, "Running"),
                        (solo, "Succeeded")):
        sim.wait_phase(vmim["metadata"]["namespace"], vmim["metadata"]["name"], phase)

    # The ports as the roles leave them: cut over, rolled back, prepared (two NICs), untouched.
    for port in vms["db-0"]["ports"]:
        sb.nbctl("set", "Logical_Switch_Port", port["name"], "options:requested-chassis=hv2")
    for port in vms["web-1"]["ports"]:
        sb.nbctl("set", "Logical_Switch_Port", port["name"], "options:requested-chassis=hv1")
    for port in vms["app-2"]["ports"]:
        sb.nbctl("set", "Logical_Switch_Port", port["name"], 'options:requested-chassis="hv1,hv3"',
                 "options:activation-strategy=rarp")

    # The Events the roles post: with their figures for db-0, without for web-1 (times estimated).
    posts = run_tasks([
        event(kubeconfig, "db-0", "NetworkPrepared", succeeded, annotations={"seconds-to-prepare": 0.42}),
        event(kubeconfig, "db-0", "NetworkCutover", succeeded, annotations={"seconds-to-cutover": 0.31}),
        event(kubeconfig, "web-1", "NetworkPrepared", failed),
        event(kubeconfig, "web-1", "NetworkRolledBack", failed),
        event(kubeconfig, "app-2", "NetworkPrepared", in_flight),
        event(kubeconfig, "job-3", "NetworkPrepared", aborted,
              annotations={"source-node": "hv1", "target-node": "hv2"}),
    ])
    assert all(assert_ok(p)["posted"] for p in posts)
    # job-3's migration is cancelled (its VMIM deleted), then rolled back: only the Events remember it.
    client.CustomObjectsApi(k8s_emulator.api_client()).delete_namespaced_custom_object(
        "kubevirt.io", "v1", NS, "virtualmachineinstancemigrations", aborted["metadata"]["name"])
    sim.release(NS, aborted["metadata"]["name"])
    assert_ok(run_tasks([event(kubeconfig, "job-3", "NetworkRolledBack", aborted)])[0])
    until(lambda: k8s_emulator.get("vmim", NS, aborted["metadata"]["name"]) is None, "the aborted VMIM to go")

    ovn = {"ovn_nb_connection": sb.nb_remote}
    run, lines, rows = run_report(tmp_path, kubeconfig, dict(ovn, namespace=NS))
    header = cells(lines[0])
    assert header == ["STARTED", "VM", "SOURCE \u2192 TARGET", "OUTCOME", "NETWORK", "PREPARE", "CUTOVER", "LSP"]
    table = dict((cells(line)[1], dict(zip(header, cells(line)))) for line in lines[1:])
    assert set(table) == {"db-0", "web-1", "app-2", "job-3"}, lines
    assert table["db-0"] == dict(table["db-0"], **{
        "SOURCE \u2192 TARGET": "hv1 \u2192 hv2", "OUTCOME": "Succeeded", "NETWORK": "NetworkCutover",
        "PREPARE": "0.42s", "CUTOVER": "0.31s", "LSP": "hv2"})
    assert table["web-1"]["OUTCOME"] == "Failed" and table["web-1"]["NETWORK"] == "NetworkRolledBack"
    assert table["web-1"]["SOURCE \u2192 TARGET"] == "hv1 \u2192 hv2" and table["web-1"]["LSP"] == "hv1"
    assert re.match(r"^~\d+s$", table["web-1"]["PREPARE"]) and re.match(r"^rollback ~\d+s$", table["web-1"]["CUTOVER"])
    assert table["app-2"] == dict(table["app-2"], **{
        "SOURCE \u2192 TARGET": "hv1 \u2192 hv3", "OUTCOME": "in flight (Running)", "NETWORK": "NetworkPrepared",
        "CUTOVER": "-", "LSP": "hv1,hv3 rarp"})
    assert table["job-3"] == dict(table["job-3"], **{
        "SOURCE \u2192 TARGET": "hv1 \u2192 hv2", "OUTCOME": "Deleted", "NETWORK": "NetworkRolledBack",
        "PREPARE": "-", "CUTOVER": "rollback", "LSP": "unset"})
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", row["STARTED"]) for row in table.values())
    # Column alignment: every line starts its VM column at the same offset.
    assert len(set(line.index(cells(line)[1]) for line in lines)) == 1

    by_vm = dict((r["vmi"], r) for r in rows)
    assert len(rows) == 4 and set(by_vm) == set(table)
    db0 = by_vm["db-0"]
    assert (db0["migration"], db0["migration_uid"], db0["phase"]) == (
        succeeded["metadata"]["name"], succeeded["metadata"]["uid"], "Succeeded")
    assert (db0["seconds_to_prepare"], db0["prepare_estimated"], db0["seconds_to_cutover"], db0["end_action"]) == (
        0.42, False, 0.31, "cutover")
    assert db0["events"] == ["NetworkPrepared", "NetworkCutover"]
    assert db0["lsp_ports"] == [{"name": vms["db-0"]["ports"][0]["name"], "requested_chassis": ["hv2"],
                                 "activation_strategy": None}]
    assert by_vm["web-1"]["prepare_estimated"] is True and by_vm["web-1"]["end_action"] == "rollback"
    assert by_vm["job-3"]["phase"] is None and by_vm["job-3"]["migration_uid"] == aborted["metadata"]["uid"]
    assert len(by_vm["app-2"]["lsp_ports"]) == 2

    # One VM; the whole cluster (names carry the namespace) with a row limit; OVN unreachable.
    _run, one, one_rows = run_report(tmp_path, kubeconfig, dict(ovn, namespace=NS, vmi="db-0"), "one.json")
    assert len(one) == 2 and cells(one[1])[1] == "db-0" and [r["vmi"] for r in one_rows] == ["db-0"]
    _run, everywhere, _rows = run_report(tmp_path, kubeconfig, ovn, "all.json")
    vm_column = [cells(line)[1] for line in everywhere[1:]]
    assert set(vm_column) == {"report/db-0", "report/web-1", "report/app-2", "report/job-3", "other/solo"}
    solo_row = [dict(zip(header, cells(line))) for line in everywhere[1:] if "other/solo" in line][0]
    assert (solo_row["OUTCOME"], solo_row["NETWORK"], solo_row["PREPARE"], solo_row["LSP"]) == (
        "Succeeded", "-", "-", "no ports")
    _run, limited, _rows = run_report(tmp_path, kubeconfig, dict(ovn, limit=2), "limited.json")
    assert len(limited) == 3
    unreachable = {"namespace": NS, "ovn_nb_connection": "tcp:127.0.0.1:9", "ovn_connect_timeout": 2}
    no_ovn, blind, _rows = run_report(tmp_path, kubeconfig, unreachable, "blind.json")
    assert [cells(line)[-1] for line in blind[1:]] == ["?"] * 4
    assert "no LSP state: " in no_ovn.output and "127.0.0.1:9" in no_ovn.output


def test_report_without_events_permission_and_bad_extra_vars(k8s_emulator, kubeconfig, kubevirt_sim, tmp_path):
    kubevirt_sim.create_vmi(NS, "db-0", "hv1")
    vmim = kubevirt_sim.migrate(NS, "db-0", target_node="hv2")
    kubevirt_sim.wait_phase(NS, vmim["metadata"]["name"], "Succeeded")
    k8s_emulator.deny("list", "events")
    run, lines, rows = run_report(tmp_path, kubeconfig, {"namespace": NS, "ovn_nb_connection": "tcp:127.0.0.1:9",
                                                         "ovn_connect_timeout": 1})
    row = dict(zip(cells(lines[0]), cells(lines[1])))
    assert (row["VM"], row["OUTCOME"], row["PREPARE"], row["CUTOVER"]) == ("db-0", "Succeeded", "-", "-")
    assert "no times: forbidden" in run.output and rows[0]["network"] is None

    env = {"K8S_AUTH_KUBECONFIG": kubeconfig}
    no_namespace = run_playbook("kubeovn.live_migration.report", extra_vars={"vmi": "db-0"}, env=env)
    assert no_namespace.rc != 0 and "vmi needs namespace: -e namespace=NS -e vmi=db-0" in no_namespace.output
    bad_limit = run_playbook("kubeovn.live_migration.report", extra_vars={"limit": "many"}, env=env)
    assert bad_limit.rc != 0 and "limit must be a whole number of rows (0 = all), not many" in bad_limit.output
    assert "Traceback" not in no_namespace.output + bad_limit.output
