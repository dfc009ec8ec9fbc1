# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration record: what the modules, roles and the EDA source know about one VMIM.

Pure functions over the API server's JSON (no I/O, no Ansible). The one rule that matters:
a VMI's `status.migrationState` describes whichever migration ran last, so it is only read for
this VMIM when its `migrationUid` equals this VMIM's uid (A->B->A leaves stale state behind).
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import (
    annotation_errors, migration_timeout, network_opt,
)

FINAL_PHASES = ("Succeeded", "Failed")
# KubeVirt's VirtualMachineInstanceMigration phases, in the order a migration goes through them.
PHASES = ("Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "WaitingForSync",
          "Succeeded", "Failed")
# The label KubeVirt puts on a migration's target virt-launcher pod.
MIGRATION_JOB_LABEL = "kubevirt.io/migrationJobUID"


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def _status(obj):
    return (obj or {}).get("status") or {}


def uid_of(obj):
    return _meta(obj).get("uid")


def name_of(obj):
    return _meta(obj).get("name")


def phase_of(vmim):
    return _status(vmim).get("phase") or None


def vmi_name_of(vmim):
    return ((vmim or {}).get("spec") or {}).get("vmiName")


def is_in_flight(vmim):
    return phase_of(vmim) not in FINAL_PHASES


def newest_first(vmims):
    """Newest first by creationTimestamp (RFC 3339 in UTC sorts as text), then by name."""
    return sorted(vmims, key=lambda o: (_meta(o).get("creationTimestamp") or "", name_of(o) or ""), reverse=True)


def matching_migration_state(vmim, vmi):
    """The VMI's migrationState if it belongs to this VMIM, else None."""
    state = _status(vmi).get("migrationState") or None
    uid = uid_of(vmim)
    if state and uid and state.get("migrationUid") == uid:
        return state
    return None


def target_pod_of(vmim, pods):
    """This VMIM's target pod: labelled with its uid; a scheduled one first, then the newest."""
    uid = uid_of(vmim)
    mine = [p for p in pods or () if uid and (_meta(p).get("labels") or {}).get(MIGRATION_JOB_LABEL) == uid]
    if not mine:
        return None
    return sorted(mine, key=lambda p: (bool((p.get("spec") or {}).get("nodeName")),
                                       _meta(p).get("creationTimestamp") or ""), reverse=True)[0]


def _scheduled_condition_time(pod):
    for condition in _status(pod).get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("status") == "True":
            return condition.get("lastTransitionTime") or None
    return None


def target_scheduled_at(vmim, pod):
    """When the target pod was bound to a node: its PodScheduled condition, else when the VMIM
    entered phase Scheduled (KubeVirt moves there once the pod is bound), else None."""
    stamp = _scheduled_condition_time(pod) if ((pod or {}).get("spec") or {}).get("nodeName") else None
    if stamp:
        return stamp
    for transition in _status(vmim).get("phaseTransitionTimestamps") or ():
        if transition.get("phase") == "Scheduled" and transition.get("phaseTransitionTimestamp"):
            return transition["phaseTransitionTimestamp"]
    return None


def migration_record(vmim, vmi=None, pods=()):
    """The record of one VMIM, given its VMI (or None) and candidate target pods."""
    meta = _meta(vmim)
    status = _status(vmim)
    state = matching_migration_state(vmim, vmi)
    pod = target_pod_of(vmim, pods)
    pod_node = ((pod or {}).get("spec") or {}).get("nodeName") or None
    vmi_node = _status(vmi).get("nodeName") or None
    phase = phase_of(vmim)
    # Before KubeVirt writes migrationState for this VMIM, the VMI still runs on the source.
    source_node = (state.get("sourceNode") if state else None) or vmi_node
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "vmi": vmi_name_of(vmim),
        "phase": phase,
        "phase_transition_timestamps": [
            {"phase": t.get("phase"), "timestamp": t.get("phaseTransitionTimestamp")}
            for t in status.get("phaseTransitionTimestamps") or ()],
        "source_node": source_node,
        "target_node": pod_node or ((state or {}).get("targetNode") or None),
        "target_pod": name_of(pod) if pod else ((state or {}).get("targetPod") or None),
        "target_scheduled_at": target_scheduled_at(vmim, pod),
        "migration_state_matches": state is not None,
        "in_flight": phase not in FINAL_PHASES,
        "vmi_node": vmi_node,
        "created": meta.get("creationTimestamp"),
    }


def vmi_summary(namespace, name, vmi):
    """What vmim_info reports about the VMI itself (`vmi` None when it does not exist)."""
    return {
        "name": name,
        "namespace": namespace,
        "exists": vmi is not None,
        "created": _meta(vmi).get("creationTimestamp") or None,
        "node": _status(vmi).get("nodeName") or None,
        "migration_state": _status(vmi).get("migrationState") or None,
        # Per-VM control by annotation (vmi_scope): "in", "out" or "", the VM's own timeout, bad values.
        "network_opt": network_opt(vmi),
        "migration_timeout": migration_timeout(vmi),
        "annotation_errors": annotation_errors(vmi),
    }


HOSTNAME_LABEL = "kubernetes.io/hostname"


def migration_body(namespace, vmi, name=None, labels=None, target_node=None):
    """A VirtualMachineInstanceMigration to create; without a name, the API server picks one.

    target_node becomes spec.addedNodeSelector, which only narrows the VM's own placement
    rules (KubeVirt versions without the field drop it: callers check where the pod landed)."""
    metadata = {"namespace": namespace}
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = vmi + "-migration-"
    if labels:
        metadata["labels"] = dict((str(k), str(v)) for k, v in labels.items())
    spec = {"vmiName": vmi}
    if target_node:
        spec["addedNodeSelector"] = {HOSTNAME_LABEL: target_node}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceMigration",
        "metadata": metadata,
        "spec": spec,
    }
