# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `report` playbook's rows and table, from what vmim_info, vmi_event_info and ovn_lsp_info return.

Pure functions (no I/O, no Ansible): the filters migration_rows and migration_table wrap them.

A row is one migration: a VMIM that still exists, or one known only from the collection's Events
(its VMIM was deleted - an abort, or KubeVirt's garbage collection of finished migrations).
Times come from the Events' annotations when the roles set them (exact), else from the Events'
times (microseconds) minus the VMIM's timestamps (whole seconds): those are marked estimated.
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import parse_time, seconds_between

FINAL_PHASES = ("Succeeded", "Failed")
PREPARED = ("NetworkPrepared",)
CUTOVER = ("NetworkCutover",)
ROLLBACK = ("NetworkRolledBack", "NetworkTimedOut")
COLUMNS = (("started", "STARTED"), ("vm", "VM"), ("nodes", "SOURCE \u2192 TARGET"), ("outcome", "OUTCOME"),
           ("network", "NETWORK"), ("prepare", "PREPARE"), ("cutover", "CUTOVER"), ("lsp", "LSP"))


def _phase_time(record, *phases):
    stamps = dict((t.get("phase"), t.get("timestamp")) for t in record.get("phase_transition_timestamps") or ())
    for phase in phases:
        if stamps.get(phase):
            return stamps[phase]
    return None


def _annotated_seconds(events, key):
    for event in events:
        value = (event.get("annotations") or {}).get(key)
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _first(events, reasons):
    chosen = [e for e in events if e.get("reason") in reasons]
    return min(chosen, key=lambda e: parse_time(e.get("first_time")) or parse_time("1970-01-01T00:00:00Z")) \
        if chosen else None


def _timing(events, reasons, key, start, annotation_keys=()):
    """(seconds, estimated) from the annotations of the matching events, else from `start` to the first of them."""
    matching = [e for e in events if e.get("reason") in reasons]
    for annotation in (key,) + tuple(annotation_keys):
        seconds = _annotated_seconds(matching, annotation)
        if seconds is not None:
            return seconds, False
    first = _first(events, reasons)
    if first is None or not start:
        return None, False
    seconds = seconds_between(start, first.get("first_time"))
    return (max(seconds, 0.0), True) if seconds is not None else (None, False)


def _group_events(events):
    """{(namespace, migration uid or "name:<migration>"): [events]} for events about a migration."""
    uid_by_name = {}
    for event in events:
        if event.get("migration") and event.get("migration_uid"):
            uid_by_name[(event.get("namespace"), event["migration"])] = event["migration_uid"]
    groups = {}
    for event in events:
        namespace, uid, name = event.get("namespace"), event.get("migration_uid"), event.get("migration")
        uid = uid or uid_by_name.get((namespace, name))
        if uid:
            key = (namespace, uid)
        elif name:
            key = (namespace, "name:" + name)
        else:
            continue          # not about a migration (a sweep's repair): not a row
        groups.setdefault(key, []).append(event)
    return groups


def _port_state(port):
    chassis = ",".join(port.get("requested_chassis") or ()) or "unset"
    strategy = port.get("activation_strategy")
    return chassis + (" " + strategy if strategy else "")


def lsp_state(ports):
    """`hv2`, `hv1,hv2 rarp`; per port when the VMI's ports differ; `no ports`; None when unknown."""
    if ports is None:
        return None
    if not ports:
        return "no ports"
    states = [(p.get("name"), _port_state(p)) for p in sorted(ports, key=lambda p: p.get("name") or "")]
    if len(set(s for _n, s in states)) == 1:
        return states[0][1]
    return "; ".join("%s: %s" % pair for pair in states)


def _is_port(value):
    return isinstance(value, dict) and "requested_chassis" in value


def port_index(ports):
    """({(namespace, vmi): [ports]}, whether a VMI absent from it has no ports) from ovn_lsp_info output.

    Accepts a flat list of ports, one registered result ({"ports": [...]}), or a loop's registered
    result ({"results": [...]}, each item holding namespace and vmi): a VMI whose item failed or was
    skipped stays unknown. Without per-VMI items, a VMI absent from a successful read has no ports."""
    if ports is None:
        return {}, False
    if isinstance(ports, dict):
        results = ports["results"] if "results" in ports else [ports]
    else:
        ports = list(ports)
        results = [{"ports": ports}] if all(_is_port(p) for p in ports) else ports
    index, per_item, all_read = {}, False, True
    for result in results:
        item = result.get("item")
        read = not (result.get("failed") or result.get("skipped")) and isinstance(result.get("ports"), list)
        if isinstance(item, dict):
            per_item = True
            if read:
                index.setdefault((item.get("namespace"), item.get("vmi")), [])
        elif not read:
            all_read = False
        for port in (result["ports"] if read else ()):
            index.setdefault((port.get("namespace"), port.get("vmi")), []).append(port)
    return index, all_read and not per_item


def _ports_for(index, absent_means_none, namespace, vmi):
    if (namespace, vmi) in index:
        return index[(namespace, vmi)]
    return [] if absent_means_none else None


def _row(namespace, vmi, events, record, index, absent_means_none):
    events = sorted(events, key=lambda e: parse_time(e.get("first_time")) or parse_time("1970-01-01T00:00:00Z"))
    annotations = {}
    for event in events:
        annotations.update(event.get("annotations") or {})
    if record is not None:
        phase = record.get("phase")
        outcome = phase if phase in FINAL_PHASES else "in flight (%s)" % (phase or "Pending")
        source, target = record.get("source_node"), record.get("target_node")
        started = record.get("created")
        scheduled = record.get("target_scheduled_at") or _phase_time(record, "Scheduled", "Scheduling")
        succeeded, failed = _phase_time(record, "Succeeded"), _phase_time(record, "Failed")
        migration, uid = record.get("name"), record.get("uid")
    else:
        phase, outcome = None, "Deleted"
        source, target = annotations.get("source-node"), annotations.get("target-node")
        started = events[0].get("first_time") if events else None
        scheduled = succeeded = failed = None
        migration = next((e.get("migration") for e in events if e.get("migration")), None)
        uid = next((e.get("migration_uid") for e in events if e.get("migration_uid")), None)
    last = max(events, key=lambda e: parse_time(e.get("last_time")) or parse_time("1970-01-01T00:00:00Z")) \
        if events else None
    prepare, prepare_estimated = _timing(events, PREPARED, "seconds-to-prepare", scheduled)
    if _first(events, CUTOVER):
        end_action = "cutover"
        cutover, cutover_estimated = _timing(events, CUTOVER, "seconds-to-cutover", succeeded)
    elif _first(events, ROLLBACK):
        end_action = "rollback"
        cutover, cutover_estimated = _timing(events, ROLLBACK, "seconds-to-rollback", failed,
                                             annotation_keys=("seconds-to-cutover",))
    else:
        end_action, cutover, cutover_estimated = None, None, False
    ports = _ports_for(index, absent_means_none, namespace, vmi)
    return {
        "namespace": namespace,
        "vmi": vmi,
        "vm": "%s/%s" % (namespace, vmi),
        "migration": migration,
        "migration_uid": uid,
        "started": started,
        "phase": phase,
        "outcome": outcome,
        "source_node": source,
        "target_node": target,
        "network": last.get("reason") if last else None,
        "network_message": last.get("message") if last else None,
        "events": [e.get("reason") for e in events],
        "seconds_to_prepare": prepare,
        "prepare_estimated": prepare_estimated,
        "end_action": end_action,
        "seconds_to_cutover": cutover,
        "cutover_estimated": cutover_estimated,
        "lsp": lsp_state(ports),
        "lsp_ports": None if ports is None else [
            {"name": p.get("name"), "requested_chassis": list(p.get("requested_chassis") or ()),
             "activation_strategy": p.get("activation_strategy")} for p in ports],
    }


def migration_rows(migrations, events=None, ports=None, limit=20):
    """One row per migration, newest first, at most `limit` (0 or None: all)."""
    groups = _group_events(list(events or ()))
    index, absent_means_none = port_index(ports)
    rows = []
    for record in migrations or ():
        namespace = record.get("namespace")
        mine = groups.pop((namespace, record.get("uid")), []) + groups.pop((namespace, "name:%s" % record.get("name")), [])
        rows.append(_row(namespace, record.get("vmi"), mine, record, index, absent_means_none))
    for (namespace, _key), group in groups.items():
        rows.append(_row(namespace, group[0].get("vmi"), group, None, index, absent_means_none))
    epoch = parse_time("1970-01-01T00:00:00Z")
    rows.sort(key=lambda r: (parse_time(r["started"]) or epoch, r["vm"], r["migration"] or ""), reverse=True)
    return rows[:int(limit)] if limit else rows


# ---- the table

def _seconds(value, estimated):
    if value is None:
        return "-"
    if estimated:
        return "~%ds" % int(round(value))
    return "%.2fs" % value


def _started(text):
    moment = parse_time(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else (text or "-")


def cells(row, namespaced):
    cutover = _seconds(row.get("seconds_to_cutover"), row.get("cutover_estimated"))
    if row.get("end_action") == "rollback":
        cutover = "rollback" + ("" if cutover == "-" else " " + cutover)
    lsp = row.get("lsp")
    return {
        "started": _started(row.get("started")),
        "vm": row.get("vmi") if namespaced else row.get("vm"),
        "nodes": "%s \u2192 %s" % (row.get("source_node") or "?", row.get("target_node") or "?"),
        "outcome": row.get("outcome") or "-",
        "network": row.get("network") or "-",
        "prepare": _seconds(row.get("seconds_to_prepare"), row.get("prepare_estimated")),
        "cutover": cutover,
        "lsp": "?" if lsp is None else lsp,
    }


def migration_table(rows):
    """Aligned text lines: a header, then one line per row (VM names without namespace when all share one)."""
    rows = list(rows or ())
    if not rows:
        return ["no migrations found"]
    namespaced = len(set(r.get("namespace") for r in rows)) == 1
    table = [dict((key, title) for key, title in COLUMNS)] + [cells(r, namespaced) for r in rows]
    widths = dict((key, max(len(line[key]) for line in table)) for key, _title in COLUMNS)
    last = COLUMNS[-1][0]
    return ["  ".join(line[key] if key == last else line[key].ljust(widths[key]) for key, _title in COLUMNS).rstrip()
            for line in table]
