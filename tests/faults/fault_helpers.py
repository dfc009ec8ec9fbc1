"""Helpers of the fault tests (this file holds no tests): many module calls in one ansible-playbook
run, a VM made in any sandbox, and NB snapshots to prove that nothing was written."""
import json
import threading
import time
import uuid

import ansible_run
from ovn_sandbox.daemons import SandboxError
from ovn_sandbox.ovsdb_json import rows

OWNED = ("requested-chassis", "activation-strategy")


def run_tasks(tasks, env=None, verbosity=0, timeout=600):
    """ansible_run.run_tasks (one play, one ansible-playbook start), returning (results, output)."""
    results = ansible_run.run_tasks(tasks, env=env, verbosity=verbosity, timeout=timeout)
    return results, (results[0]["_output"] if results else "")


def run_tasks_parallel(tasks, chunks=3, **kwargs):
    """run_tasks over `chunks` ansible-playbook processes at once; results in task order."""
    size = -(-len(tasks) // chunks)
    parts = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    outcome = [None] * len(parts)

    def work(index):
        outcome[index] = run_tasks(parts[index], **kwargs)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if any(o is None for o in outcome):
        raise AssertionError("a chunk of the batch did not run")
    return [r for part in outcome for r in part[0]], "".join(part[1] for part in outcome)


def change(sandbox, vm, state, source="hv1", target="hv2", **extra):
    """ovn_lsp arguments that move every port of `vm` to `state`, waiting for the hypervisors."""
    args = dict(vmi=vm["vm"], namespace=vm["namespace"], state=state, source_chassis=source,
                target_chassis=target, wait="hv", wait_timeout=20)
    args.update(extra)
    return sandbox.module_args(**args)


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


def ports_seen_differing(sandbox, ports, worker, pause=0.0):
    """Poll the owned options of a VM's ports until `worker` (a thread) ends; then join it and
    return every snapshot in which the ports disagreed (a VM's ports change in one transaction)."""
    mixed = []
    while worker.is_alive():
        try:
            seen = owned_options(sandbox, ports)
        except SandboxError:          # no NB leader for ovn-nbctl at this instant
            continue
        if len(set(seen.values())) != 1:
            mixed.append(seen)
        if pause:
            time.sleep(pause)
    worker.join()
    return mixed
