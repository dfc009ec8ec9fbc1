"""Helpers of the fault tests (this file holds no tests): many module calls in one ansible-playbook
run, a VM made in any sandbox, and NB snapshots to prove that nothing was written."""
import json
import tempfile
import uuid
from pathlib import Path

from ansible_run import NO_TRACEBACK, run_playbook
from ovn_sandbox.ovsdb_json import rows

FQCN = "kubeovn.live_migration."
OWNED = ("requested-chassis", "activation-strategy")


def run_tasks(tasks, env=None, verbosity=0, timeout=600):
    """Run (module, args) tasks in ONE play, each with ignore_errors, and return (results, output).

    Every result carries `failed`; a crash shows as module_stderr or a traceback in `exception`.
    """
    with tempfile.TemporaryDirectory(prefix="klm-faults-") as tmp:
        out = Path(tmp) / "results.json"
        play_tasks = []
        for index, (module, args) in enumerate(tasks):
            play_tasks.append({FQCN + module: args, "register": "r%d" % index, "ignore_errors": True})
        names = ", ".join("r%d" % i for i in range(len(tasks)))
        play_tasks.append({"ansible.builtin.copy": {"content": "{{ [%s] | to_json }}" % names, "dest": str(out)},
                           "check_mode": False, "diff": False, "no_log": True})
        playbook = Path(tmp) / "play.yml"
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": play_tasks}]))
        args = ["-" + "v" * verbosity] if verbosity else []
        run = run_playbook(playbook, env=env, args=args, timeout=timeout)
        if not out.exists():
            raise AssertionError("playbook did not run:\n" + run.output[-4000:])
        return json.loads(out.read_text()), run.output


def clean_failure_problem(result, fragments=()):
    """None when `result` is a clean failure whose msg holds every fragment, else what is wrong."""
    if not result.get("failed"):
        return "did not fail"
    if result.get("exception") not in (None, NO_TRACEBACK) or "module_stderr" in result:
        return "crashed: %s" % (result.get("exception") or result.get("module_stderr"))
    msg = result.get("msg", "")
    if not msg or "Traceback" in msg:
        return "no clean msg: %r" % msg
    missing = [f for f in fragments if f.lower() not in msg.lower()]
    if missing:
        return "msg %r lacks %r" % (msg, missing)
    return None


def make_vm(sandbox, hv="hv1", providers=("net1",)):
    """A VM with a primary port and one attachment port per provider, bound on `hv`."""
    suffix = uuid.uuid4().hex[:6]
    namespace, vm = "ns-" + suffix, "vm-" + suffix
    ports = sandbox.create_vm(namespace, vm, providers=providers)
    chassis = sandbox.chassis_name(hv)
    for port in ports:
        sandbox.add_vm_port(hv, port["name"])
    for port in ports:
        sandbox.wait_for(lambda: (sandbox.port_binding(port["name"]) or {}).get("chassis") == chassis,
                         what="%s bound on %s" % (port["name"], hv))
    return {"namespace": namespace, "vm": vm, "ports": [p["name"] for p in ports]}


def owned_options(sandbox, names):
    """{port: (requested-chassis, activation-strategy)} as the NB holds them now."""
    found = rows(sandbox.nbctl("--format=json", "--columns=name,options", "list", "Logical_Switch_Port"))
    by_name = {r["name"]: r["options"] for r in found}
    return {n: tuple(by_name.get(n, {}).get(k) for k in OWNED) for n in names}


def nb_snapshot(sandbox):
    """Every LSP's options and external_ids, and NB_Global nb_cfg: equal before and after = nothing written."""
    ports = rows(sandbox.nbctl("--format=json", "--columns=name,options,external_ids,type", "list", "Logical_Switch_Port"))
    nb_cfg = sandbox.nbctl("get", "NB_Global", ".", "nb_cfg").strip()
    return sorted(json.dumps(p, sort_keys=True) for p in ports), nb_cfg


def expected_options(state, source="hv1", target="hv2"):
    return {"prepared": ("%s,%s" % (source, target), "rarp"), "cutover": (target, None),
            "rolled_back": (source, None), "absent": (None, None)}[state]
