"""Shared helpers of the vmim/vmim_info integration tests (this file holds no tests)."""
import json
import tempfile
import threading
from pathlib import Path

import ansible_run
from ansible_run import run_module, run_playbook

NS = "vms"
VMIMS = "virtualmachineinstancemigrations"
FQCN = "kubeovn.live_migration."


def assert_clean_failure(result, *fragments):
    """ansible_run's check, minus the placeholder ansible-core 2.19 puts on every failed result.
    A real crash still shows: MODULE FAILURE carries module_stderr, and the output a Traceback."""
    result = dict(result)
    if result.get("exception") == "(traceback unavailable)":
        del result["exception"]
    assert "Traceback" not in result.get("_output", ""), result.get("_output")
    ansible_run.assert_clean_failure(result, *fragments)


def run_tasks(tasks, env=None):
    """Run several tasks in one play (one ansible-playbook start) and return their results in order.
    A task is (module, args) or (module, args, keywords) with task keywords such as check_mode, diff."""
    with tempfile.TemporaryDirectory(prefix="klm-vmim-") as tmp:
        out = Path(tmp) / "results.json"
        play_tasks = []
        for i, task in enumerate(tasks):
            module, args, keywords = (tuple(task) + ({},))[:3]
            play_tasks.append(dict(keywords, **{FQCN + module: args, "register": "r%d" % i, "ignore_errors": True}))
        names = ", ".join("r%d" % i for i in range(len(tasks)))
        play_tasks.append({"ansible.builtin.copy": {"content": "{{ [%s] | to_json }}" % names, "dest": str(out)},
                           "check_mode": False, "diff": False})
        playbook = Path(tmp) / "play.yml"
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": play_tasks}]))
        run = run_playbook(playbook, env=env)
        if not out.exists():
            raise AssertionError("playbook did not run:\n" + run.output)
        results = json.loads(out.read_text())
    for result in results:
        result["_output"] = run.output
    return results


def until(condition, what, limit=30.0):
    """Wait for a condition of the emulator's state (never asserts on how long it took)."""
    pause = threading.Event()
    waited = 0.0
    while not condition():
        if waited >= limit:
            raise AssertionError("gave up waiting for " + what)
        pause.wait(0.02)
        waited += 0.02


def in_background(module, args):
    """Run a module in a thread: (thread, box); box["result"] is set when it ends."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=run_module(module, args)))
    thread.start()
    return thread, box


def add_vmi(emulator, name="db-0", node="hv1", namespace=NS):
    return emulator.create({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {}, "status": {"phase": "Running", "nodeName": node}})


def add_vmim(emulator, name, vmi="db-0", phase=None, finalizers=None, namespace=NS):
    obj = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
           "metadata": {"name": name, "namespace": namespace}, "spec": {"vmiName": vmi}}
    if finalizers:
        obj["metadata"]["finalizers"] = finalizers
    if phase:
        obj["status"] = {"phase": phase}
    return emulator.create(obj)
