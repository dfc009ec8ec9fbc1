"""KubeVirt v1 object shapes the simulator writes: VMIs, virt-launcher pods, migration state."""
import random
from datetime import datetime, timezone

GROUP, VERSION = "kubevirt.io", "v1"
VMIS, VMIMS, VMS = "virtualmachineinstances", "virtualmachineinstancemigrations", "virtualmachines"
# Non-final VMIM phases, in KubeVirt's order.
PHASES = ("Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running")
FINAL_PHASES = ("Succeeded", "Failed")
MIGRATION_FINALIZER = "kubevirt.io/migrationJobFinalize"
VMI_NAME_LABEL = "kubevirt.io/vmi-name"
NODE_LABEL = "kubevirt.io/nodeName"
TARGET_NODE_LABEL = "kubevirt.io/migrationTargetNodeName"
MIGRATION_JOB_LABEL = "kubevirt.io/migrationJobUID"
EVACUATION_ANNOTATION = "kubevirt.io/evacuationMigration"
# virt-launcher's emptyDir volumes: what makes `kubectl drain` ask for --delete-emptydir-data.
LAUNCHER_EMPTY_DIRS = ("private", "public", "sockets", "virt-bin-share-dir", "libvirt-runtime", "ephemeral-disks",
                       "container-disks", "hotplug-disks")
# Labels or annotations (on the VMIM, else on the VMI) that steer the simulator from outside
# Python (playbooks, molecule): {option: key}.
OPTION_KEYS = {"target_node": "kubevirt-sim.test/target-node", "fail_at": "kubevirt-sim.test/fail-at"}


def options_from_metadata(obj):
    meta = obj.get("metadata") or {}
    found = {}
    # KubeVirt's own way to ask for a target node; the test labels below override it.
    selector = ((obj.get("spec") or {}).get("addedNodeSelector") or {}).get("kubernetes.io/hostname")
    if selector:
        found["target_node"] = selector
    for option, key in OPTION_KEYS.items():
        value = (meta.get("annotations") or {}).get(key) or (meta.get("labels") or {}).get(key)
        if value:
            found[option] = value
    return found


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_mac():
    return "02:00:00:%02x:%02x:%02x" % tuple(random.randrange(256) for _unused in range(3))


def vmi_body(namespace, name, ports):
    """A VMI spec: the first port is the pod network, the others Multus attachments."""
    interfaces, networks = [], []
    for index, port in enumerate(ports):
        net = "default" if index == 0 else "net%d" % index
        interfaces.append({"name": net, "macAddress": port["mac"], "bridge": {}})
        networks.append({"name": net, "pod": {}} if index == 0 else
                        {"name": net, "multus": {"networkName": "%s/%s" % (namespace, port.get("provider", net))}})
    return {
        "apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": namespace, "labels": {"kubevirt.io/vm": name}},
        "spec": {"domain": {"devices": {"interfaces": interfaces}, "resources": {"requests": {"memory": "128Mi"}}},
                 "networks": networks},
    }


def owner_reference(obj, controller=True):
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": True}


def vm_body(vmi, annotations):
    """The VirtualMachine whose template is `vmi` (a vmi_body), running it (runStrategy Always)."""
    meta = vmi["metadata"]
    return {
        "apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "VirtualMachine",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": {"runStrategy": "Always",
                 "template": {"metadata": {"labels": dict(meta["labels"]), "annotations": dict(annotations)},
                              "spec": vmi["spec"]}},
    }


def vmi_status(node, ports, pod):
    interfaces = []
    for index, port in enumerate(ports):
        iface = {"name": "default" if index == 0 else "net%d" % index, "mac": port["mac"],
                 "interfaceName": "eth%d" % index, "infoSource": "domain, guest-agent"}
        if port.get("ip"):
            iface.update(ipAddress=port["ip"], ipAddresses=[port["ip"]])
        interfaces.append(iface)
    stamp = now()
    return {
        "phase": "Running", "nodeName": node, "interfaces": interfaces,
        "migrationMethod": "LiveMigration", "migrationTransport": "Unix",
        "activePods": {pod["metadata"]["uid"]: node},
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp},
                       {"type": "LiveMigratable", "status": "True", "lastTransitionTime": stamp}],
        "phaseTransitionTimestamps": [{"phase": p, "phaseTransitionTimestamp": stamp}
                                      for p in ("Pending", "Scheduling", "Scheduled", "Running")],
        "guestOSInfo": {"id": "fedora"}, "qosClass": "Burstable",
    }


def launcher_pod(vmi, migration_uid=None):
    """A virt-launcher pod for `vmi` (source, or target when migration_uid is given), unscheduled."""
    name = vmi["metadata"]["name"]
    labels = {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": vmi["metadata"]["uid"],
              "vm.kubevirt.io/name": name, "kubevirt.io/domain": name}
    if migration_uid:
        labels[MIGRATION_JOB_LABEL] = migration_uid
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "generateName": "virt-launcher-%s-" % name, "namespace": vmi["metadata"]["namespace"], "labels": labels,
            "annotations": {"kubevirt.io/domain": name},
            "ownerReferences": [owner_reference(vmi)],
        },
        "spec": {"containers": [{"name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1.3.0"}],
                 "restartPolicy": "Never", "volumes": [{"name": n, "emptyDir": {}} for n in LAUNCHER_EMPTY_DIRS]},
    }


def disruption_budget(vmi):
    """The PodDisruptionBudget virt-controller gives a VMI with an eviction strategy: its pod stays."""
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"generateName": "kubevirt-disruption-budget-", "namespace": vmi["metadata"]["namespace"],
                     "ownerReferences": [owner_reference(vmi)]},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"kubevirt.io/created-by": vmi["metadata"]["uid"]}}},
    }
