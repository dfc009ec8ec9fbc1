"""KubeVirt objects written straight into the emulator's store (status included), so a test sets
exactly the state it needs: a VMI, a VMIM in a given phase, a migration target pod."""
from datetime import datetime, timedelta, timezone

MIGRATION_JOB_LABEL = "kubevirt.io/migrationJobUID"


def stamp(ago=0):
    return (datetime.now(timezone.utc) - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_vmi(emulator, namespace, name, node):
    return emulator.create({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"domain": {"devices": {}}},
        "status": {"phase": "Running", "nodeName": node},
    })


def make_vmim(emulator, namespace, name, vmi, phase=None, ended_ago=0, labels=None):
    status = {}
    if phase:
        status = {"phase": phase, "phaseTransitionTimestamps": [
            {"phase": phase, "phaseTransitionTimestamp": stamp(ended_ago)}]}
    return emulator.create({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
        "spec": {"vmiName": vmi},
        "status": status,
    })


def set_phase(emulator, vmim, phase, ended_ago=0):
    namespace, name = vmim["metadata"]["namespace"], vmim["metadata"]["name"]
    return emulator.patch("virtualmachineinstancemigrations", namespace, name, {"status": {
        "phase": phase, "phaseTransitionTimestamps": [{"phase": phase, "phaseTransitionTimestamp": stamp(ended_ago)}]}},
        subresource="status")


def make_target_pod(emulator, vmim, name, node=None):
    namespace = vmim["metadata"]["namespace"]
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"namespace": namespace, "name": name,
                     "labels": {"kubevirt.io": "virt-launcher", MIGRATION_JOB_LABEL: vmim["metadata"]["uid"]}},
        "spec": {"containers": [{"name": "compute", "image": "virt-launcher"}]},
    }
    if node:
        pod["spec"]["nodeName"] = node
    return emulator.create(pod)


def schedule_pod(emulator, namespace, name, node):
    """What the scheduler does (pods/binding): set spec.nodeName once."""
    emulator.store.bind(emulator.registry.by_plural("pods"), namespace, name, node)


def set_migration_state(emulator, vmim, source, target, target_pod=None):
    namespace = vmim["metadata"]["namespace"]
    state = {"migrationUid": vmim["metadata"]["uid"], "sourceNode": source, "targetNode": target}
    if target_pod:
        state["targetPod"] = target_pod
    return emulator.patch("virtualmachineinstances", namespace, vmim["spec"]["vmiName"], {"status": {
        "migrationState": state}}, subresource="status")


def in_flight(emulator, namespace, vmi, vmim, phase="Running", source="hv1", target="hv2"):
    """A VMI on `source` with a migration `vmim` in `phase`, its target pod bound on `target`."""
    make_vmi(emulator, namespace, vmi, source)
    obj = make_vmim(emulator, namespace, vmim, vmi, phase)
    pod = make_target_pod(emulator, obj, "virt-launcher-%s-target" % vmi, target)
    set_migration_state(emulator, obj, source, target, pod["metadata"]["name"])
    return obj
