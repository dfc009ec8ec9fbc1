# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ovn_lsp and ovn_lsp_batch share: check the chassis exist and that OVN can bind a port on
two chassis, write the ports' keys in one transaction, wait for the chassis involved, build the diff."""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import sb as ovn_sb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError

FALLBACK_WARNING = ("wait=hv without ovn_sb_connection waits for NB_Global.hv_cfg, the slowest chassis of the "
                    "whole cluster (one NotReady node holds it back): set ovn_sb_connection to wait only for "
                    "the chassis involved")


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
        module.warn("Ports %s already sit on their target chassis alone (a cutover landed): left as they are"
                    % ", ".join(result["kept"]))
    if module._diff:
        result["diff"] = {
            "before": dict((port["name"], port["before"]) for port in result["ports"]),
            "after": dict((port["name"], port["after"]) for port in result["ports"]),
        }
    return result
