# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VirtualMachineInstanceMigration service: list, create, cancel and wait, returning records.

No Ansible imports: the modules and the EDA event source both use it. Waits are watches from the
listed resourceVersion (k8s_watch.ResourceWatcher), never polling.
"""

import queue
import time

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import POD, VMI, VMIM
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.watch import ResourceWatcher
from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_plan import plan
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (
    FINAL_PHASES, MIGRATION_JOB_LABEL, is_in_flight, migration_body, migration_record, name_of, newest_first,
    phase_of, target_pod_of, uid_of, vmi_name_of, vmi_summary,
)

TARGET_SCHEDULED = "target_scheduled"


class MigrationWaitError(KubernetesError):
    """A wait that ended without its condition; `records` holds the last state seen."""

    def __init__(self, msg, records=(), timeout=False):
        self.records = [r for r in records if r]
        self.timeout = timeout
        super(MigrationWaitError, self).__init__(msg, migration=self.records[0] if self.records else None)


def _ref(namespace, name):
    return "%s/%s" % (namespace, name)


class VmimService(object):
    def __init__(self, client):
        self.client = client

    # ---- reads

    def vmims(self, namespace=None, name=None, vmi=None, label_selector=None):
        """Raw VMIMs matching the filters, newest first."""
        field_selector = "metadata.name=" + name if name else None
        items = self.client.list(VMIM, namespace, label_selector, field_selector)[0]
        return [o for o in newest_first(items) if (not name or name_of(o) == name) and
                (not vmi or vmi_name_of(o) == vmi)]

    def get_vmi(self, namespace, name):
        return self.client.get(VMI, namespace, name)

    def vmi_summary(self, namespace, name):
        return vmi_summary(namespace, name, self.get_vmi(namespace, name))

    def records(self, vmims, vmis=None):
        """Records for raw VMIMs: one GET per distinct VMI (none for those in the `vmis` cache,
        {(namespace, name): VMI or None}, which is filled), one pod list per namespace."""
        vmis = {} if vmis is None else vmis
        pods = {}
        for vmim in vmims:
            namespace = (vmim.get("metadata") or {}).get("namespace")
            key = (namespace, vmi_name_of(vmim))
            if key not in vmis and key[1]:
                vmis[key] = self.get_vmi(namespace, key[1])
            if namespace not in pods:
                # One VMIM: select its pod exactly; several: every migration target pod in the namespace.
                selector = MIGRATION_JOB_LABEL + ("=" + uid_of(vmim) if len(vmims) == 1 else "")
                pods[namespace] = self.client.list(POD, namespace, label_selector=selector)[0]
        return [migration_record(v, vmis.get(((v.get("metadata") or {}).get("namespace"), vmi_name_of(v))),
                                 pods.get((v.get("metadata") or {}).get("namespace")))
                for v in vmims]

    def record(self, vmim):
        return self.records([vmim])[0]

    def plan_read(self, namespace=None, vmis=None, ports=None, scope="all", deleted=(), timed_out=False):
        """The planner's decision for each VMI in play, sorted by namespace and name, with what it was
        decided on: {"plans": [...], "records": records of those VMIs' VMIMs (newest first per VMI),
        "vmis": {(namespace, name): vmi_summary}}.

        vmis     [(namespace, name)] to plan for; None: every VMI with a migration in flight, every
                 VMI owning one of `ports`, and every VMI of a `deleted` record.
        ports    ovn_lsp_info port dicts (vmi, namespace, options) whose options are known; a VMI with
                 none listed has unknown ports.
        deleted  records of VMIMs the caller deleted (cancelled) before they ended; `timed_out`
                 when that was for running out of time.
        One VMIM list, one GET per VMI, one pod list per namespace."""
        vmims = self.vmims(namespace)
        by_vmi = {}
        for vmim in vmims:
            key = ((vmim.get("metadata") or {}).get("namespace"), vmi_name_of(vmim))
            by_vmi.setdefault(key, []).append(vmim)
        owned = {}
        for port in ports or ():
            if port.get("vmi") and port.get("namespace") and (namespace is None or port["namespace"] == namespace):
                owned.setdefault((port["namespace"], port["vmi"]), []).append(port)
        gone = {}
        for record in deleted or ():
            gone.setdefault((record.get("namespace"), record.get("vmi")), []).append(
                dict(record, deleted=True, timed_out=timed_out))
        if vmis is None:
            wanted = set(k for k, items in by_vmi.items() if any(is_in_flight(v) for v in items))
            wanted |= set(owned) | set(gone)
        else:
            wanted = set(vmis)
        wanted = sorted(k for k in wanted if k[0] and k[1])
        cache = dict((key, self.get_vmi(*key)) for key in wanted)
        records = self.records([v for k in wanted for v in by_vmi.get(k, ())], cache)
        summaries = dict((key, vmi_summary(key[0], key[1], cache[key])) for key in wanted)
        plans = []
        for key in wanted:
            mine = [r for r in records if (r["namespace"], r["vmi"]) == key]
            known = set(r["uid"] for r in mine)
            mine += [r for r in gone.get(key, ()) if r.get("uid") not in known]
            plans.append(plan(summaries[key], mine, owned.get(key) if ports is not None else None, scope))
        return {"plans": plans, "records": records, "vmis": summaries}

    def migrations(self, namespace=None, name=None, vmi=None, label_selector=None):
        """Records of the matching VMIMs, newest first."""
        return self.records(self.vmims(namespace, name, vmi, label_selector))

    # ---- writes

    def create(self, namespace, vmi, name=None, labels=None, target_node=None):
        """Create a VMIM for `vmi`; returns the created object (with its generated name)."""
        return self.client.create(VMIM, namespace, migration_body(namespace, vmi, name, labels, target_node))

    def delete(self, namespace, name):
        """Delete (cancel) one VMIM; False if it was already gone."""
        return self.client.delete(VMIM, namespace, name)

    # ---- waits

    def wait_for(self, namespace, name=None, vmi=None, phases=(), target_scheduled=False, timeout=120,
                 label_selector=None):
        """Block until the VMIM `name` (or the newest of `vmi`, an in-flight one first) is in one of
        `phases`, or has its target pod scheduled; return its record.

        Raises MigrationWaitError (with the last record) on timeout, when it is deleted, or when it
        ends in a phase from which the condition can no longer come true.
        """
        phases = tuple(phases or ())
        wanted = TARGET_SCHEDULED if target_scheduled else "phase " + "/".join(phases)
        follow = _Follow(self.client, namespace, name, vmi, label_selector)
        deadline = time.monotonic() + timeout
        seen = None
        try:
            follow.start()
            while True:
                subject = follow.subject()
                if subject is None and seen is not None and name:
                    raise MigrationWaitError("migration %s was deleted while waiting for %s"
                                             % (_ref(namespace, name), wanted), [migration_record(seen)])
                if subject is not None:
                    seen = subject
                    if target_scheduled:
                        follow.follow_pods(uid_of(subject))
                    done = self._reached(subject, follow, phases, target_scheduled)
                    if done is not None:
                        return done
                if not follow.next_event(deadline):
                    raise self._timeout(namespace, name or vmi, subject, wanted, timeout, follow)
        finally:
            follow.stop()

    def _reached(self, vmim, follow, phases, target_scheduled):
        """The record if the condition holds; None to keep waiting; raises if it never can."""
        phase = phase_of(vmim)
        ref = _ref((vmim.get("metadata") or {}).get("namespace"), name_of(vmim))
        if target_scheduled:
            pod = target_pod_of(vmim, list(follow.pods.values()))
            if pod is not None and (pod.get("spec") or {}).get("nodeName"):
                return self.record(vmim)
            if phase in FINAL_PHASES:
                record = self.record(vmim)
                if record["target_node"]:
                    return record
                raise MigrationWaitError("migration %s ended in phase %s before its target pod was scheduled"
                                         % (ref, phase), [record])
            return None
        if phase in phases:
            return self.record(vmim)
        if phase in FINAL_PHASES:
            raise MigrationWaitError("migration %s ended in phase %s without reaching phase %s"
                                     % (ref, phase, "/".join(phases)), [self.record(vmim)])
        return None

    def _timeout(self, namespace, what, subject, wanted, timeout, follow):
        record = None
        if subject is not None:
            try:
                record = self.record(subject)
            except KubernetesError:
                record = migration_record(subject)
        if subject is None:
            msg = "timed out after %ss waiting for %s: no VirtualMachineInstanceMigration %s found" % (
                timeout, wanted, "named " + _ref(namespace, what) if what else "in namespace " + namespace)
        else:
            msg = "timed out after %ss waiting for migration %s to reach %s; last seen phase: %s" % (
                timeout, _ref(namespace, name_of(subject)), wanted, phase_of(subject) or "none yet")
        problem = follow.connection_problem()
        if problem:
            msg += " (the watch could not reconnect: %s)" % problem
        return MigrationWaitError(msg, [record], timeout=True)

    def wait_deleted(self, namespace, names, timeout=120):
        """Block until none of the VMIMs `names` exists any more."""
        names = set(names)
        if not names:
            return
        follow = _Follow(self.client, namespace, next(iter(names)) if len(names) == 1 else None, None, None)
        deadline = time.monotonic() + timeout
        try:
            follow.start()
            while names & set(follow.vmims):
                if not follow.next_event(deadline):
                    left = [follow.vmims[n] for n in sorted(names & set(follow.vmims))]
                    msg = "timed out after %ss waiting for the deletion of migration %s" % (
                        timeout, ", ".join(_ref(namespace, name_of(v)) for v in left))
                    raise MigrationWaitError(msg, [migration_record(v) for v in left])
        finally:
            follow.stop()


def _any(obj):
    return True


class _Follow(object):
    """A live view of the VMIMs a wait is about (and of one VMIM's target pods), kept by watches."""

    def __init__(self, client, namespace, name, vmi, label_selector):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.vmi = vmi
        self.label_selector = label_selector
        self.field_selector = "metadata.name=" + name if name else None
        self.events = queue.Queue()
        self.vmims = {}
        self.pods = {}
        self.pod_uid = None
        self.watchers = {}

    def _wanted(self, vmim):
        return (not self.name or name_of(vmim) == self.name) and (not self.vmi or vmi_name_of(vmim) == self.vmi)

    def start(self):
        items, version = self.client.list(VMIM, self.namespace, self.label_selector, self.field_selector)
        self.vmims = dict((name_of(o), o) for o in items if self._wanted(o))
        self._watch("vmim", VMIM, version, self.label_selector, self.field_selector)

    def follow_pods(self, uid):
        """Watch the target pods of the VMIM with this uid (and only those)."""
        if uid == self.pod_uid:
            return
        old = self.watchers.pop("pods:%s" % self.pod_uid, None)
        if old is not None:
            old.stop()
        selector = "%s=%s" % (MIGRATION_JOB_LABEL, uid)
        items, version = self.client.list(POD, self.namespace, label_selector=selector)
        self.pod_uid = uid
        self.pods = dict((name_of(p), p) for p in items)
        self._watch("pods:%s" % uid, POD, version, selector, None)

    def _watch(self, key, resource, version, label_selector, field_selector):
        watcher = ResourceWatcher(self.client, resource, self.namespace, version, self.events, key,
                                  label_selector=label_selector, field_selector=field_selector)
        self.watchers[key] = watcher
        watcher.start()

    def subject(self):
        ordered = newest_first(self.vmims.values())
        in_flight = [v for v in ordered if is_in_flight(v)]
        return (in_flight or ordered or [None])[0]

    def next_event(self, deadline):
        """Apply the next event; False once the deadline has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            key, kind, payload = self.events.get(timeout=remaining)
        except queue.Empty:
            return False
        if kind == "ERROR":
            raise payload
        if key == "vmim":
            target, wanted = self.vmims, self._wanted
        elif key == "pods:%s" % self.pod_uid:
            target, wanted = self.pods, _any
        else:
            return True  # a late event from a watch we already replaced
        if kind == "RELIST":
            target.clear()
            target.update((name_of(o), o) for o in payload if wanted(o))
        elif kind == "DELETED":
            target.pop(name_of(payload), None)
        elif wanted(payload):
            target[name_of(payload)] = payload
        return True

    def connection_problem(self):
        for watcher in self.watchers.values():
            if watcher.last_error is not None:
                return watcher.last_error.msg
        return None

    def stop(self):
        for watcher in self.watchers.values():
            watcher.stop()
