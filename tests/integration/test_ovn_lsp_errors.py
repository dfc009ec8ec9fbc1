"""Bad input to kubeovn.live_migration.ovn_lsp: a clean failure that names the problem, and the
Northbound database left exactly as it was (the VM's options and NB_Global nb_cfg)."""
import socket

import pytest

from ansible_run import assert_clean_failure, run_module


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nb_snapshot(sb, lsp):
    return (sb.nbctl("get", "Logical_Switch_Port", lsp, "options"), sb.nbctl("get", "NB_Global", ".", "nb_cfg"))


CASES = {
    "same source and target": (
        dict(state="prepared", source_chassis="hv1", target_chassis="hv1"),
        ["source_chassis and target_chassis are both 'hv1'"]),
    "comma in a chassis": (
        dict(state="prepared", source_chassis="hv1", target_chassis="hv2,hv3"),
        ["target_chassis 'hv2,hv3'", "without commas or whitespace"]),
    "space in a chassis": (
        dict(state="rolled_back", source_chassis="hv 1"),
        ["source_chassis 'hv 1'", "without commas or whitespace"]),
    "empty chassis": (
        dict(state="cutover", target_chassis=""),
        ["target_chassis must not be empty"]),
    "missing target for prepared": (
        dict(state="prepared", source_chassis="hv1"),
        ["state is prepared", "target_chassis"]),
    "unknown chassis with verify": (
        dict(state="prepared", source_chassis="hv1", target_chassis="hv9"),
        ["Chassis hv9 not registered in the Southbound database", "registered: hv1 (hv1), hv2 (hv2), hv3 (hv3)"]),
    "unreachable remote": (
        dict(state="cutover", target_chassis="hv2", ovn_nb_connection="tcp:127.0.0.1:{closed}"),
        ["ovn_nb_connection: Cannot use the OVN_Northbound database: tcp:127.0.0.1:{closed}: Connection refused"]),
    "SB address given as NB": (
        dict(state="cutover", target_chassis="hv2", ovn_nb_connection="{sb_remote}"),
        ["{sb_remote}: serves OVN_Southbound, not OVN_Northbound"]),
    "NB address given as SB": (
        dict(state="cutover", target_chassis="hv2", ovn_sb_connection="{nb_remote}"),
        ["ovn_sb_connection: ", "{nb_remote}: serves OVN_Northbound, not OVN_Southbound"]),
    "missing TLS file": (
        dict(state="cutover", target_chassis="hv2", ovn_nb_connection="ssl:127.0.0.1:{closed}",
             private_key="/nonexistent/key.pem", certificate="/nonexistent/cert.pem", ovn_ca_cert="/nonexistent/ca.pem"),
        ["Cannot read private_key /nonexistent/key.pem"]),
    "ssl remote without a CA": (
        dict(state="cutover", target_chassis="hv2", ovn_nb_connection="ssl:127.0.0.1:{closed}"),
        ["ssl: remotes need private_key, certificate and ovn_ca_cert", "missing: private_key, certificate, ovn_ca_cert"]),
    "bad remote syntax": (
        dict(state="cutover", target_chassis="hv2", ovn_nb_connection="127.0.0.1:6641"),
        ["Unsupported OVSDB remote '127.0.0.1:6641'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_cleanly_and_writes_nothing(ovn_sandbox, ovn_vm, case):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    lsp = vm["ports"][0]["name"]
    sb.nbctl("set", "Logical_Switch_Port", lsp, "options:requested-chassis=hv1", "options:foo=bar")
    before = nb_snapshot(sb, lsp)
    values = {"closed": free_port(), "sb_remote": sb.sb_remote, "nb_remote": sb.nb_remote}
    extra, fragments = CASES[case]
    args = {"ovn_nb_connection": sb.nb_remote, "ovn_sb_connection": sb.sb_remote, "ports": [lsp], "wait": "hv"}
    args.update({k: v.format(**values) if isinstance(v, str) else v for k, v in extra.items()})
    result = run_module("ovn_lsp", args)
    assert_clean_failure(result, *[f.format(**values) for f in fragments])
    assert nb_snapshot(sb, lsp) == before


def test_no_port_found_names_the_search(ovn_sandbox):
    sb = ovn_sandbox
    before = sb.nbctl("get", "NB_Global", ".", "nb_cfg")
    result = run_module("ovn_lsp", {"ovn_nb_connection": sb.nb_remote, "vmi": "ghost", "namespace": "nowhere",
                                    "state": "absent", "wait": "sb"})
    assert_clean_failure(result, 'No port found: searched Logical_Switch_Port of type "" with external_ids:pod=nowhere/ghost')
    result = run_module("ovn_lsp", {"ovn_nb_connection": sb.nb_remote, "ports": ["ghost.nowhere"], "state": "absent"})
    assert_clean_failure(result, "No Logical_Switch_Port named ghost.nowhere")
    assert sb.nbctl("get", "NB_Global", ".", "nb_cfg") == before


def test_ports_and_vmi_are_exclusive(ovn_sandbox):
    result = run_module("ovn_lsp", {"ovn_nb_connection": ovn_sandbox.nb_remote, "ports": ["a"], "vmi": "v",
                                    "namespace": "n", "state": "absent"})
    assert_clean_failure(result, "mutually exclusive")
