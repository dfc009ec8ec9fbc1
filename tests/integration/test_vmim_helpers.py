"""Shared helpers of the vmim/vmim_info integration tests (this file holds no tests)."""
import threading

from ansible_run import assert_clean_failure, run_module, run_tasks

__all__ = ["NS", "VMIMS", "assert_clean_failure", "run_tasks", "until", "in_background", "add_vmi", "add_vmim"]

NS = "vms"
VMIMS = "virtualmachineinstancemigrations"


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
