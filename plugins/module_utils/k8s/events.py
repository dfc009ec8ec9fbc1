# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes Events (core/v1) on VirtualMachineInstances: what each phase did, for `kubectl describe vmi`.

An Event is named deterministically per (VMI, migration, reason), so a phase that runs again bumps
`count`/`series` of the same object instead of adding one. Posting never raises for API trouble:
`post_event` returns an EventOutcome whose `problem` says what went wrong (the roles must not fail
a migration step because an Event could not be written); only bad input raises ModuleError.

The API server checks core/v1 Events that carry `eventTime` strictly: `eventTime` must have exactly
six fractional digits (MicroTime), and `reportingComponent`, `reportingInstance`, `action` and
`reason` are required; `message` is limited to 1024 bytes.

No Ansible imports: the report filter (and any non-Ansible caller) reuses this file.
"""

import hashlib
import re
import socket
from datetime import datetime, timezone

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError, ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import EVENT, VMI, VMIM
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import (  # noqa: F401 (re-exported)
    micro_time, parse_time, seconds_time,
)

COMPONENT = "kubeovn-live-migration"
PREFIX = "live-migration.kubeovn.io/"
MIGRATION_UID_LABEL = PREFIX + "migration-uid"
EVENT_TYPES = ("Normal", "Warning")
# The reasons the roles post, and the `action` (what we were doing) each one records.
ACTIONS = {
    "NetworkPrepared": "Prepare",
    "NetworkCutover": "Cutover",
    "NetworkRolledBack": "Rollback",
    "NetworkRepaired": "Repair",
    "NetworkTimedOut": "Rollback",
    "NetworkActionFailed": "UpdateNetwork",
}
DEFAULT_ACTION = "UpdateNetwork"
RBAC_RULE = 'apiGroups: [""], resources: ["events"], verbs: ["create", "patch", "get", "list"]'

# API server limits on Events that carry eventTime (bytes, as Go counts a string's length).
MESSAGE_LIMIT = 1024
REASON_LIMIT = 128
INSTANCE_LIMIT = 128
NAME_LIMIT = 253
CONFLICT_RETRIES = 5

_REASON_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# The name part of an annotation key or a label value: 63 characters, alphanumeric at both ends.
_NAME_PART_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

MISSING_VMI = "vmi_missing"
FORBIDDEN = "forbidden"
API_ERROR = "error"


# ---- times

# ---- input

def _truncate_utf8(text, limit):
    """At most `limit` bytes of UTF-8, cut on a character boundary, marked with an ellipsis."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore") + "\u2026"


def check_request(namespace, vmi, reason, event_type, migration_uid, annotations):
    """Raise ModuleError naming the first bad input (bad input is a bug in the caller, not an API problem)."""
    for option, value in (("namespace", namespace), ("vmi", vmi)):
        if not value or not str(value).strip():
            raise ModuleError("%s must not be empty" % option)
        if len(value) > NAME_LIMIT or not _DNS_SUBDOMAIN_RE.match(value):
            raise ModuleError("%s %r is not a valid Kubernetes name (lower-case letters, digits, '-' and '.')"
                              % (option, value))
    if not reason or not _REASON_RE.match(reason) or len(reason) > REASON_LIMIT:
        raise ModuleError("reason %r must be UpperCamelCase letters and digits (at most %d), for example "
                          "NetworkPrepared" % (reason, REASON_LIMIT))
    if event_type not in EVENT_TYPES:
        raise ModuleError("type must be Normal or Warning, not %r" % event_type)
    if migration_uid and not (len(migration_uid) <= 63 and _NAME_PART_RE.match(migration_uid)):
        raise ModuleError("migration_uid %r is not a Kubernetes uid" % migration_uid)
    for key, value in (annotations or {}).items():
        key = str(key)
        if len(key) > 63 or not _NAME_PART_RE.match(key):
            raise ModuleError("annotation key %r is not valid: it becomes %s<key>, so it must be at most 63 "
                              "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
                              % (key, PREFIX))
        if value is None or isinstance(value, (dict, list)):
            raise ModuleError("annotation %r must be a string or a number, not %r" % (key, value))


def annotation_value(value):
    """Annotation values are strings; booleans in YAML spelling, numbers as Python prints them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- the Event object

def event_name(namespace, vmi, vmi_uid, migration_key, reason):
    """`<vmi>.<16 hex>`: the same (VMI object, migration, reason) always names the same Event."""
    digest = hashlib.sha256("\0".join((namespace, vmi, vmi_uid or "", migration_key or "", reason))
                            .encode("utf-8")).hexdigest()[:16]
    stem = vmi[:NAME_LIMIT - 17].rstrip(".-")
    return "%s.%s" % (stem, digest)


def default_message(namespace, vmi, reason, migration):
    text = "%s on VirtualMachineInstance %s/%s" % (reason, namespace, vmi)
    return text + (" for migration %s" % migration if migration else "")


def build_event(request, vmi_obj, moment, instance):
    """The Event to create for `request` (a dict of the module's options) on the VMI object."""
    namespace, vmi = request["namespace"], request["vmi"]
    vmi_uid = ((vmi_obj or {}).get("metadata") or {}).get("uid")
    migration, migration_uid = request.get("migration"), request.get("migration_uid")
    reason = request["reason"]
    metadata = {
        "name": event_name(namespace, vmi, vmi_uid, migration_uid or migration, reason),
        "namespace": namespace,
    }
    annotations = dict((PREFIX + str(k), annotation_value(v)) for k, v in (request.get("annotations") or {}).items())
    if annotations:
        metadata["annotations"] = annotations
    if migration_uid:
        # A label, so that vmi_event_info can select one migration's Events on the server.
        metadata["labels"] = {MIGRATION_UID_LABEL: migration_uid}
    involved = {"apiVersion": VMI.api_version, "kind": VMI.kind, "name": vmi, "namespace": namespace}
    if vmi_uid:
        involved["uid"] = vmi_uid
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata,
        "involvedObject": involved,
        "reason": reason,
        "message": _truncate_utf8(request.get("message") or default_message(namespace, vmi, reason, migration),
                                  MESSAGE_LIMIT),
        "type": request.get("type") or "Normal",
        "action": ACTIONS.get(reason, DEFAULT_ACTION),
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance[:INSTANCE_LIMIT],
        "eventTime": micro_time(moment),
        "firstTimestamp": seconds_time(moment),
        "lastTimestamp": seconds_time(moment),
        "count": 1,
    }
    if migration or migration_uid:
        related = {"apiVersion": VMIM.api_version, "kind": VMIM.kind, "namespace": namespace}
        if migration:
            related["name"] = migration
        if migration_uid:
            related["uid"] = migration_uid
        body["related"] = related
    return body


def repeated(existing, fresh, moment):
    """`existing` as it becomes when `fresh` happens again: count and series bumped, message, type and
    annotations refreshed; eventTime and firstTimestamp keep the first occurrence."""
    count = int(existing.get("count") or 1) + 1
    result = dict(existing)
    result.update(count=count, lastTimestamp=seconds_time(moment), message=fresh["message"], type=fresh["type"],
                  series={"count": count, "lastObservedTime": micro_time(moment)})
    meta = dict(existing.get("metadata") or {})
    annotations = dict(meta.get("annotations") or {})
    annotations.update((fresh.get("metadata") or {}).get("annotations") or {})
    if annotations:
        meta["annotations"] = annotations
    result["metadata"] = meta
    return result


def bump_patch(existing, updated):
    """The JSON patch from `existing` to `updated`, conditional on existing's resourceVersion."""
    meta = existing.get("metadata") or {}
    ops = [{"op": "add", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}]
    for field in ("count", "lastTimestamp", "message", "type", "series"):
        ops.append({"op": "add", "path": "/" + field, "value": updated[field]})
    if (updated["metadata"].get("annotations") or {}) != (meta.get("annotations") or {}):
        ops.append({"op": "add", "path": "/metadata/annotations", "value": updated["metadata"]["annotations"]})
    return ops


def summary(obj):
    """What the modules return about one Event."""
    meta = obj.get("metadata") or {}
    involved = obj.get("involvedObject") or {}
    related = obj.get("related") or {}
    series = obj.get("series") or {}
    first = obj.get("eventTime") or obj.get("firstTimestamp") or meta.get("creationTimestamp")
    if series.get("lastObservedTime"):
        last = series["lastObservedTime"]
    elif int(obj.get("count") or 1) <= 1 and obj.get("eventTime"):
        last = obj["eventTime"]
    else:
        last = obj.get("lastTimestamp") or first
    is_vmim = related.get("kind") == VMIM.kind
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "vmi": involved.get("name"),
        "vmi_uid": involved.get("uid"),
        "reason": obj.get("reason"),
        "message": obj.get("message"),
        "type": obj.get("type"),
        "action": obj.get("action"),
        "count": int(obj.get("count") or series.get("count") or 1),
        "first_time": first,
        "last_time": last,
        "migration": related.get("name") if is_vmim else None,
        "migration_uid": (related.get("uid") if is_vmim else None) or (meta.get("labels") or {}).get(MIGRATION_UID_LABEL),
        "annotations": dict((k[len(PREFIX):], v) for k, v in (meta.get("annotations") or {}).items()
                            if k.startswith(PREFIX)),
        "reporting_instance": obj.get("reportingInstance"),
    }


def ours(obj):
    return COMPONENT in (obj.get("reportingComponent"), (obj.get("source") or {}).get("component"))


def oldest_first(summaries):
    epoch = datetime.fromtimestamp(0, timezone.utc)
    return sorted(summaries, key=lambda e: (parse_time(e["first_time"]) or epoch, e["namespace"] or "", e["name"] or ""))


# ---- posting

class EventOutcome(object):
    """What post_event did: `problem` (None, or a message for the operator) and its `kind`."""

    def __init__(self, event, posted=False, changed=False, problem=None, kind=None):
        self.event = event
        self.posted = posted
        self.changed = changed
        self.problem = problem
        self.kind = kind


def _problem(err, request, doing):
    """(message, kind) for an API error met while `doing` something for this request."""
    what = "Event %s on VirtualMachineInstance %s/%s" % (request["reason"], request["namespace"], request["vmi"])
    status = err.details.get("api_status")
    if status == 403 and doing in ("create", "patch", "get"):
        return ("%s not recorded: the credentials may not %s events in namespace %s (403 Forbidden). The migration "
                "step is not affected. To record Events, add this rule to the Role or ClusterRole bound to these "
                "credentials: %s (extensions/awx/rbac.yml has it)"
                % (what, doing, request["namespace"], RBAC_RULE), FORBIDDEN)
    return ("%s not recorded (%s failed): %s. The migration step is not affected." % (what, doing, err.msg),
            FORBIDDEN if status == 403 else API_ERROR)


def default_instance():
    """reportingInstance: the host running the module (an AWX job pod, an EDA activation, a workstation)."""
    try:
        host = socket.gethostname()
    except OSError:
        host = ""
    return "%s-%s" % (COMPONENT, host) if host else COMPONENT


def post_event(connect, request, check_mode=False, now=None, instance=None):
    """Record `request` as an Event on its VMI; never raises for API trouble (see EventOutcome).

    `connect()` returns a K8sClient; it is called here so that configuration errors are reported
    the same way as API errors."""
    check_request(request["namespace"], request["vmi"], request["reason"], request.get("type") or "Normal",
                  request.get("migration_uid"), request.get("annotations"))
    now = now or datetime.now(timezone.utc)
    instance = instance or default_instance()
    draft = summary(build_event(request, None, now, instance))
    step = {"doing": "connect"}      # what was being done when an error came: names it in the warning
    try:
        client = connect()
        step["doing"] = "read the VMI"
        vmi_obj = client.get(VMI, request["namespace"], request["vmi"])
        if vmi_obj is None:
            return EventOutcome(draft, problem="Event %s not recorded: VirtualMachineInstance %s/%s not found (an Event "
                                "is attached to an existing VMI). The migration step is not affected."
                                % (request["reason"], request["namespace"], request["vmi"]), kind=MISSING_VMI)
        body = build_event(request, vmi_obj, now, instance)
        if check_mode:
            try:
                existing = client.get(EVENT, request["namespace"], body["metadata"]["name"])
            except KubernetesError:
                existing = None      # may not read events: report the event as new
            would_be = repeated(existing, body, now) if existing else body
            return EventOutcome(summary(would_be), changed=True)
        return _write(client, body, now, step)
    except KubernetesError as err:
        message, kind = _problem(err, request, step["doing"])
        return EventOutcome(draft, problem=message, kind=kind)


def _write(client, body, now, step):
    """Create the Event, or bump the existing one; retried when another writer got there between."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    for _attempt in range(CONFLICT_RETRIES):
        step["doing"] = "create"
        try:
            created = client.create(EVENT, namespace, body)
            return EventOutcome(summary(created), posted=True, changed=True)
        except KubernetesError as err:
            if err.details.get("api_status") != 409:      # 409 on create: it exists already
                raise
        step["doing"] = "get"
        existing = client.get(EVENT, namespace, name)
        if existing is None:
            continue          # expired (event TTL) between our create and get: create again
        step["doing"] = "patch"
        try:
            patched = client.json_patch(EVENT, namespace, name, bump_patch(existing, repeated(existing, body, now)))
            return EventOutcome(summary(patched), posted=True, changed=True)
        except KubernetesError as err:
            if err.details.get("api_status") not in (404, 409):   # gone, or bumped by another writer: again
                raise
    step["doing"] = "patch"
    raise KubernetesError("Event %s/%s kept changing under concurrent writers (%d attempts)"
                          % (namespace, name, CONFLICT_RETRIES))


# ---- listing

def list_events(client, namespace=None, vmi=None, migration_uid=None):
    """The collection's Events on VMIs (one VMI, a namespace, or the cluster), oldest first."""
    if migration_uid and not (len(migration_uid) <= 63 and _NAME_PART_RE.match(migration_uid)):
        raise ModuleError("migration_uid %r is not a Kubernetes uid" % migration_uid)
    fields = ["reportingComponent=" + COMPONENT, "involvedObject.kind=" + VMI.kind]
    if vmi:
        fields.append("involvedObject.name=" + vmi)
    labels = MIGRATION_UID_LABEL + "=" + migration_uid if migration_uid else None
    items = client.list(EVENT, namespace, label_selector=labels, field_selector=",".join(fields))[0]
    found = [summary(o) for o in items if ours(o) and (o.get("involvedObject") or {}).get("kind") == VMI.kind
             and (not vmi or (o.get("involvedObject") or {}).get("name") == vmi)]
    if migration_uid:
        found = [e for e in found if e["migration_uid"] == migration_uid]
    return oldest_first(found)
