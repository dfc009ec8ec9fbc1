# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-assert: what the event source does when the NB watcher sees a managed VMI's owned keys change.

During a migration in flight, Kube-OVN deletes `requested-chassis` and `activation-strategy` from every
port of a VM whenever any pod of that VM is deleted (pkg/controller/pod.go, the pod deletion path that
calls CleanLogicalSwitchPortMigrateOptions in pkg/ovs/ovn-nb-logical_switch_port.go), and anyone else may
change them. ReassertGuard asks the planner (MigrationView.plan_for with the ports as seen) and returns a
migration event carrying its action when the ports no longer are what the collection wrote for the
migration in flight, so the rulebook's existing rule runs prepare (or pin) again.

Only after the collection's own write was seen on the ports (`landed`): the ports of a migration that
was just decided, and whose write has not landed yet, are not re-asserted (the run in progress writes
them). Pure: no I/O.
"""

import os

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.source_options import (
    SourceOptionError, parse_value,
)

# The event source's options for the NB watcher (vmim_events); OVN_NB_DB as for the modules. Prefixed
# ovn_ where the Kubernetes auth options already use the name (ca_cert).
WATCH_SCHEMA = {
    "reassert": {"type": "bool", "default": True},
    "ovn_nb_connection": {"type": "str", "default": None, "example": "'tcp:10.0.0.1:6641,tcp:10.0.0.2:6641'"},
    "ovn_private_key": {"type": "str", "default": None},
    "ovn_certificate": {"type": "str", "default": None},
    "ovn_ca_cert": {"type": "str", "default": None},
}
# The actions whose result a change of the ports can undo while the migration is in flight.
REASSERTED = ("pin", "prepare")


def watch_options(args):
    """(the other arguments, the watcher's options): the NB watcher runs when `reassert` is on and an NB
    connection is known (the option, else OVN_NB_DB). Raises SourceOptionError."""
    args = dict(args or {})
    given = dict((name, args.pop(name)) for name in list(args) if name in WATCH_SCHEMA)
    options = dict((name, parse_value(name, given.get(name), spec)) for name, spec in WATCH_SCHEMA.items())
    if not options["ovn_nb_connection"]:
        options["ovn_nb_connection"] = os.environ.get("OVN_NB_DB") or None
    tls = [options[k] for k in ("ovn_private_key", "ovn_certificate", "ovn_ca_cert")]
    if any(tls) and not all(tls):
        raise SourceOptionError("ovn_private_key, ovn_certificate and ovn_ca_cert go together (ssl: remotes)")
    return args, options


def _plan_key(result):
    return (result["action"], result["migration_uid"], result["source_chassis"], result["target_chassis"])


class ReassertGuard(object):
    """Which VMIs the NB watcher should watch, and the events a change of their ports calls for."""

    def __init__(self, view):
        self.view = view
        self.landed = {}    # (namespace, vmi) -> the plan key whose write the watcher saw on the ports

    def _in_flight_event(self, key):
        """The last event sent for the VMI's newest followed migration in flight, or None."""
        found = [e for e in self.view.sent.values() if (e["namespace"], e["vmi"]) == key
                 and e["in_flight"] and not e["deleted"]]
        if not found:
            return None
        return max(found, key=lambda e: (self._created(e), e["vmim"] or ""))

    def _created(self, event):
        vmim = self.view.vmims.get((event["namespace"], event["vmim"])) or {}
        return (vmim.get("metadata") or {}).get("creationTimestamp") or ""

    def watched(self):
        """(namespace, vmi) of every VMI with a followed migration in flight: the ports in play."""
        keys = set((e["namespace"], e["vmi"]) for e in self.view.sent.values() if e["in_flight"] and not e["deleted"])
        for key in [k for k in self.landed if k not in keys]:
            del self.landed[key]
        return keys

    def ports_changed(self, key, ports):
        """The events for VMI `key` whose ports now carry `ports` ({port name: owned options})."""
        event = self._in_flight_event(key)
        if event is None:
            self.landed.pop(key, None)
            return []
        wanted = self.view.plan_for(event)
        if wanted["action"] not in REASSERTED or wanted["migration_uid"] != event["vmim_uid"]:
            return []
        seen = [{"name": name, "options": options} for name, options in sorted(ports.items())]
        result = self.view.plan_for(event, ports=seen)
        if result["action"] == "none":
            self.landed[key] = _plan_key(wanted)
            return []
        if _plan_key(result) != _plan_key(wanted) or self.landed.get(key) != _plan_key(wanted):
            return []
        del self.landed[key]
        found = "; ".join("%s: %s" % (name, _render(options)) for name, options in sorted(ports.items()))
        return [dict(event, changes=["ports"], action=result["action"],
                     reason="the ports changed during the migration (%s): %s" % (found or "no port", result["reason"]),
                     source_chassis=result["source_chassis"], target_chassis=result["target_chassis"],
                     cancel=result["cancel"], timeout=result["timeout"])]


def _render(options):
    return ", ".join("%s=%s" % (k, v) for k, v in sorted(options.items()) if v) or "neither key"
