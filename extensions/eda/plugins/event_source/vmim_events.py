# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event source kubeovn.live_migration.vmim_events: one event per meaningful change of a KubeVirt
VirtualMachineInstanceMigration, complete enough for a playbook to act without another lookup.

It follows three resources with the collection's own Kubernetes client (plugins/module_utils):
VMIMs, VMIs (migrationState, node) and the migration target virt-launcher pods (the target node is
known as soon as the scheduler binds the pod, often before the VMIM's phase changes). The client is
synchronous: each watch runs in a thread (k8s_watch.ResourceWatcher) and hands its events to the
event loop with call_soon_threadsafe; all state lives in the event loop, so nothing is locked.
"""

DOCUMENTATION = r"""
---
short_description: Events for KubeVirt live migrations (VirtualMachineInstanceMigration)
description:
  - Lists, then watches VirtualMachineInstanceMigrations, VirtualMachineInstances and migration target pods.
  - On start, emits one event per migration still in flight (and per migration that ended within
    O(replay_ended_within) seconds), so a restarted rulebook picks up where it was.
  - A dropped watch resumes from its last resourceVersion; 410 Gone re-lists and emits what changed
    meanwhile; an unreachable API is retried with capped backoff and logged; the source never ends by itself.
  - Emits an event only when a field of the event changes.
  - Per-VM control by annotation on the VMI (KubeVirt copies them from the VM's
    C(spec.template.metadata.annotations)) - C(live-migration.kubeovn.io/enabled) (C("true") or C("false"))
    and C(live-migration.kubeovn.io/timeout) (seconds). Migrations of VMIs out of O(scope) give no event at all;
    a VMI that comes into scope while its migration is in flight gets a first event then (every field changed).
    A migration already followed when its VMI is opted out is followed to its end, so that what was prepared
    is cut over or rolled back.
  - A migration in flight longer than its timeout gets one event of type C(timeout) (the fields of a migration
    event, and C(timeout) in seconds). The time counts from the VMIM's creationTimestamp, or from when the source
    first followed it if later (after a restart of the source, or once its VMI came into scope).
  - Every migration and timeout event carries C(network_opt) (C(in), C(out), or empty when the VMI does not say),
    C(migration_timeout) (seconds, or null when none applies) and C(target_scheduled_at) (when the target pod
    was scheduled, or null). These ride along; a change in them alone emits nothing.
  - Kubernetes auth options are those of kubernetes.core, with the same K8S_AUTH_* environment fallbacks.
options:
  namespaces:
    description: Namespaces to follow (a list or a comma-separated string). Empty means every namespace.
    type: list
    elements: str
  label_selector:
    description: Only VirtualMachineInstanceMigrations with these labels.
    type: str
  phases:
    description:
      - VMIM phases to emit events for; empty means every phase (and VMIMs without a phase yet).
      - Deletions of migrations still in flight, and C(timeout) events, are emitted whatever their phase.
    type: list
    elements: str
  scope:
    description:
      - Which VMIs the source emits events for - every VMI that is not opted out (V(all)), or only VMIs
        annotated C(live-migration.kubeovn.io/enabled=true) (V(opted_in)).
      - A VMI whose C(live-migration.kubeovn.io/enabled) value is neither C(true) nor C(false) counts as opted out.
    type: str
    choices: [all, opted_in]
    default: all
  migration_timeout:
    description:
      - Seconds a migration may stay in flight before a C(timeout) event is emitted for it; 0 means no timeout.
      - A VMI's C(live-migration.kubeovn.io/timeout) annotation overrides it for that VM.
    type: float
    default: 0
  prepare_batch_window:
    description:
      - Seconds to gather the migrations whose target became known (a node drain starts many at once) into
        one event of type C(prepare_batch), whose C(migrations) list the fields a prepare needs (vmim, vmim_uid,
        vmi, namespace, source_node, target_node, network_opt, target_scheduled_at). The migration events
        of those changes still come, marked C(batched=true), so that the rulebook prepares them once, in the
        batch. 0 (the default) sends no batch events.
      - One C(ansible-playbook) run per VM cannot bind a hundred VMs' ports within the target pods' CNI
        timeout on a small controller; one batch run binds them in one OVSDB transaction.
    type: float
    default: 0
  heartbeat:
    description: Seconds between heartbeat events (type C(heartbeat)); 0 sends none.
    type: float
    default: 0
  replay_ended_within:
    description: On start, also emit migrations that ended (Succeeded or Failed) this many seconds ago or less.
    type: float
    default: 300
  retry_max_delay:
    description: Longest wait, in seconds, between two attempts to reach an API server that does not answer.
    type: float
    default: 5
  kubeconfig:
    description: Path to a kubeconfig (env K8S_AUTH_KUBECONFIG).
  context:
    description: Kubeconfig context (env K8S_AUTH_CONTEXT).
  host:
    description: API server URL (env K8S_AUTH_HOST).
  api_key:
    description: Bearer token (env K8S_AUTH_API_KEY).
  validate_certs:
    description: Verify the API server certificate (env K8S_AUTH_VALIDATE_CERTS, K8S_AUTH_VERIFY_SSL).
  ca_cert:
    description: CA bundle (env K8S_AUTH_CA_CERT, K8S_AUTH_SSL_CA_CERT).
  client_cert:
    description: Client certificate (env K8S_AUTH_CLIENT_CERT, K8S_AUTH_CERT_FILE).
  client_key:
    description: Client key (env K8S_AUTH_CLIENT_KEY, K8S_AUTH_KEY_FILE).
  proxy:
    description: HTTP proxy URL (env K8S_AUTH_PROXY).
  persist_config:
    description: Write refreshed tokens back to the kubeconfig (env K8S_AUTH_PERSIST_CONFIG).
"""

EXAMPLES = r"""
- name: Follow live migrations
  hosts: localhost
  sources:
    - kubeovn.live_migration.vmim_events:
        namespaces: [vms, tenant-a]
        heartbeat: 30
        scope: opted_in
        migration_timeout: 600
  rules:
    - name: Show
      condition: event.type == "migration"
      action:
        debug:
"""

import asyncio
import logging
import os
import sys
from datetime import timedelta


def _put_collection_on_path():
    """ansible-rulebook runs this file with runpy.run_path, outside any package. To import the
    collection's own Kubernetes code (one client for modules and source), the directory that holds
    `ansible_collections/` must be on sys.path: found from this file's location when the collection is
    installed (<root>/ansible_collections/kubeovn/live_migration/extensions/eda/plugins/event_source),
    else from ANSIBLE_COLLECTIONS_PATH and Ansible's default collection paths."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    for start in (here, os.path.dirname(os.path.realpath(__file__))):
        parts = start.split(os.sep)
        # .../ansible_collections/kubeovn/live_migration/extensions/eda/plugins/event_source
        if len(parts) > 7 and parts[-7] == "ansible_collections":
            candidates.append(os.sep.join(parts[:-7]))
    paths = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS") or ""
    candidates += [p for p in paths.split(os.pathsep) if p]
    candidates += [os.path.expanduser("~/.ansible/collections"), "/usr/share/ansible/collections"]
    for root in candidates:
        root = os.path.expanduser(root)
        if os.path.basename(root.rstrip(os.sep)) == "ansible_collections":
            root = os.path.dirname(root.rstrip(os.sep))
        if os.path.isdir(os.path.join(root, "ansible_collections", "kubeovn", "live_migration")):
            if root not in sys.path:
                sys.path.insert(0, root)
            return


_put_collection_on_path()

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import (  # noqa: E402
    AUTH_ENV, BOOL_OPTIONS, POD, VMI, VMIM, auth_from_env, connect,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.watch import ResourceWatcher  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import (  # noqa: E402
    parse_time, seconds_time, utcnow,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (  # noqa: E402
    FINAL_PHASES, MIGRATION_JOB_LABEL, PHASES, migration_record,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import (  # noqa: E402
    ENABLED_ANNOTATION, OPT_OUT, annotation_errors, effective_timeout, in_scope, network_opt, scope_error,
)

LOG = logging.getLogger("kubeovn.live_migration.vmim_events")

# The fields of a migration event; a change in any of them is a meaningful change.
EVENT_FIELDS = ("vmim", "vmim_uid", "vmi", "namespace", "phase", "in_flight", "deleted", "source_node",
                "target_node", "target_pod", "migration_state_matches")
# Carried by every migration event with their current value, but not a reason to emit one: the
# rules act on the fields above; these describe the VM (its opt and timeout) and the migration's timing.
CONTEXT_FIELDS = ("network_opt", "migration_timeout", "target_scheduled_at")
SOURCE_OPTIONS = ("namespaces", "label_selector", "phases", "scope", "migration_timeout", "prepare_batch_window",
                  "heartbeat", "replay_ended_within", "retry_max_delay")
FIRST_RETRY_DELAY = 0.1


class SourceOptionError(ValueError):
    """A source argument is wrong: the message says which and why."""


# ---- options ---------------------------------------------------------------------------------

def _as_list(name, value):
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise SourceOptionError("%s must be a list of strings or a comma-separated string, not %r" % (name, value))


def _as_seconds(name, value, default):
    if value in (None, ""):
        return default
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SourceOptionError("%s must be a number of seconds, not %r" % (name, value))
    if seconds < 0:
        raise SourceOptionError("%s must not be negative, not %r" % (name, value))
    return seconds


def _as_bool(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SourceOptionError("%s must be a boolean, not %r" % (name, value))


def parse_options(args):
    """Check the source arguments; returns (options, auth). Raises SourceOptionError."""
    args = dict(args or {})
    # ansible-rulebook adds its own eda_* arguments (eda_feedback_queue...): not ours to check.
    unknown = sorted(k for k in args if k not in SOURCE_OPTIONS and k not in AUTH_ENV and not k.startswith("eda_"))
    if unknown:
        raise SourceOptionError("unknown option(s) %s for kubeovn.live_migration.vmim_events; valid options: %s"
                                % (", ".join(unknown), ", ".join(SOURCE_OPTIONS + tuple(sorted(AUTH_ENV)))))
    phases = _as_list("phases", args.get("phases"))
    wrong = [p for p in phases if p not in PHASES]
    if wrong:
        raise SourceOptionError("phases: unknown VMIM phase(s) %s; valid phases: %s"
                                % (", ".join(wrong), ", ".join(PHASES)))
    selector = args.get("label_selector")
    if selector is not None and not isinstance(selector, str):
        raise SourceOptionError("label_selector must be a string such as 'team=a,tier!=test', not %r" % (selector,))
    scope = args.get("scope")
    scope = scope.strip() if isinstance(scope, str) else scope
    scope = scope or "all"
    if scope_error(scope):
        raise SourceOptionError(scope_error(scope))
    options = {
        "namespaces": _as_list("namespaces", args.get("namespaces")) or [None],
        "scope": scope,
        "migration_timeout": _as_seconds("migration_timeout", args.get("migration_timeout"), 0.0),
        "prepare_batch_window": _as_seconds("prepare_batch_window", args.get("prepare_batch_window"), 0.0),
        "label_selector": selector or None,
        "phases": set(phases),
        "heartbeat": _as_seconds("heartbeat", args.get("heartbeat"), 0.0),
        "replay_ended_within": _as_seconds("replay_ended_within", args.get("replay_ended_within"), 300.0),
        "retry_max_delay": _as_seconds("retry_max_delay", args.get("retry_max_delay"), 5.0) or 5.0,
    }
    # Explicit arguments win over the K8S_AUTH_* environment, as in kubernetes.core.
    auth = auth_from_env()
    for option in AUTH_ENV:
        value = args.get(option)
        if value in (None, ""):
            continue
        auth[option] = _as_bool(option, value) if option in BOOL_OPTIONS else value
    return options, auth


# ---- what the source knows -------------------------------------------------------------------

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
    for that VMIM. due() returns the timeout events whose time has come. Pure bookkeeping: no I/O
    (the clock is a parameter).

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
            "migration_timeout": _whole(effective_timeout(vmi, self.migration_timeout)),
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
            out.append(dict(event, changes=changes))

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
            for key in [k for k in store if namespace is None or k[0] == namespace]:
                old = store.pop(key)
                if resource == "vmim" and key not in set(_key(o) for o in lists[resource]):
                    self._vmim_deleted(old, out)
            store.update((_key(o), o) for o in lists[resource])
        self._refresh([k for k in self.vmims if namespace is None or k[0] == namespace], out)
        return out

    def _store(self, resource):
        return {"vmim": self.vmims, "vmi": self.vmis, "pod": self.pods}[resource]

    def _vmim_deleted(self, vmim, out):
        uid = (vmim.get("metadata") or {}).get("uid")
        last = self.sent.get(uid)
        event = self.event_for(vmim, deleted=True)
        if last is None or last["in_flight"]:
            self._emit(event, out)
        # Gone (or ended before it went: nothing left to do for it).
        for known in (self.sent, self.skipped, self.since):
            known.pop(uid, None)
        self.timed_out.discard(uid)

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
            out.append(dict(event, type="timeout", timeout=event["migration_timeout"]))
        return out


def _whole(seconds):
    """Seconds as an int when whole (annotations always are; the source option may be 0.5)."""
    if seconds is None:
        return None
    return int(seconds) if float(seconds).is_integer() else seconds


# ---- the Kubernetes side -----------------------------------------------------------------------

class _ToLoop(object):
    """The sink a watcher thread puts into: forwards each item to an asyncio queue, thread-safely."""

    def __init__(self, loop, queue):
        self.loop = loop
        self.queue = queue

    def put(self, item):
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is closed: the source is shutting down


class _LoggedWatcher(ResourceWatcher):
    """A ResourceWatcher that says when the API cannot be reached."""

    def _backoff(self, err, failures):
        if err is not None:
            (LOG.warning if failures % 10 == 0 else LOG.debug)("watch %s: %s; retrying", self.key, err.msg)
        super(_LoggedWatcher, self)._backoff(err, failures)


class Follow(object):
    """One followed (resource, namespace): its selector and its current watcher thread."""

    def __init__(self, name, resource, namespace, label_selector):
        self.name = name                # "vmim", "vmi", "pod"
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.watcher = None


def _follows(options):
    """{namespace: [Follow]}: VMIMs, VMIs and migration target pods of each namespace (None: all)."""
    groups = {}
    for namespace in options["namespaces"]:
        groups[namespace] = [
            Follow("vmim", VMIM, namespace, options["label_selector"]),
            Follow("vmi", VMI, namespace, None),
            # Only migration target pods carry this label (its value is the VMIM's uid).
            Follow("pod", POD, namespace, MIGRATION_JOB_LABEL),
        ]
    return groups


BATCH_FIELDS = ("vmim", "vmim_uid", "vmi", "namespace", "source_node", "target_node", "network_opt",
                "target_scheduled_at")


def wants_prepare(event):
    """The rulebook's prepare condition: a migration in flight whose nodes became known or changed."""
    changes = event.get("changes") or ()
    return (event["type"] == "migration" and event["in_flight"] and not event["deleted"]
            and bool(event["source_node"]) and bool(event["target_node"])
            and ("target_node" in changes or "source_node" in changes))


class PrepareBatcher(object):
    """Gathers the prepare-worthy events of `window` seconds into one `prepare_batch` event.

    The first such event opens the window; a VMI seen twice keeps its latest nodes."""

    def __init__(self, window):
        self.window = window
        self.pending = {}
        self.deadline = None

    def offer(self, event, now):
        """Mark `event` batched (and keep it) when batching applies to it."""
        if not self.window or not wants_prepare(event):
            return event
        self.pending[(event["namespace"], event["vmi"])] = dict((k, event.get(k)) for k in BATCH_FIELDS)
        if self.deadline is None:
            self.deadline = now + self.window
        return dict(event, batched=True)

    def due(self, now):
        """The batch event once the window has passed, else None."""
        if self.deadline is None or now < self.deadline:
            return None
        migrations = [self.pending[key] for key in sorted(self.pending)]
        self.pending, self.deadline = {}, None
        return {"type": "prepare_batch", "migrations": migrations, "count": len(migrations)}


class VmimEventSource(object):
    def __init__(self, options, auth):
        self.options = options
        self.auth = auth
        self.view = MigrationView(options["phases"], options["replay_ended_within"], options["scope"],
                                  options["migration_timeout"])
        self.batcher = PrepareBatcher(options["prepare_batch_window"])
        self.groups = _follows(options)
        self.watchers = {}      # watcher key -> (namespace, its Follow); keys of stopped watchers are dropped
        self.generation = 0
        self.client = None
        self.inbox = None
        self.loop = None

    def _delay(self, failures):
        return min(FIRST_RETRY_DELAY * (2 ** failures), self.options["retry_max_delay"])

    async def _call(self, what, func, *args, **kwargs):
        """Run a blocking client call in a thread; retry with capped backoff until it works."""
        failures = 0
        while True:
            try:
                result = await self.loop.run_in_executor(None, lambda: func(*args, **kwargs))
            except KubernetesError as err:
                # Unreachable (ConnectionLost) or refused (401, 403, 404): both can be fixed while we wait.
                level = logging.WARNING if failures % 10 == 0 else logging.DEBUG
                LOG.log(level, "%s: %s; retrying (attempt %d)", what, err.msg, failures + 1)
                await asyncio.sleep(self._delay(failures))
                failures += 1
                continue
            if failures:
                LOG.info("%s: the Kubernetes API answers again after %d failed attempt(s)", what, failures)
            return result

    async def _list_group(self, namespace):
        """List the three resources of `namespace` and (re)start their watches from those lists.

        Done together on start and whenever one watch expires (410) or gives up (403...): the
        view is then rebuilt from one coherent set of lists, and no older watch can replay stale
        objects over it (the events of stopped watchers are ignored by key)."""
        follows = self.groups[namespace]
        for follow in follows:
            if follow.watcher is not None:
                self.watchers.pop(follow.watcher.key, None)
                follow.watcher.stop()
                follow.watcher = None
        lists, versions = {}, {}
        for follow in follows:
            what = "list %s in %s" % (follow.resource.plural, namespace or "every namespace")
            lists[follow.name], versions[follow.name] = await self._call(
                what, self.client.list, follow.resource, namespace, follow.label_selector)
        for follow in follows:
            self.generation += 1
            key = "%s:%s#%d" % (follow.name, namespace or "*", self.generation)
            follow.watcher = _LoggedWatcher(self.client, follow.resource, namespace, versions[follow.name],
                                            _ToLoop(self.loop, self.inbox), key, label_selector=follow.label_selector)
            self.watchers[key] = (namespace, follow)
            follow.watcher.start()
        return lists

    async def run(self, queue):
        self.loop = asyncio.get_running_loop()
        self.inbox = asyncio.Queue()
        self.client = connect(self.auth)  # configuration errors end the source: they need a fix
        LOG.info("following VirtualMachineInstanceMigrations at %s in %s (scope %s, migration timeout %s)",
                 self.client.host, ", ".join(n or "every namespace" for n in self.groups), self.options["scope"],
                 "%s s" % _whole(self.options["migration_timeout"]) if self.options["migration_timeout"] else "off")
        try:
            every = {"vmim": [], "vmi": [], "pod": []}
            for namespace in self.groups:
                for name, items in (await self._list_group(namespace)).items():
                    every[name] += items
            for event in self.view.load(every["vmim"], every["vmi"], every["pod"]):
                await self._put(queue, event)
            await self._follow(queue)
        finally:
            for follows in self.groups.values():
                for follow in follows:
                    if follow.watcher is not None:
                        follow.watcher.stop()
            self.client.close()

    def _wait_time(self, next_beat):
        """Seconds until the next heartbeat or migration deadline, whichever comes first (None: none)."""
        waits = []
        if next_beat is not None:
            waits.append(next_beat - self.loop.time())
        if self.batcher.deadline is not None:
            waits.append(self.batcher.deadline - self.loop.time())
        deadline = self.view.next_deadline()
        if deadline is not None:
            # A little past the deadline, so that due() finds it reached (the clocks do not tick together).
            waits.append((deadline - utcnow()).total_seconds() + 0.01)
        return max(0.0, min(waits)) if waits else None

    async def _follow(self, queue):
        heartbeat = self.options["heartbeat"] or None
        next_beat = self.loop.time() + heartbeat if heartbeat else None
        while True:
            for event in self.view.due():
                await self._put(queue, event)
            batch = self.batcher.due(self.loop.time())
            if batch is not None:
                LOG.debug("event prepare_batch of %d migrations", batch["count"])
                await queue.put(batch)
            try:
                key, kind, payload = await asyncio.wait_for(self.inbox.get(), self._wait_time(next_beat))
            except asyncio.TimeoutError:
                if heartbeat and self.loop.time() >= next_beat:
                    await queue.put(self._heartbeat())
                    next_beat = self.loop.time() + heartbeat
                continue
            if key not in self.watchers:
                continue  # from a watcher stopped by a re-list
            namespace, follow = self.watchers[key]
            if kind in ("RELIST", "ERROR"):
                if kind == "RELIST":
                    LOG.info("watch %s expired (410 Gone): listing %s again", key, namespace or "every namespace")
                else:
                    # 401, 403, 404...: the watcher gave up; fixable on the cluster side, so wait and list again.
                    LOG.error("watch %s: %s; listing again in %.1f s", key, payload.msg,
                              self.options["retry_max_delay"])
                    await asyncio.sleep(self.options["retry_max_delay"])
                events = self.view.resync(await self._list_group(namespace), namespace)
            else:
                events = self.view.apply(follow.name, kind, payload)
            for event in events:
                await self._put(queue, event)

    async def _put(self, queue, event):
        event = self.batcher.offer(event, self.loop.time())
        LOG.debug("event %s %s/%s phase %s changes %s%s", event["type"], event["namespace"], event["vmim"],
                  event["phase"], ",".join(event.get("changes") or ()), " (batched)" if event.get("batched") else "")
        await queue.put(event)

    def _heartbeat(self):
        problems = sorted(set(f.watcher.last_error.msg for follows in self.groups.values() for f in follows
                              if f.watcher is not None and f.watcher.last_error is not None))
        return {"type": "heartbeat", "time": seconds_time(utcnow()),
                "migrations_in_flight": self.view.in_flight(), "api_reachable": not problems,
                "problems": problems}


async def main(queue, args):
    """ansible-rulebook's entry point: emit migration events on `queue` until cancelled."""
    options, auth = parse_options(args)
    await VmimEventSource(options, auth).run(queue)


if __name__ == "__main__":
    # python vmim_events.py [namespace...]: print events, with K8S_AUTH_* or ~/.kube/config.

    class _Printer(object):
        async def put(self, event):
            sys.stdout.write("%s\n" % (event,))
            sys.stdout.flush()

    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(main(_Printer(), {"namespaces": sys.argv[1:], "heartbeat": 10}))
    except KeyboardInterrupt:
        pass
