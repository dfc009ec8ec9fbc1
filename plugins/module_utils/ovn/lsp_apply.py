# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ovn_lsp and ovn_lsp_batch share: check the chassis exist and that OVN can bind a port on
two chassis, write the ports' keys in one transaction, wait for the chassis involved, build the diff, and
compare-and-swap across tasks: a write that carries the owned options it was decided on (`expected`)
finds the ports as they are and refuses to write a VMI whose ports no longer match."""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import sb as ovn_sb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError

FALLBACK_WARNING = ("wait=hv without ovn_sb_connection waits for NB_Global.hv_cfg, the slowest chassis of the "
                    "whole cluster (one NotReady node holds it back): set ovn_sb_connection to wait only for "
                    "the chassis involved")


CONFLICT_ACTIONS = ("fail", "skip")


def _owned(options):
    """Our two keys of an options dict, a missing or empty key as None."""
    options = options or {}
    return dict((key, options.get(key) or None) for key in ovn_nb.OWNED_KEYS)


def expectation_mismatches(ports, expected):
    """{port name: {"expected", "found"}} for each port named in `expected` whose owned keys are not what
    the decision saw (found None: the port is gone). Pure.

    ports: the Ports read now; expected: {port name: options as the decision read them}."""
    found = dict((port.name, port.owned) for port in ports)
    out = {}
    for name in sorted(expected or {}):
        want = _owned(expected[name])
        have = _owned(found[name]) if name in found else None
        if have != want:
            out[name] = {"expected": want, "found": have}
    return out


def check_expected(expected, label="expected"):
    """Raise ModuleError unless `expected` maps port names to dicts of our two keys (string or null)."""
    for name, options in sorted((expected or {}).items()):
        if not isinstance(options, dict) or set(options) - set(ovn_nb.OWNED_KEYS) or any(
                value is not None and not isinstance(value, str) for value in options.values()):
            raise ModuleError("%s[%s] must be a dict of %s, each a string or null (absent), got %r"
                              % (label, name, " and ".join(ovn_nb.OWNED_KEYS), options))


def conflict_message(conflicts):
    """One sentence naming every VMI whose ports changed since the decision, and how."""
    parts = []
    for conflict in conflicts:
        ports = "; ".join("%s carries %s, the decision saw %s" % (
            name, "nothing (the port is gone)" if c["found"] is None else _render(c["found"]), _render(c["expected"]))
            for name, c in sorted(conflict["changed"].items()))
        ref = "%s/%s" % (conflict["namespace"], conflict["vmi"]) if conflict["vmi"] else "ports"
        parts.append("%s (%s)" % (ref, ports))
    return "the ports changed since the decision was made, nothing written for them: " + ", ".join(parts)


def _render(owned):
    return ", ".join("%s=%s" % (k, owned[k]) for k in ovn_nb.OWNED_KEYS if owned[k] is not None) or "neither key"


def expecting(lookup, items, on_conflict, conflicts):
    """A lookup that compares the ports it finds with what each item's decision saw (its `expected`:
    {port name: owned options}). The transaction's own `wait` operations then guard the rest of the way, so
    the whole is a compare-and-swap from the decision's read to the write.

    A VMI whose ports differ: with on_conflict=fail, ModuleError (before anything is written); with skip, its
    ports are left out. Either way it is listed in `conflicts` ({vmi, namespace, ref, ports, changed})."""
    def guarded(client):
        ports = lookup(client)
        del conflicts[:]
        for item in items:
            if item.get("expected") is None:
                continue
            key = (item["namespace"], item["vmi"])
            mine = [p for p in ports if p.pod == key or p.name in item["expected"]]
            changed = expectation_mismatches(mine, item["expected"])
            if changed:
                conflicts.append({"vmi": item["vmi"], "namespace": item["namespace"],
                                  "ref": "%s/%s" % key if item["vmi"] else None,
                                  "ports": sorted(item["expected"]), "changed": changed})
        if conflicts and on_conflict == "fail":
            raise ModuleError(conflict_message(conflicts), conflicts=list(conflicts))
        left_out = set((c["namespace"], c["vmi"]) for c in conflicts)
        return [p for p in ports if p.pod not in left_out]
    return guarded


def check_chassis_registered(module, sb, names):
    """verify_chassis: every named chassis must be in SB (by name or hostname)."""
    if not names or not module.params["verify_chassis"]:
        return
    if sb is None:
        module.warn("ovn_sb_connection is not set: cannot verify that %s exist" % ", ".join(names))
        return
    found = ovn_sb.find_chassis(sb, names)
    unknown = [n for n in names if found[n] is None]
    if unknown:
        known = ovn_sb.list_chassis(sb)
        raise ModuleError("Chassis %s not registered in the Southbound database (by name or hostname); registered: %s"
                          % (", ".join(unknown), ", ".join(known) or "none"))


def involved_chassis(names, ports):
    """The chassis given plus every chassis the ports' requested-chassis named before or after."""
    for port in ports:
        for side in ("before", "after"):
            names = list(names) + (port[side].get(ovn_nb.KEY_CHASSIS) or "").split(",")
    return ovn_nb.unique(n for n in names if n)


def wait_for_chassis(module, nb, sb, result, chassis):
    """wait=sb/hv after the write: a timeout is a warning naming what lags, never a failure."""
    p = module.params
    names = []
    if p["wait"] == "hv" and sb is not None:
        # requested-chassis names a Chassis by name or hostname; Chassis_Private by name.
        found = ovn_sb.find_chassis(sb, involved_chassis(chassis, result["ports"]))
        names = ovn_nb.unique(c["name"] for c in found.values() if c)
    elif p["wait"] == "hv":
        module.warn(FALLBACK_WARNING)
    lag = ovn_nb.wait_for_sync(nb, result["nb_cfg"], p["wait"], p["wait_timeout"], sb=sb, chassis=names)
    if lag:
        module.warn(lag)
    result["waited_for"] = names


def apply(module, lookup, desired, chassis, comment, keep=None):
    """Check `chassis` and OVN, then bring the keys of lookup's ports to `desired` (see set_port_options)."""
    p = module.params
    if p["wait_timeout"] <= 0:
        raise ModuleError("wait_timeout must be positive")
    chassis = ovn_nb.unique(c for c in chassis if c is not None)
    sb = ovn_sb.connect_sb(p) if (p["verify_chassis"] and chassis) or p["wait"] == "hv" else None
    try:
        check_chassis_registered(module, sb, chassis)
        with ovn_nb.connect_nb(p) as nb:
            ovn_nb.require_multichassis(nb, sb)
            result = ovn_nb.set_port_options(nb, lookup, desired, check_mode=module.check_mode, wait=p["wait"],
                                             comment=comment, keep=keep)
            if "nb_cfg" in result:
                wait_for_chassis(module, nb, sb, result, chassis)
    finally:
        if sb is not None:
            sb.close()
    if result["kept"]:
        module.warn("Ports %s left as they are: a cutover to their target already landed (state=prepared), or they "
                    "already carry requested-chassis or activation-strategy (state=pinned)" % ", ".join(result["kept"]))
    if module._diff:
        result["diff"] = {
            "before": dict((port["name"], port["before"]) for port in result["ports"]),
            "after": dict((port["name"], port["after"]) for port in result["ports"]),
        }
    return result
