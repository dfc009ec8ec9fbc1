"""What the API server checks and normalises on a core/v1 Event before storing it (create, update, patch).

Mirrors kube-apiserver's decoding and its legacy Event validation, the rules that apply to Events
written through /api/v1:
- decoding: `eventTime` and `series.lastObservedTime` are MicroTime, RFC 3339 with exactly six
  fractional digits (anything else is a 400); `firstTimestamp`/`lastTimestamp` are Time, stored
  in UTC whole seconds; `count` is an integer.
- with `eventTime` set: `reportingComponent` (a qualified name), `reportingInstance` (<= 128),
  `action` (<= 128) and `reason` (<= 128) are required, `message` is at most 1024 bytes;
  without it, `involvedObject.namespace` must equal the Event's namespace.
- object metadata: label keys and values, annotation keys (qualified names), as for every object.
"""
import re
from datetime import datetime, timezone

from . import errors

MICRO_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})(Z|[+-]\d\d:\d\d)$")
TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
NAME_PART_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
TIME_LAYOUT = "2006-01-02T15:04:05Z07:00"
LIMIT = 128
MESSAGE_LIMIT = 1024


def _cannot_decode(why):
    return errors.bad_request('Event in version "v1" cannot be handled as a Event: ' + why)


def _utc(stamp, zone, fraction=""):
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S")
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        moment = datetime.fromtimestamp(moment.replace(tzinfo=timezone.utc).timestamp() - offset, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _micro_time(value):
    if value is None:
        return None
    match = MICRO_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise _cannot_decode('parsing time "%s" as "%s": cannot parse as MicroTime' % (value, MICRO_LAYOUT))
    return _utc(match.group(1), match.group(3), "." + match.group(2))


def _time(value):
    if value is None:
        return None
    match = TIME_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise _cannot_decode('parsing time "%s" as "%s": cannot parse as Time' % (value, TIME_LAYOUT))
    return _utc(match.group(1), match.group(3))


def qualified_name_problems(key):
    """Why `key` is not a qualified name (`[prefix/]name`), or []."""
    prefix, _sep, name = key.rpartition("/")
    problems = []
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN_RE.match(prefix)):
        problems.append("prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > 63 or not NAME_PART_RE.match(name):
        problems.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                        "end with an alphanumeric character (at most 63)")
    return problems


def _metadata_problems(meta):
    found = []
    for key, value in (meta.get("labels") or {}).items():
        for problem in qualified_name_problems(key):
            found.append('metadata.labels: Invalid value: "%s": %s' % (key, problem))
        if not isinstance(value, str) or (value and (len(value) > 63 or not NAME_PART_RE.match(value))):
            found.append('metadata.labels: Invalid value: "%s": a valid label must be an empty string or consist '
                         "of alphanumeric characters, '-', '_' or '.' (at most 63)" % value)
    for key, value in (meta.get("annotations") or {}).items():
        for problem in qualified_name_problems(key):
            found.append('metadata.annotations: Invalid value: "%s": %s' % (key, problem))
        if not isinstance(value, str):
            raise _cannot_decode("json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.annotations of "
                                 "type string" % type(value).__name__)
    return found


def admit_event(obj):
    """Normalise the time fields of an Event in place, or raise the API's 400/422."""
    for field in ("eventTime",):
        if field in obj:
            obj[field] = _micro_time(obj[field])
    for field in ("firstTimestamp", "lastTimestamp"):
        if field in obj:
            obj[field] = _time(obj[field])
    series = obj.get("series")
    if isinstance(series, dict) and "lastObservedTime" in series:
        series["lastObservedTime"] = _micro_time(series["lastObservedTime"])
    for holder, field in ((obj, "count"), (series if isinstance(series, dict) else {}, "count")):
        if field in holder and (isinstance(holder[field], bool) or not isinstance(holder[field], int)):
            raise _cannot_decode("json: cannot unmarshal %r into Go struct field Event.count of type int32" % holder[field])

    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    involved = obj.get("involvedObject") or {}
    problems = _metadata_problems(meta)
    if not obj.get("eventTime"):
        if involved.get("namespace"):
            if involved["namespace"] != namespace:
                problems.append('involvedObject.namespace: Invalid value: "%s": does not match event.namespace'
                                % involved["namespace"])
        elif namespace not in ("", "default"):
            problems.append('involvedObject.namespace: Invalid value: "": does not match event.namespace')
    else:
        if not involved.get("namespace") and namespace not in ("default", "kube-system"):
            problems.append('involvedObject.namespace: Invalid value: "": does not match event.namespace')
        component = obj.get("reportingComponent") or ""
        if not component:
            problems.append("reportingComponent: Required value")
        else:
            problems.extend('reportingComponent: Invalid value: "%s": %s' % (component, p)
                            for p in qualified_name_problems(component))
        for field, limit in (("reportingInstance", LIMIT), ("action", LIMIT), ("reason", LIMIT)):
            value = obj.get(field) or ""
            if not value:
                problems.append("%s: Required value" % field)
            elif len(value.encode("utf-8")) > limit:
                problems.append('%s: Invalid value: "": can have at most %d characters' % (field, limit))
        if len((obj.get("message") or "").encode("utf-8")) > MESSAGE_LIMIT:
            problems.append('message: Invalid value: "": can have at most %d characters' % MESSAGE_LIMIT)
    if problems:
        detail = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        raise errors.ApiError(422, "Invalid", 'Event "%s" is invalid: %s' % (meta.get("name") or "", detail),
                              {"kind": "events", "name": meta.get("name") or ""})
    return obj


def admit(rtype, obj):
    """The per-kind checks the store runs before it keeps an object."""
    if rtype.group == "" and rtype.kind == "Event":
        admit_event(obj)
    return obj
