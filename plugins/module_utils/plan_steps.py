# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From plans to the roles' next module calls, so that the roles hold no decisions in Jinja.

    early_writes(migrations, scope)   an event's migrations -> ovn_lsp_batch items, written before the
                                      migrations are read back (the target pod's CNI waits ~30 s)
    plan_writes(plans, written, ports) the planner's decisions -> ovn_lsp_batch items, each carrying the
                                      owned options its decision was read with (compare-and-swap)
    merge_plans(plans, again)         the plans with those decided again (after a conflict) replacing theirs
    failure_records(migrations, ...)  a failed step -> record role items (Warning Event, outcome failed)
    journey(finish, started, ...)     the migrate role's result
    plan_outcome(plans, ports, now)   after the write: record role items (Event, metrics) for the decisions
                                      whose ports changed, a one-line summary, the ports changed

Pure functions (the filters of the same names wrap them): no I/O, the clock is a parameter.
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import in_scope
from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_plan import KEY_CHASSIS, KEY_STRATEGY


def _key(item):
    return (item.get("namespace"), item.get("vmi"))


def early_writes(migrations, scope="all", state="prepared"):
    """The writes an event already justifies, VMI in scope as the event saw it (network_opt). One item
    per VMI, the last one given wins.
    state  prepared: both nodes known and different (the prepare's head start);
           pinned: the source known (the pin before a target pod exists; ovn_lsp_batch writes it only
           on ports that carry neither key)."""
    items = {}
    for migration in migrations or ():
        source, target = migration.get("source_node"), migration.get("target_node")
        if state == "pinned":
            target = None
            ready = bool(source)
        else:
            ready = bool(source and target and source != target)
        if not (migration.get("vmi") and migration.get("namespace") and ready):
            continue
        if not in_scope(migration.get("network_opt") or "", scope):
            continue
        items[_key(migration)] = {"vmi": migration["vmi"], "namespace": migration["namespace"], "state": state,
                                  "source_chassis": source, "target_chassis": target}
    return [items[k] for k in sorted(items)]


def plan_writes(plans, written=(), ports=None):
    """One ovn_lsp_batch item per plan that writes something, but none that repeats an item of
    `written` (the early write of the same run, made from the event). The read that made the plans
    confirmed it; writing it again after that read could undo what another run wrote meanwhile
    (an operator's cutover or rollback of a migration that ended right after the read).

    ports: the ports the plans were decided with (ovn_lsp_info's `ports`: name, vmi, namespace, options),
    or None when the decision did not read them. An item whose VMI has ports there carries `expected`
    ({port name: owned options}): ovn_lsp_batch writes it only if the ports still carry that."""
    done = [_item(w) for w in written or ()]
    items = [_item(p) for p in plans or () if p.get("action") != "none" and p.get("state")]
    seen = expected_options(ports)
    return [dict(i, expected=seen[_key(i)]) if _key(i) in seen else i for i in items if i not in done]


def expected_options(ports):
    """{(namespace, vmi): {port name: {requested-chassis, activation-strategy}}} of ports as read."""
    seen = {}
    for port in ports or ():
        if port.get("vmi") and port.get("namespace"):
            options = port.get("options") or {}
            seen.setdefault(_key(port), {})[port["name"]] = dict(
                (k, options.get(k) or None) for k in (KEY_CHASSIS, KEY_STRATEGY))
    return seen


def merge_plans(plans, again):
    """`plans` with the plan of each VMI decided `again` (after its write met a conflict) in place of its own."""
    newer = dict((_key(p), p) for p in again or ())
    return [newer.get(_key(p), p) for p in plans or ()] + [
        p for p in again or () if _key(p) not in set(_key(q) for q in plans or ())]


def _item(source):
    return {"vmi": source["vmi"], "namespace": source["namespace"], "state": source["state"],
            "source_chassis": source.get("source_chassis"), "target_chassis": source.get("target_chassis")}


def _changed_ports(ports):
    """{(namespace, vmi): [port names]} of the ports whose owned keys changed."""
    changed = {}
    for port in ports or ():
        if port.get("before") == port.get("after"):
            continue
        names = changed.setdefault(_key(port), [])
        if port["name"] not in names:       # an early write and a later one may both have changed it
            names.append(port["name"])
    return changed


def _message(plan, names):
    ports = ", ".join(names)
    migration = plan.get("migration") or ""
    if plan["action"] == "prepare":
        return ("ports %s bound on %s and %s (target activated by the VM's RARP) for migration %s"
                % (ports, plan["source_chassis"], plan["target_chassis"], migration))
    if plan["action"] == "cutover":
        return "ports %s bound on %s only after migration %s succeeded" % (ports, plan["target_chassis"], migration)
    prefix = "migration timed out and was cancelled; " if plan.get("timeout") else ""
    if plan["state"] == "absent":
        text = "migration options removed from ports %s" % ports
    else:
        text = "ports %s bound on %s only" % (ports, plan["source_chassis"])
    if plan["action"] == "repair":
        text += " (found with no migration in flight)"
    return prefix + text


def _dual(owned):
    return "," in ((owned or {}).get(KEY_CHASSIS) or "")


def _written_at(ports, dual, now, first):
    """When the ports' change to (dual: two chassis / not: one) was committed (their `written_at`), the
    first or last of them; `now` when no port says."""
    stamps = [p["written_at"] for p in ports if p.get("written_at") and _dual(p.get("after")) == dual]
    if not stamps:
        return now
    return min(stamps) if first else max(stamps)


def _stages(plan, ports, now, bound):
    """The metric stages the plan's write reached: each at the time its ports' change was committed. A
    run that bound the target early (the rulebook's prepare writes the event's nodes first) and then
    found the migration over and cut over records both stages, so the dual-chassis window is closed."""
    stages = {"target_scheduled": plan.get("target_scheduled_at")}
    if plan["action"] == "prepare":
        stages["prepared"] = _written_at(ports, True, now, first=True)
        stages["target_bound"] = now if bound else None
    elif plan["action"] == "cutover":
        if any(_dual(p.get("after")) and p.get("written_at") for p in ports):
            stages["prepared"] = _written_at(ports, True, now, first=True)
        stages["activated"] = plan.get("activated_at")
        stages["cutover"] = _written_at(ports, False, now, first=False)
    else:
        return {}
    return dict((k, v) for k, v in stages.items() if v)


def plan_outcome(plans, ports, now, bound=True):
    """What the write that returned `ports` did for `plans`: {records, summary, changed_ports}.

    now    epoch seconds of the write; `bound`: the write waited for the Southbound (wait sb or hv),
           so the target was bound by then."""
    changed = _changed_ports(ports)
    return {
        "records": _records(plans, changed, ports, now, bound),
        "summary": "; ".join("%s/%s: %s - %s%s" % (p["namespace"], p["vmi"], p["action"], p["reason"],
                                                   " (changed)" if changed.get(_key(p)) else "")
                             for p in plans or ()) or "no VMI in play",
        "changed_ports": sorted(name for names in changed.values() for name in names),
    }


def _records(plans, changed, ports, now, bound):
    items = []
    for plan in plans or ():
        names = changed.get(_key(plan))
        if not names or not plan.get("record_reason"):
            continue
        mine = [p for p in ports or () if _key(p) == _key(plan) and p.get("before") != p.get("after")]
        items.append({
            "namespace": plan["namespace"],
            "vmi": plan["vmi"],
            "migration": plan.get("migration") or "",
            "migration_uid": plan.get("migration_uid") or "",
            "reason": plan["record_reason"],
            "type": "Warning" if plan.get("timeout") else "Normal",
            "message": _message(plan, names),
            "annotations": dict((k, v) for k, v in (("source-node", plan.get("source_node")),
                                                    ("target-node", plan.get("target_node"))) if v),
            "stages": _stages(plan, mine, now, bound),
            "outcome": plan.get("outcome") or "",
        })
    return items


def failure_records(migrations, verb, msg):
    """Record role items for a step that failed: one Warning Event per VMI, outcome `failed`."""
    items = {}
    for migration in migrations or ():
        if migration.get("vmi") and migration.get("namespace"):
            items[_key(migration)] = {
                "namespace": migration["namespace"], "vmi": migration["vmi"],
                "migration": migration.get("vmim") or "", "migration_uid": migration.get("vmim_uid") or "",
                "reason": "NetworkActionFailed", "type": "Warning", "annotations": {}, "stages": {},
                "message": "%s failed: %s" % (verb, msg or "unknown error"), "outcome": "failed",
            }
    return [items[k] for k in sorted(items)]


def journey(finish, started, prepare=None, error="", cancelled=False):
    """The migrate role's result: how the migration `started` (vmim's record) ended, from the plan the
    end was converged with (`finish`, the cleanup role's result) and the prepare role's result."""
    prepare = prepare or {}
    uid = (started or {}).get("uid")
    mine = [m for m in finish.get("migrations") or () if m.get("uid") == uid]
    if cancelled:
        phase = "Cancelled"
    elif mine:
        phase = mine[0].get("phase") or "Pending"
    else:
        phase = "Deleted"
    state = (finish.get("vmi_state") or {}).get("migration_state") or {}
    reason = state.get("failureReason") or "" if state.get("migrationUid") == uid and phase != "Succeeded" else ""
    return {
        "vmi": (started or {}).get("vmi"),
        "namespace": (started or {}).get("namespace"),
        "vmim": (started or {}).get("name"),
        "created": bool((started or {}).get("created")),
        "phase": phase,
        "error": error or "",
        "reason": reason,
        "source_node": prepare.get("source_node") or (mine[0].get("source_node") if mine else "") or "",
        "target_node": prepare.get("target_node") or (mine[0].get("target_node") if mine else "") or "",
        "prepare": prepare,
        "finish": finish,
        "phase_transition_timestamps": mine[0].get("phase_transition_timestamps") if mine else [],
    }
