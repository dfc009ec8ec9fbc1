# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ovn_lsp and ovn_lsp_batch share: check the chassis exist, write the ports' keys in one
transaction, name the lagging hypervisors on a wait=hv timeout, build the diff."""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import sb as ovn_sb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError, OvsdbError


def check_chassis_registered(module, names):
    """verify_chassis: every named chassis must be in SB (by name or hostname)."""
    if not names or not module.params["verify_chassis"]:
        return
    sb = ovn_sb.connect_sb(module.params)
    if sb is None:
        module.warn("ovn_sb_connection is not set: cannot verify that %s exist" % ", ".join(names))
        return
    with sb:
        found = ovn_sb.find_chassis(sb, names)
        unknown = [n for n in names if found[n] is None]
        if unknown:
            known = ovn_sb.list_chassis(sb)
            raise ModuleError("Chassis %s not registered in the Southbound database (by name or hostname); registered: %s"
                              % (", ".join(unknown), ", ".join(known) or "none"))


def name_lagging_chassis(params, nb_cfg):
    """For a wait=hv timeout: which hypervisors are behind, when the SB can tell (best effort)."""
    try:
        sb = ovn_sb.connect_sb(params)
        if sb is None:
            return " (set ovn_sb_connection to see which)"
        with sb:
            behind = ovn_sb.lagging_chassis(sb, nb_cfg)
    except ModuleError:
        return ""
    return "; behind: %s" % ", ".join(behind) if behind else ""


def apply(module, lookup, desired, chassis, comment, keep=None):
    """Check `chassis`, then bring the keys of lookup's ports to `desired` (see set_port_options)."""
    p = module.params
    if p["wait_timeout"] <= 0:
        raise ModuleError("wait_timeout must be positive")
    check_chassis_registered(module, ovn_nb.unique(c for c in chassis if c is not None))
    with ovn_nb.connect_nb(p) as nb:
        try:
            result = ovn_nb.set_port_options(nb, lookup, desired, check_mode=module.check_mode, wait=p["wait"],
                                             wait_timeout=p["wait_timeout"], comment=comment,
                                             keep=keep)
        except OvsdbError as err:
            if err.details.get("wait_stage") != "hv":
                raise
            raise OvsdbError(err.msg + name_lagging_chassis(p, err.details["nb_cfg"]), **err.details)
    if result["kept"]:
        module.warn("Ports %s already sit on their target chassis alone (a cutover landed): left as they are"
                    % ", ".join(result["kept"]))
    if module._diff:
        result["diff"] = {
            "before": dict((port["name"], port["before"]) for port in result["ports"]),
            "after": dict((port["name"], port["after"]) for port in result["ports"]),
        }
    return result
