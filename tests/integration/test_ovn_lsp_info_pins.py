"""ovn_lsp_info include_pins (issue 12): the sweep's scan finds pins as well as migration marks, narrowed
server-side to the chassis the SB knows when ovn_sb_connection is set, on the real NB."""
from ansible_run import assert_ok, run_module


def test_the_scan_finds_pins_narrowed_to_the_known_chassis(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    pinned, moving, plain, elsewhere = ovn_vm(), ovn_vm(), ovn_vm(), ovn_vm()
    name = {key: vm["ports"][0]["name"] for key, vm in
            (("pinned", pinned), ("moving", moving), ("plain", plain), ("elsewhere", elsewhere))}
    sb.nbctl("set", "Logical_Switch_Port", name["pinned"], "options:requested-chassis=hv2")
    sb.nbctl("set", "Logical_Switch_Port", name["moving"], "options:requested-chassis=hv1,hv3",
             "options:activation-strategy=rarp")
    sb.nbctl("set", "Logical_Switch_Port", name["elsewhere"], "options:requested-chassis=node-gone")
    nb_only = {"ovn_nb_connection": sb.nb_remote, "only_migrating": True}
    with_sb = dict(nb_only, ovn_sb_connection=sb.sb_remote)

    def found(args):
        return set(p["name"] for p in assert_ok(run_module("ovn_lsp_info", args))["ports"]) & set(name.values())

    assert found(with_sb) == {name["moving"]}                                  # marks only, as before
    assert found(dict(with_sb, include_pins=True)) == {name["pinned"], name["moving"]}
    # A chassis the SB does not know is out of the narrowed selects; the full scan still finds it.
    assert found(dict(nb_only, include_pins=True)) == {name["pinned"], name["moving"], name["elsewhere"]}
