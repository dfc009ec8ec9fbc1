# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the EDA event source knows and decides, without I/O: the migration view.

MigrationView keeps the VMIMs, VMIs and target pods as last seen and turns each change into the
events of kubeovn.live_migration.vmim_events. Each migration and timeout event carries the action of
the collection's planner (migration_plan.plan) for the event's VMI, edge-triggered per VMI: the
planned action once, "none" on later events until the action, its migration or its chassis change.
The batching of prepares and cutovers for bursts is action_batcher.ActionBatcher.

No Ansible imports, no I/O: the clock is a parameter. The event source
(extensions/eda/plugins/event_source/vmim_events.py) feeds it from its watches.
"""

import logging
from datetime import timedelta

# The batcher (prepares and cutovers) lives in action_batcher.py; PrepareBatcher and BATCH_FIELDS are
# imported here for the callers that found them in this module.
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.action_batcher import (  # noqa: F401  pylint: disable=unused-import
    BATCH_FIELDS, PrepareBatcher,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import (
    ENABLED_ANNOTATION, OPT_OUT, annotation_errors, effective_timeout, in_scope, network_opt,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (
    FINAL_PHASES, MIGRATION_JOB_LABEL, migration_record, vmi_summary,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_plan import plan
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import parse_time, utcnow

LOG = logging.getLogger("kubeovn.live_migration.vmim_events")

# The fields of a migration event; a change in any of them is a meaningful change.
EVENT_FIELDS = ("vmim", "vmim_uid", "vmi", "namespace", "phase", "in_flight", "deleted", "source_node",
                "target_node", "target_pod", "migration_state_matches")
# Carried by every migration event with their current value, but not a reason to emit one: they
# describe the VM (its opt and timeout) and the migration's timing.
CONTEXT_FIELDS = ("network_opt", "migration_timeout", "target_scheduled_at")
# The planner's decision on each migration and timeout event (the rules test `action`).
PLAN_FIELDS = ("action", "reason", "source_chassis", "target_chassis", "cancel", "timeout")


def _key(obj):
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def _ended_at(vmim):
    """When the VMIM reached its final phase (datetime, UTC), or None."""
    for stamp in reversed((vmim.get("status") or {}).get("phaseTransitionTimestamps") or ()):
        if stamp.get("phase") in FINAL_PHASES and stamp.get("phaseTransitionTimestamp"):
            return parse_time(stamp["phaseTransitionTimestamp"])
    return None


class MigrationView(object):
    """VMIMs, VMIs and target pods as last seen, and the last event sent per VMIM.

    load() takes the first lists, apply() one watch event, resync() fresh lists after a 410; each
    returns the migration events caused: only those whose fields differ from the last event sent
    for that VMIM. due() returns the timeout events whose time has come (the view decides when).
    Pure bookkeeping: no I/O (the clock is a parameter).

    Actions: each event emitted carries the planner's plan for its VMI (every VMIM of the VMI in
    the view, a VMIM deleted in flight as its last record with `deleted`, the VMI, the scope; the
    ports unknown), edge-triggered per VMI: `action` is the planned action when (action, migration,
    source chassis, target chassis) differs from the last action emitted for that VMI, else "none".
    So a rule fires once per needed action, and the first event after a start acts (replay). A plan
    about another migration of the VMI than the event's is left to that migration's own event. Once
    a `prepare` was emitted for a migration, the planner is told its ports carry our marks, so a VM
    opted out mid-flight is still cut over or rolled back.

    Scope: a migration whose VMI is out of scope is not followed (no event, no timeout) until the
    VMI comes into scope; then its first event lists every field as changed, as on a start. A
    migration already followed keeps its events until it ends even if its VMI goes out of scope:
    what was prepared for it must still be cut over or rolled back.
    """

    def __init__(self, phases=(), replay_ended_within=300.0, scope="all", migration_timeout=0.0, clock=utcnow):
        self.phases = set(phases or ())
        self.replay_ended_within = replay_ended_within
        self.scope = scope
        self.migration_timeout = migration_timeout
        self.clock = clock
        self.vmims = {}        # (namespace, name) -> VMIM
        self.vmis = {}         # (namespace, name) -> VMI
        self.pods = {}         # (namespace, name) -> target pod
        self.sent = {}         # VMIM uid -> last event (or what it would have been, when filtered out)
        self.skipped = {}      # VMIM uid -> why it is not followed (its VMI is out of scope)
        self.since = {}        # VMIM uid -> ((namespace, name), when its time started): followed, in flight
        self.timed_out = set()  # VMIM uids whose timeout event was emitted
        self.warned = {}       # (namespace, vmi) -> the annotation errors last logged for that VMI
        self.acted = {}        # (namespace, vmi) -> (action, migration uid, source, target) last emitted
        self.prepared = set()  # VMIM uids a `prepare` action was emitted for (their ports carry our marks)
        self.gone = {}         # VMIM uid -> the VMIM, while its deletion event is being made

    # -- the event of one VMIM

    def _vmi_of(self, vmim):
        namespace, _unused = _key(vmim)
        return self.vmis.get((namespace, (vmim.get("spec") or {}).get("vmiName")))

    def event_for(self, vmim, deleted=False):
        vmi = self._vmi_of(vmim)
        self._warn_annotations(vmi)
        record = migration_record(vmim, vmi, self._pods_of(vmim))
        return {
            "type": "migration",
            "vmim": record["name"],
            "vmim_uid": record["uid"],
            "vmi": record["vmi"],
            "namespace": record["namespace"],
            "phase": record["phase"],
            "in_flight": record["in_flight"],
            "deleted": bool(deleted or (vmim.get("metadata") or {}).get("deletionTimestamp")),
            "source_node": record["source_node"],
            "target_node": record["target_node"],
            "target_pod": record["target_pod"],
            "migration_state_matches": record["migration_state_matches"],
            "network_opt": network_opt(vmi),
            "migration_timeout": whole_seconds(effective_timeout(vmi, self.migration_timeout)),
            "target_scheduled_at": record["target_scheduled_at"],
        }

    def _warn_annotations(self, vmi):
        if vmi is None:
            return
        errors = tuple(annotation_errors(vmi))
        key = _key(vmi)
        if errors != self.warned.get(key, ()):
            for error in errors:
                LOG.warning("%s", error)
            self.warned[key] = errors

    def _pods_of(self, vmim):
        namespace, _unused = _key(vmim)
        uid = (vmim.get("metadata") or {}).get("uid")
        return [p for (ns, _unused), p in self.pods.items()
                if ns == namespace and ((p.get("metadata") or {}).get("labels") or {}).get(MIGRATION_JOB_LABEL) == uid]

    def _out_of_scope_reason(self, event):
        """Why the migration of this event is not ours to act on, or None when it is."""
        if in_scope(event["network_opt"], self.scope):
            return None
        vmi = self.vmis.get((event["namespace"], event["vmi"]))
        errors = [e for e in annotation_errors(vmi) if ENABLED_ANNOTATION in e]
        if errors:
            return errors[0]
        if event["network_opt"] == OPT_OUT:
            return 'VMI %s/%s is opted out (%s: "false")' % (event["namespace"], event["vmi"], ENABLED_ANNOTATION)
        return 'VMI %s/%s is not opted in (%s: "true") and the scope is %s' % (
            event["namespace"], event["vmi"], ENABLED_ANNOTATION, self.scope)

    def _emit(self, event, out):
        """Append `event` to `out` if it says something new about a migration in scope; remember it."""
        uid = event["vmim_uid"]
        last = self.sent.get(uid)
        reason = self._out_of_scope_reason(event)
        if reason is not None and (last is None or not last["in_flight"]):
            if self.skipped.get(uid) != reason:
                LOG.debug("no events for migration %s/%s: %s", event["namespace"], event["vmim"], reason)
            self.skipped[uid] = reason
            return
        if last is None and self.skipped.pop(uid, None) is not None and not event["in_flight"]:
            # It came into scope after it ended while out of scope: nothing of ours to finish.
            self.sent[uid] = event
            return
        changes = [f for f in EVENT_FIELDS if last is None or last.get(f) != event.get(f)]
        if not changes:
            return
        self.sent[uid] = event
        if event["in_flight"] and not event["deleted"]:
            self.since.setdefault(uid, ((event["namespace"], event["vmim"]), self._start_of(event)))
        else:
            self.since.pop(uid, None)
        wanted = not self.phases or event["phase"] in self.phases or (event["deleted"] and event["in_flight"])
        if wanted:
            out.append(dict(event, changes=changes, **self.decide(event)))

    def _start_of(self, event):
        """When a migration's time starts: its creation, or now if the source follows it only later."""
        now = self.clock()
        vmim = self.vmims.get((event["namespace"], event["vmim"])) or {}
        created = parse_time((vmim.get("metadata") or {}).get("creationTimestamp"))
        return max(created, now) if created else now

    def _refresh(self, keys, out):
        for key in sorted(keys, key=lambda k: (k[0] or "", k[1] or "")):
            vmim = self.vmims.get(key)
            if vmim is not None:
                self._emit(self.event_for(vmim), out)

    def _vmims_of_vmi(self, namespace, vmi):
        return [k for k, v in self.vmims.items() if k[0] == namespace and (v.get("spec") or {}).get("vmiName") == vmi]

    def _vmim_of_pod(self, pod):
        namespace, _unused = _key(pod)
        uid = ((pod.get("metadata") or {}).get("labels") or {}).get(MIGRATION_JOB_LABEL)
        return [k for k, v in self.vmims.items() if k[0] == namespace and (v.get("metadata") or {}).get("uid") == uid]

    # -- start

    def load(self, vmims, vmis, pods, now=None):
        """The initial lists: events for every migration in flight (and recently ended), oldest first."""
        self.vmis = dict((_key(o), o) for o in vmis)
        self.pods = dict((_key(o), o) for o in pods)
        self.vmims = dict((_key(o), o) for o in vmims)
        now = now or self.clock()
        out = []
        for vmim in sorted(vmims, key=lambda o: ((o.get("metadata") or {}).get("creationTimestamp") or "",) + tuple(
                x or "" for x in _key(o))):
            event = self.event_for(vmim)
            if event["in_flight"] or self._recently_ended(vmim, now):
                self._emit(event, out)
            else:
                self.sent[event["vmim_uid"]] = event  # history: remembered, not replayed
        return out

    def _recently_ended(self, vmim, now):
        ended = _ended_at(vmim)
        return ended is not None and (now - ended).total_seconds() <= self.replay_ended_within

    # -- changes

    def apply(self, resource, kind, payload):
        """One watch event (ADDED, MODIFIED, DELETED) of `resource` ("vmim", "vmi", "pod")."""
        out = []
        store = self._store(resource)
        key = _key(payload)
        if kind == "DELETED":
            store.pop(key, None)
            if resource == "vmi":
                self.acted.pop(key, None)
        else:
            store[key] = payload
        if resource == "vmim":
            if kind == "DELETED":
                self._vmim_deleted(payload, out)
            else:
                self._emit(self.event_for(payload), out)
        elif resource == "vmi":
            self._refresh(self._vmims_of_vmi(key[0], key[1]), out)
        else:
            self._refresh(self._vmim_of_pod(payload), out)
        return out

    def resync(self, lists, namespace=None):
        """Fresh lists {"vmim": [...], "vmi": [...], "pod": [...]} of `namespace` (None: every one),
        after a watch expired: replace what was known there and return the events for what changed
        meanwhile, deletions included."""
        out = []
        for resource in ("vmi", "pod", "vmim"):
            store = self._store(resource)
            old = dict((k, store.pop(k)) for k in [k for k in store if namespace is None or k[0] == namespace])
            store.update((_key(o), o) for o in lists[resource])
            if resource == "vmim":
                # Gone, or deleted and re-created under its name (another uid) meanwhile.
                for key in sorted(old, key=lambda k: (k[0] or "", k[1] or "")):
                    if (store.get(key, {}).get("metadata") or {}).get("uid") != (old[key].get("metadata") or {}).get("uid"):
                        self._vmim_deleted(old[key], out)
        self._refresh([k for k in self.vmims if namespace is None or k[0] == namespace], out)
        return out

    def _store(self, resource):
        return {"vmim": self.vmims, "vmi": self.vmis, "pod": self.pods}[resource]

    def _vmim_deleted(self, vmim, out):
        uid = (vmim.get("metadata") or {}).get("uid")
        last = self.sent.get(uid)
        event = self.event_for(vmim, deleted=True)
        if last is None or last["in_flight"]:
            self.gone[uid] = vmim      # the planner's last record of it, with `deleted`
            try:
                self._emit(event, out)
            finally:
                self.gone.pop(uid, None)
        # Gone (or ended before it went: nothing left to do for it).
        for known in (self.sent, self.skipped, self.since):
            known.pop(uid, None)
        self.timed_out.discard(uid)
        self.prepared.discard(uid)

    def in_flight(self):
        return sum(1 for e in self.sent.values() if e["in_flight"] and not e["deleted"])

    # -- timeouts

    def _deadlines(self):
        """(deadline, uid, key) of each followed migration in flight that has a timeout, not yet
        timed out and whose VMI is in scope now (a timeout cancels the migration: never for a VM
        that opted out meanwhile)."""
        found = []
        for uid, (key, start) in self.since.items():
            vmim = self.vmims.get(key)
            if uid in self.timed_out or vmim is None or (vmim.get("metadata") or {}).get("uid") != uid:
                continue
            vmi = self._vmi_of(vmim)
            seconds = effective_timeout(vmi, self.migration_timeout)
            if seconds and in_scope(network_opt(vmi), self.scope):
                found.append((start + timedelta(seconds=seconds), uid, key))
        return found

    def next_deadline(self):
        """The earliest time at which due() may have something to emit, or None."""
        return min((d[0] for d in self._deadlines()), default=None)

    def due(self, now=None):
        """One `timeout` event per followed migration still in flight past its deadline, once."""
        now = now or self.clock()
        out = []
        for deadline, uid, key in sorted(self._deadlines(), key=lambda d: (d[0], d[2])):
            if deadline > now:
                continue
            event = self.event_for(self.vmims[key])
            if not event["in_flight"] or event["deleted"]:
                self.since.pop(uid, None)   # ended meanwhile: its own event says so
                continue
            self.timed_out.add(uid)
            LOG.info("migration %s/%s of VMI %s has been in flight for more than %s s", event["namespace"],
                     event["vmim"], event["vmi"], event["migration_timeout"])
            decided = self.decide(event, now)
            decided["timeout"] = event["migration_timeout"]
            out.append(dict(event, type="timeout", **decided))
        return out

    # -- actions

    def _records_of(self, event):
        """The planner's records of every VMIM of the event's VMI (the event's own VMIM as the event
        says: deleted or not), a VMIM being deleted included."""
        vmi = self.vmis.get((event["namespace"], event["vmi"]))
        vmims = [self.vmims[k] for k in self._vmims_of_vmi(event["namespace"], event["vmi"])]
        vmims += [v for v in self.gone.values() if (v.get("spec") or {}).get("vmiName") == event["vmi"]
                  and _key(v)[0] == event["namespace"]]
        records = {}
        for vmim in vmims:
            uid = (vmim.get("metadata") or {}).get("uid")
            deleted = event["deleted"] if uid == event["vmim_uid"] else \
                (uid in self.gone or bool((vmim.get("metadata") or {}).get("deletionTimestamp")))
            records[uid] = dict(migration_record(vmim, vmi, self._pods_of(vmim)), deleted=deleted)
        return vmi, list(records.values())

    def plan_for(self, event, now=None, ports=None):
        """The planner's plan for the event's VMI (not edge-triggered). `now`: check timeouts then;
        `ports`: the VMI's ports as the NB watcher saw them (None: unknown)."""
        vmi, records = self._records_of(event)
        summary = vmi_summary(event["namespace"], event["vmi"], vmi)
        since = dict((uid, start) for uid, (_unused, start) in self.since.items())
        kwargs = dict(scope=self.scope, now=now, default_timeout=self.migration_timeout or None, since=since)
        if self.prepared & set(r["uid"] for r in records):
            result = plan(summary, records, ports, marked=True, **kwargs)
            if result["migration_uid"] in self.prepared:
                return result
        return plan(summary, records, ports, marked=False, **kwargs)

    def decide(self, event, now=None):
        """The PLAN_FIELDS of an event about to be emitted, its action edge-triggered per VMI."""
        result = self.plan_for(event, now)
        action, reason = result["action"], result["reason"]
        key = (action, result["migration_uid"], result["source_chassis"], result["target_chassis"])
        vmi = (event["namespace"], event["vmi"])
        if action == "none":
            pass
        elif result["migration_uid"] not in (None, event["vmim_uid"]):
            action, reason = "none", "%s (left to the event of migration %s)" % (reason, result["migration"])
        elif self.acted.get(vmi) == key:
            action, reason = "none", "%s (already emitted: %s)" % (reason, key[0])
        else:
            self.acted[vmi] = key
            if action == "prepare":
                self.prepared.add(result["migration_uid"])
        return {"action": action, "reason": reason, "source_chassis": result["source_chassis"],
                "target_chassis": result["target_chassis"], "cancel": result["cancel"],
                "timeout": result["timeout"]}


def whole_seconds(seconds):
    """Seconds as an int when whole (annotations always are; the source option may be 0.5)."""
    if seconds is None:
        return None
    return int(seconds) if float(seconds).is_integer() else seconds
