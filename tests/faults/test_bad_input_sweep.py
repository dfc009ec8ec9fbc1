"""Bad input to every option of the four modules, table-driven, in ONE ansible-playbook run: wrong
types, empty strings, unknown states, names with commas, spaces, quotes, newlines and shell
metacharacters, things that do not exist, a VMI without OVN ports, an NB that is an SB or an
Open_vSwitch database, remotes that are not remotes. Each case: a clean failure whose msg names
the option or the problem, and nothing written (the NB and the Kubernetes store as they were)."""
import json

import pytest

from ansible_run import clean_failure_problem
from fault_helpers import make_vm, nb_snapshot, owned_options, run_tasks, run_tasks_parallel

NS = "vms"
ODD_NAMES = {
    "comma": "a,b", "space": "a b", "double quote": 'a"b', "single quote": "a'b", "newline": "a\nb",
    "semicolon": "a;reboot", "command substitution": "$(id)", "backtick": "`id`",
}
SHARED_ODD = ("space", "double quote", "newline", "command substitution")


def ovn_cases(sb, lsp, router_port):
    """(id, module, args, fragments); args are merged into a valid base for the module."""
    ovs_db = "unix:%s" % (sb.workdir / "hv1" / "db.sock")
    cases = []

    def add(cid, module, fragments, **args):
        cases.append((cid, module, args, fragments))

    for module in ("ovn_lsp", "ovn_lsp_info"):
        m = module
        add(m + " NB is an SB", m, ["serves OVN_Southbound, not OVN_Northbound"], ovn_nb_connection=sb.sb_remote)
        add(m + " NB is an Open_vSwitch db", m, ["serves Open_vSwitch, not OVN_Northbound"], ovn_nb_connection=ovs_db)
        add(m + " SB is an NB", m, ["ovn_sb_connection", "serves OVN_Northbound, not OVN_Southbound"],
            ovn_sb_connection=sb.nb_remote)
        remotes = [
            ("words", "not a remote", "Unsupported OVSDB remote"),
            ("no port", "tcp:127.0.0.1", "is not tcp:IP:PORT"),
            ("port out of range", "tcp:127.0.0.1:99999", "invalid port"),
            ("port not a number", "tcp:127.0.0.1:abc", "is not tcp:IP:PORT"),
            ("passive remote", "ptcp:6641", "Unsupported OVSDB remote"),
            ("trailing comma", sb.nb_remote + ",", "Empty entry"),
            ("newline", sb.nb_remote + "\nrm -rf /", "ovn_nb_connection"),
            ("empty unix", "unix:", "no socket path"),
            ("shell", "$(id)", "Unsupported OVSDB remote"),
            ("ssl without key material", "ssl:127.0.0.1:6641", "ssl: remotes need private_key")]
        # ovn_lsp_info parses remotes with the same code: three of them are enough there.
        for cid, remote, fragment in remotes if m == "ovn_lsp" else remotes[::4]:
            add("%s ovn_nb_connection %s" % (m, cid), m, [fragment], ovn_nb_connection=remote)
        add(m + " connect_timeout not a number", m, ["connect_timeout"], connect_timeout="soon")
        add(m + " vmi empty", m, ["vmi must not be empty"], ports=None, vmi="", namespace=NS)
        add(m + " namespace empty", m, ["namespace must not be empty"], ports=None, vmi="db-0", namespace="")
        add(m + " vmi without namespace", m, ["vmi", "namespace"], ports=None, vmi="db-0")
        add(m + " ports and vmi", m, ["mutually exclusive"], vmi="db-0", namespace=NS)
        add(m + " unknown option", m, ["Unsupported parameters", "colour"], colour="red")
    m = "ovn_lsp"
    add("ovn_lsp ports empty list", m, ["ports must be a non-empty list"], ports=[])
    add("ovn_lsp ports empty name", m, ["ports must be a non-empty list"], ports=[""])
    # Ansible turns a list or dict given for a str into its text: the lookup then finds nothing.
    add("ovn_lsp ports a dict", m, ["No Logical_Switch_Port named {"], ports=[{"name": lsp}])
    add("ovn_lsp vmi a list", m, ["No port found", "pod=%s/['a', 'b']" % NS], ports=None, vmi=["a", "b"], namespace=NS)
    add("ovn_lsp port does not exist", m, ["No Logical_Switch_Port named ghost.nowhere"], ports=["ghost.nowhere"])
    add("ovn_lsp port is a router port", m, ["Only VIF ports", router_port], ports=[router_port])
    add("ovn_lsp one of two ports missing", m, ["No Logical_Switch_Port named ghost.nowhere"], ports=[lsp, "ghost.nowhere"])
    add("ovn_lsp namespace does not exist", m, ["No port found", "pod=nowhere/db-0"], ports=None, vmi="db-0", namespace="nowhere")
    add("ovn_lsp VMI does not exist", m, ["No port found", "pod=%s/ghost" % NS], ports=None, vmi="ghost", namespace=NS)
    add("ovn_lsp VMI without OVN ports", m, ["No port found", "pod=%s/db-0" % NS], ports=None, vmi="db-0", namespace=NS)
    for cid, name in ODD_NAMES.items():
        # Every odd name for ports and target_chassis; vmi and source_chassis share their code paths.
        odd_options = ("target_chassis",) + (("vmi", "source_chassis") if cid in SHARED_ODD else ())
        refused = "," in name or " " in name or "\n" in name
        add("ovn_lsp port name with %s" % cid, m, ["No Logical_Switch_Port named"], ports=[name])
        if "vmi" in odd_options:
            add("ovn_lsp vmi with %s" % cid, m, ["No port found"], ports=None, vmi=name, namespace=NS)
        for option in ("source_chassis", "target_chassis"):
            if option in odd_options:
                add("ovn_lsp %s with %s" % (option, cid), m,
                    [option, "without commas or whitespace" if refused else "is not a chassis name"], **{option: name})
    for state in ("bogus", "", "Prepared", "present"):
        add("ovn_lsp state %r" % state, m, ["state", "prepared, cutover, rolled_back, pinned, absent"], state=state)
    add("ovn_lsp state a list", m, ["state"], state=["prepared"])
    add("ovn_lsp state missing", m, ["missing required arguments: state"], state=None)
    add("ovn_lsp prepared without target", m, ["target_chassis"], target_chassis=None)
    add("ovn_lsp cutover without target", m, ["target_chassis"], state="cutover", target_chassis=None)
    add("ovn_lsp rolled_back without source", m, ["source_chassis"], state="rolled_back", source_chassis=None)
    add("ovn_lsp empty source", m, ["source_chassis must not be empty"], source_chassis="")
    add("ovn_lsp blank target", m, ["target_chassis must not be empty"], target_chassis="   ")
    add("ovn_lsp same chassis", m, ["both 'hv1'"], target_chassis="hv1")
    add("ovn_lsp unknown chassis", m, ["Chassis hv9 not registered"], target_chassis="hv9")
    add("ovn_lsp chassis a number", m, ["not registered"], target_chassis=42)
    add("ovn_lsp activation_strategy garp", m, ["activation_strategy", "rarp"], activation_strategy="garp")
    add("ovn_lsp activation_strategy empty", m, ["activation_strategy"], activation_strategy="")
    add("ovn_lsp verify_chassis not a bool", m, ["verify_chassis"], verify_chassis="perhaps")
    add("ovn_lsp wait unknown", m, ["wait", "none, sb, hv"], wait="forever")
    add("ovn_lsp wait a number", m, ["wait", "none, sb, hv or a boolean"], wait=3)
    add("ovn_lsp wait_timeout zero", m, ["wait_timeout must be positive"], wait_timeout=0)
    add("ovn_lsp wait_timeout negative", m, ["wait_timeout must be positive"], wait_timeout=-5)
    add("ovn_lsp wait_timeout words", m, ["wait_timeout"], wait_timeout="a while")
    m = "ovn_lsp_info"
    add("ovn_lsp_info no selector", m, ["give ports, vmi and namespace, or only_migrating"], ports=None)
    add("ovn_lsp_info ports empty name", m, ["ports must hold port names"], ports=["", lsp])
    add("ovn_lsp_info only_migrating not a bool", m, ["only_migrating"], only_migrating="sometimes")
    return cases


def k8s_cases(emulator, kubeconfig, tmp_path):
    cases = []

    def add(cid, module, fragments, **args):
        cases.append((cid, module, args, fragments))

    for m in ("vmim", "vmim_info"):
        add(m + " kubeconfig missing", m, ["cannot load kubeconfig", "nope"], kubeconfig=str(tmp_path / "nope"))
        add(m + " kubeconfig not yaml", m, ["kubeconfig"], kubeconfig=str(tmp_path / "garbage"))
        add(m + " context unknown", m, ["context", "nope"], context="nope")
        add(m + " host not a URL", m, ["Kubernetes API"], kubeconfig=None, host="not a url", api_key="x")
        add(m + " wrong token", m, ["401"], kubeconfig=None, host=emulator.url, api_key="wrong")
        add(m + " wait_timeout zero", m, ["wait_timeout must be a positive number"], wait_timeout=0)
        add(m + " wait_timeout words", m, ["wait_timeout"], wait_timeout="later")
        add(m + " unknown option", m, ["Unsupported parameters", "colour"], colour="red")
    m = "vmim"
    add("vmim namespace missing", m, ["namespace"], namespace=None)
    add("vmim state unknown", m, ["state", "present, absent"], state="migrated")
    add("vmim vmi missing", m, ["vmi"], vmi=None)
    add("vmim VMI does not exist", m, ["VirtualMachineInstance %s/ghost not found" % NS], vmi="ghost")
    add("vmim namespace does not exist", m, ["VirtualMachineInstance nowhere/db-0 not found"], namespace="nowhere")
    add("vmim VMI not running", m, ["is Scheduling, not Running"], vmi="db-pending")
    add("vmim name of another VMI's migration", m, ["already exists and migrates VMI other-0"], name="m-other")
    add("vmim absent without name or vmi", m, ["state=absent needs the migration to cancel"], state="absent", vmi=None)
    add("vmim labels not a dict", m, ["labels"], labels="not a dict")
    add("vmim wait not a bool", m, ["wait"], wait="often")
    add("vmim namespace a list", m, ["VirtualMachineInstance ['a']/db-0 not found"], namespace=["a"])
    for cid in SHARED_ODD:
        add("vmim vmi with %s" % cid, m, ["not found"], vmi=ODD_NAMES[cid])
    m = "vmim_info"
    add("vmim_info name without namespace", m, ["missing parameter(s) required by 'name': namespace"],
        namespace=None, name="m1")
    add("vmim_info wait_for unknown phase", m, ["wait_for must be one or more of"], name="m-other", wait_for=["Done"])
    add("vmim_info wait_for target_scheduled with phases", m, ["target_scheduled cannot be combined"],
        name="m-other", wait_for=["target_scheduled", "Running"])
    add("vmim_info wait_for without a migration", m, ["wait_for needs the migration to wait for"], wait_for=["Running"])
    add("vmim_info label selector not a selector", m, ["HTTP 400", "unable to parse requirement"], label_selectors=["a b c"])
    add("vmim_info label_selectors a dict", m, ["label_selectors"], label_selectors={"a": "b"})
    return cases


def build(cases, bases):
    tasks = []
    for _cid, module, args, _fragments in cases:
        merged = dict(bases[module])
        merged.update(args)
        tasks.append((module, {k: v for k, v in merged.items() if v is not None}))
    return tasks


@pytest.fixture(scope="module")
def sweep(ovn_sandbox, tmp_path_factory):
    """Run every case once (one ansible-playbook run) and return [(id, problem or None)]."""
    from k8s_emulator import K8sEmulator
    sb = ovn_sandbox
    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "garbage").write_text("{{{ this is: [not yaml")
    vm = make_vm(sb, providers=())
    lsp = vm["ports"][0]
    router_port = "rp-" + vm["vm"]
    sb.nbctl("lsp-add", "ovn-default", router_port, "--", "lsp-set-type", router_port, "router")
    sb.nbctl("set", "Logical_Switch_Port", lsp, "options:requested-chassis=hv1", "options:other-writer=kept")
    with K8sEmulator.as_deployed() as emulator:
        kubeconfig = str(emulator.write_kubeconfig(tmp / "kubeconfig"))
        for name, phase in (("db-0", "Running"), ("other-0", "Running"), ("db-pending", "Scheduling")):
            emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                             "metadata": {"name": name, "namespace": NS}, "spec": {},
                             "status": {"phase": phase, "nodeName": "hv1"}})
        emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                         "metadata": {"name": "m-other", "namespace": NS}, "spec": {"vmiName": "other-0"},
                         "status": {"phase": "Succeeded"}})
        bases = {
            "ovn_lsp": {"ovn_nb_connection": sb.nb_remote, "ovn_sb_connection": sb.sb_remote, "ports": [lsp],
                        "state": "prepared", "source_chassis": "hv1", "target_chassis": "hv2", "wait": "sb"},
            "ovn_lsp_info": {"ovn_nb_connection": sb.nb_remote, "ovn_sb_connection": sb.sb_remote, "ports": [lsp]},
            "vmim": {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "name": "m-other"},
            "vmim_info": {"kubeconfig": kubeconfig, "namespace": NS},
        }
        # Cases that reach the database must find nothing to do wrong, so the vmim base names an
        # existing, ended migration of another VMI: a valid run would fail, never create.
        bases["vmim"].pop("name")
        cases = ovn_cases(sb, lsp, router_port) + k8s_cases(emulator, kubeconfig, tmp)
        for cid, module, args, fragments in cases:
            if module == "vmim" and "vmi" not in args and "name" not in args and "state" not in args:
                args.setdefault("name", "m-other")
        nb_before = nb_snapshot(sb)
        k8s_before = k8s_snapshot(emulator)
        results, output = run_tasks_parallel(build(cases, bases))
        nb_after = nb_snapshot(sb)
        k8s_after = k8s_snapshot(emulator)
    outcome = []
    for (cid, _module, _args, fragments), result in zip(cases, results):
        outcome.append((cid, clean_failure_problem(result, fragments)))
    return {"outcome": outcome, "nb": (nb_before, nb_after), "k8s": (k8s_before, k8s_after), "output": output}


def k8s_snapshot(emulator):
    objs = emulator.list("virtualmachineinstancemigrations") + emulator.list("virtualmachineinstances")
    return sorted(json.dumps({"kind": o.get("kind"), "metadata": {k: o["metadata"].get(k) for k in ("namespace", "name")},
                              "spec": o.get("spec")}, sort_keys=True) for o in objs)


def test_every_bad_input_fails_cleanly_and_writes_nothing(sweep):
    outcome = sweep["outcome"]
    problems = {cid: p for cid, p in outcome if p}
    passed = sum(1 for _cid, p in outcome if p is None)
    print("\nbad-input sweep: %d cases tried, %d passed" % (len(outcome), passed))
    assert not problems, json.dumps(problems, indent=1)
    assert sweep["nb"][0] == sweep["nb"][1], "the NB changed"
    assert sweep["k8s"][0] == sweep["k8s"][1], "the Kubernetes store changed"
    assert "Traceback" not in sweep["output"]


@pytest.fixture(scope="module")
def bug_probes(ovn_sandbox):
    """Cases that once slipped through, each on a VM of its own: {id: (result, NB before, NB after)}."""
    sb = ovn_sandbox
    probes = {
        # Without ovn_sb_connection only the name's syntax protects requested-chassis.
        "chassis with a double quote, no SB": {"target_chassis": 'hv"2'},
        "chassis with shell metacharacters, no SB": {"target_chassis": "hv2;reboot"},
        "negative connect_timeout": {"target_chassis": "hv2", "connect_timeout": -1},
    }
    tasks, ports = [], {}
    for cid, extra in probes.items():
        lsp = make_vm(sb, providers=())["ports"][0]
        ports[cid] = lsp
        tasks.append(("ovn_lsp", dict({"ovn_nb_connection": sb.nb_remote, "ports": [lsp], "state": "prepared",
                                       "source_chassis": "hv1"}, **extra)))
    before = {cid: owned_options(sb, [lsp]) for cid, lsp in ports.items()}
    results = run_tasks(tasks)[0]
    return {cid: (result, before[cid], owned_options(sb, [ports[cid]])) for cid, result in zip(probes, results)}


def test_chassis_name_with_a_quote_is_refused_without_sb(bug_probes):
    result, before, after = bug_probes["chassis with a double quote, no SB"]
    assert clean_failure_problem(result, ["target_chassis"]) is None, result
    assert after == before


def test_chassis_name_with_shell_metacharacters_is_refused_without_sb(bug_probes):
    result, before, after = bug_probes["chassis with shell metacharacters, no SB"]
    assert clean_failure_problem(result, ["target_chassis"]) is None, result
    assert after == before


def test_negative_connect_timeout_fails_cleanly(bug_probes):
    result, before, after = bug_probes["negative connect_timeout"]
    assert after == before
    assert clean_failure_problem(result, ["connect_timeout"]) is None, result
