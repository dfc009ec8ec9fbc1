# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one decider: what a VMI's OVN ports should be now (DESIGN.md, "Phases").

`plan()` maps what Kubernetes says about one VMI (its migrations, the VMI itself, the scope) and,
when known, the owned options its ports carry now, to one action with the chassis to write and a
human reason. vmim_info returns it to the roles, the EDA source puts it on its events, the
reconcile sweep applies it to every VMI in play: every path decides the same way.

Pure: no I/O, no Ansible, the clock is a parameter.

    pin       requested-chassis=SRC        in flight, source known, no target pod scheduled yet
    prepare   requested-chassis=SRC,DST    in flight, target pod scheduled (and re-assert)
              activation-strategy=rarp
    cutover   requested-chassis=DST        the VMI's newest migration Succeeded
    rollback  requested-chassis=SRC        it Failed, was deleted before it ended, or timed out
    repair    requested-chassis=NODE       no migration, but the ports carry marks that are not
              (both keys removed if the VMI is gone)    the VMI's node alone; or the VMI was
                                           re-created on another node than its last migration's target
    none      nothing to write
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import in_scope
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import parse_time

ACTIONS = ("pin", "prepare", "cutover", "rollback", "repair", "none")
KEY_CHASSIS = "requested-chassis"
KEY_STRATEGY = "activation-strategy"
STRATEGY = "rarp"

# What ovn_lsp / ovn_lsp_batch `state` each writing action means.
STATE_OF = {"pin": "rolled_back", "prepare": "prepared", "cutover": "cutover", "rollback": "rolled_back",
            "repair": "rolled_back"}
# The Kubernetes Event reason and the outcome metric the record role writes after a change.
RECORD_OF = {
    "pin": (None, None),
    "prepare": ("NetworkPrepared", None),
    "cutover": ("NetworkCutover", "succeeded"),
    "rollback": ("NetworkRolledBack", "rolled_back"),
    "repair": ("NetworkRepaired", "repaired"),
}


def _newest_first(records):
    return sorted(records, key=lambda r: (r.get("created") or "", r.get("name") or ""), reverse=True)


def _desired(action, source, target):
    """Our two keys as `action` leaves them (a missing key as None)."""
    if action == "prepare":
        return {KEY_CHASSIS: "%s,%s" % (source, target), KEY_STRATEGY: STRATEGY}
    if action == "cutover":
        return {KEY_CHASSIS: target, KEY_STRATEGY: None}
    if action in ("pin", "rollback", "repair"):
        return {KEY_CHASSIS: source, KEY_STRATEGY: None} if source else {KEY_CHASSIS: None, KEY_STRATEGY: None}
    return None


def _owned(port):
    options = port.get("options") or {}
    return {KEY_CHASSIS: options.get(KEY_CHASSIS) or None, KEY_STRATEGY: options.get(KEY_STRATEGY) or None}


def carries_marks(ports):
    """Whether any port carries a migration mark: two requested chassis or an activation strategy."""
    return any(_owned(p)[KEY_STRATEGY] or "," in (_owned(p)[KEY_CHASSIS] or "") for p in ports or ())


def _cut_over_to(ports, target):
    """Whether some port already sits on `target` alone (a cutover landed: never prepare it again)."""
    return any(_owned(p) == {KEY_CHASSIS: target, KEY_STRATEGY: None} for p in ports or ())


def _other_running(vmi, migration):
    """The uid of another migration the VMI's migrationState belongs to and that has not ended, or None.
    KubeVirt runs one migration of a VMI at a time: acting for ours then would be wrong."""
    state = (vmi or {}).get("migration_state") or {}
    uid = state.get("migrationUid")
    if not uid or uid == migration.get("uid"):
        return None
    if state.get("completed") or state.get("failed") or state.get("endTimestamp"):
        return None
    return uid


def _timed_out(migration, vmi, now, default_timeout, since):
    """Seconds of the timeout that ran out, or None. The time counts from the VMIM's creation, or from
    `since[uid]` (when a watcher first followed it) if later."""
    if now is None:
        return None
    seconds = (vmi or {}).get("migration_timeout") or default_timeout
    start = parse_time(migration.get("created"))
    followed = (since or {}).get(migration.get("uid"))
    if followed is not None and (start is None or followed > start):
        start = followed
    if not seconds or seconds <= 0 or start is None:
        return None
    return seconds if (now - start).total_seconds() > seconds else None


def _created_after(vmi, migration):
    """Whether the VMI was created after the migration was (a VMI of the same name, re-created)."""
    vmi_created, migration_created = parse_time(vmi.get("created")), parse_time(migration.get("created"))
    return bool(vmi_created and migration_created and vmi_created > migration_created)


def _activated_at(vmi, migration):
    """When KubeVirt saw the domain ready on the target (the VM resumed there and sent its RARP), if the
    VMI's migration state is this migration's."""
    state = (vmi or {}).get("migration_state") or {}
    if migration and state.get("migrationUid") == migration.get("uid"):
        return state.get("targetNodeDomainReadyTimestamp") or None
    return None


def _result(action, vmi, reason, migration=None, source=None, target=None, ports=None, cancel=False, timed_out=None):
    """The plan; `none` when the ports (if known) already are what the action would write."""
    desired = _desired(action, source, target)
    if desired is not None and ports and all(_owned(p) == desired for p in ports):
        reason = "%s; the ports already are so" % reason
        action = "none" if not cancel else action
    state = STATE_OF.get(action)
    if action in ("repair", "rollback") and not source:
        state = "absent"
    record_reason, outcome = RECORD_OF.get(action, (None, None))
    if timed_out:
        record_reason, outcome = "NetworkTimedOut", "timed_out"
    migration = migration or {}
    return {
        "action": action,
        "state": state,
        "source_chassis": source if action in ("pin", "prepare", "rollback", "repair") else None,
        "target_chassis": target if action in ("prepare", "cutover") else None,
        "reason": reason,
        "vmi": (vmi or {}).get("name"),
        "namespace": (vmi or {}).get("namespace"),
        "migration": migration.get("name"),
        "migration_uid": migration.get("uid"),
        "phase": migration.get("phase"),
        "target_scheduled_at": migration.get("target_scheduled_at"),
        "source_node": migration.get("source_node"),
        "target_node": migration.get("target_node"),
        "activated_at": _activated_at(vmi, migration),
        "cancel": bool(cancel),
        "timeout": timed_out,
        "record_reason": record_reason if action != "none" else None,
        "outcome": outcome if action != "none" else None,
    }


def plan(vmi, migrations=(), ports=None, scope="all", now=None, default_timeout=None, since=None, marked=False):
    """One action for the VMI's ports.

    vmi          vmim_record.vmi_summary() of the VMI (exists, node, migration_state, network_opt,
                 migration_timeout); name and namespace are echoed in the plan.
    migrations   vmim_record.migration_record() of its VMIMs, any order; a record with
                 `deleted: true` is a VMIM deleted while the caller followed it (`timed_out`: seconds,
                 when the caller cancelled it for running out of time).
    ports        None when unknown, else the VMI's ports, each with `options` holding our two keys.
    scope        "all" or "opted_in" (vmi_scope).
    now          an aware datetime to check timeouts against, or None to check none.
    default_timeout, since   the cluster-wide timeout (seconds) and {uid: datetime} first followed.
    marked       whether the caller knows that the collection marked the ports (the EDA source prepared
                 them); an out-of-scope VMI is only acted on then.
    """
    vmi = vmi or {}
    ref = "%s/%s" % (vmi.get("namespace") or "-", vmi.get("name") or "-")
    records = _newest_first(list(migrations or ()))

    if not vmi.get("exists"):
        if ports and any(_owned(p)[KEY_CHASSIS] or _owned(p)[KEY_STRATEGY] for p in ports):
            return _result("repair", vmi, "VMI %s is gone: removing requested-chassis and activation-strategy" % ref,
                           records[0] if records else None, ports=ports)
        return _result("none", vmi, "VMI %s does not exist" % ref, records[0] if records else None)

    why = None
    if not in_scope(vmi.get("network_opt") or "", scope):
        why = "VMI %s is out of scope (%s, scope %s)" % (ref, vmi.get("network_opt") or "not opted in", scope)
        # Undoing the collection's own marks ignores scope (a VM opted out mid-migration is still
        # followed to its end). Marks found on the ports alone may be Kube-OVN's own (its
        # live-migration optimisation writes the same keys): left to the VM's owner. The rule, for
        # pins too: a write is the collection's own when the VMI is in scope (the collection only
        # writes for in-scope VMIs; with Kube-OVN's optimisation off Kube-OVN only ever removes the
        # keys) or when the caller remembers writing it (`marked`). The sweep has no such memory, so
        # it repairs stale pins of in-scope VMIs and of VMIs that are gone, and leaves the rest.
        if not marked:
            return _result("none", vmi, why, records[0] if records else None)
        why += ", but the collection marked its ports"

    in_flight = [r for r in records if r.get("in_flight") and not r.get("deleted")]
    if in_flight:
        return _in_flight(vmi, in_flight[0], ports, now, default_timeout, since, why)
    return _settled(vmi, records, ports, why)


def _in_flight(vmi, migration, ports, now, default_timeout, since, why):
    name = migration.get("name")
    prefix = (why + "; ") if why else ""
    source, target = migration.get("source_node"), migration.get("target_node")
    other = _other_running(vmi, migration)
    if other:
        return _result("none", vmi, prefix + "the VMI's migration state belongs to migration %s, which has not ended" % other,
                       migration)
    timed_out = _timed_out(migration, vmi, now, default_timeout, since)
    if timed_out:
        node = vmi.get("node") or source
        return _result("rollback", vmi, prefix + "migration %s has been in flight for more than %s s: cancel it and roll "
                       "back to %s" % (name, timed_out, node), migration, source=node, ports=ports, cancel=True,
                       timed_out=timed_out)
    if not source:
        return _result("none", vmi, prefix + "migration %s: the source node is unknown" % name, migration)
    if target and target == source:
        return _result("none", vmi, prefix + "migration %s: source and target are the same node (%s)" % (name, source),
                       migration)
    if not target:
        return _result("pin", vmi, prefix + "migration %s (%s): no target pod scheduled yet, pin to the source %s"
                       % (name, migration.get("phase") or "no phase yet", source), migration, source=source,
                       ports=ports)
    if _cut_over_to(ports, target):
        return _result("none", vmi, prefix + "migration %s: a cutover to %s already landed; never prepared again"
                       % (name, target), migration)
    return _result("prepare", vmi, prefix + "migration %s (%s): bind on %s and %s, target activated by the VM's RARP"
                   % (name, migration.get("phase") or "no phase yet", source, target), migration,
                   source=source, target=target, ports=ports)


def _settled(vmi, records, ports, why):
    """No migration in flight: the ports belong on the node the VMI runs on (DESIGN: cutover,
    rollback, reconcile)."""
    node = vmi.get("node") or None
    newest = records[0] if records else None
    prefix = (why + "; ") if why else ""
    if newest is not None and newest.get("phase") == "Succeeded":
        # The VMI's node can lag behind the end of the migration: while the VMI's migration state is
        # this migration's, its target is where the VM runs.
        target = (newest.get("target_node") if newest.get("migration_state_matches") else None) or node \
            or newest.get("target_node")
        if node and node != newest.get("target_node") and _created_after(vmi, newest):
            # A VMI created after the migration, so not the one it moved: re-created elsewhere after a
            # node failure. A pin the cutover left would keep it offline there: not this migration's
            # cutover. (The VMI the migration moved may only lag behind it: its node comes later.)
            return _result("repair", vmi, prefix + "the VMI runs on %s, not on %s where migration %s took it (re-created "
                           "there since): bind on %s only" % (node, newest.get("target_node"), newest.get("name"), node),
                           newest, source=node, ports=ports)
        if not target:
            return _result("none", vmi, prefix + "migration %s succeeded, but the VMI runs on no node"
                           % newest.get("name"), newest)
        return _result("cutover", vmi, prefix + "migration %s succeeded: bind on %s only" % (newest.get("name"), target),
                       newest, target=target, ports=ports)
    if newest is not None and (newest.get("phase") == "Failed" or newest.get("deleted")):
        back = node or newest.get("source_node")
        how = "was deleted before it ended" if newest.get("deleted") and newest.get("in_flight") else "failed"
        if not back:
            return _result("none", vmi, prefix + "migration %s %s, but the VMI runs on no node"
                           % (newest.get("name"), how), newest)
        return _result("rollback", vmi, prefix + "migration %s %s: bind on %s only" % (newest.get("name"), how, back),
                       newest, source=back, ports=ports, timed_out=newest.get("timed_out"))
    if ports is None:
        return _result("none", vmi, prefix + "no migration of the VMI", newest)
    # Reconcile: two chassis, an activation strategy, or a pin that is not the VMI's node. A port
    # with no requested-chassis at all is as Kube-OVN creates it: not ours to pin.
    pins = set(_owned(p)[KEY_CHASSIS] for p in ports if _owned(p)[KEY_CHASSIS])
    if not carries_marks(ports) and pins <= set([node]):
        return _result("none", vmi, prefix + "no migration in flight and no migration marks on the ports", newest)
    if not node:
        return _result("none", vmi, prefix + "the VMI runs on no node", newest)
    return _result("repair", vmi, prefix + "no migration in flight: bind on %s, the VMI's node, only" % node,
                   newest, source=node, ports=ports)


def start_pin(vmi, migrations=(), scope="all"):
    """What to write just before a migration of `vmi` is created (the ad hoc live_migrate): the
    planner's `pin` to the node the VMI runs on. Kube-OVN creates a VM's ports without
    requested-chassis, so the target pod's CNI plug would otherwise let the target's ovn-controller
    claim the running VM's port before prepare lands. When a migration is already in flight (the
    caller joins it), the planner's own plan for it stands; an out-of-scope VMI is never pinned."""
    vmi = vmi or {}
    ref = "%s/%s" % (vmi.get("namespace") or "-", vmi.get("name") or "-")
    current = plan(vmi, migrations, scope=scope)
    if any(r.get("in_flight") and not r.get("deleted") for r in migrations or ()):
        return current
    if not vmi.get("exists") or not in_scope(vmi.get("network_opt") or "", scope):
        return current
    node = vmi.get("node")
    if not node:
        return _result("none", vmi, "VMI %s runs on no node: nothing to pin" % ref)
    return _result("pin", vmi, "a migration of VMI %s is about to start: pin to its node %s before any target "
                   "pod exists" % (ref, node), source=node)
