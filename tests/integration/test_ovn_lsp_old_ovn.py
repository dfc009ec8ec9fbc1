"""OVN older than 22.06 has no multi-chassis port bindings: ovn_lsp refuses it with a clear message
before anything is written. Real ovsdb-servers hold copies of the installed schemas edited back
to what OVN 22.03 had (SB Port_Binding without additional_chassis and friends, NB schema 6.1.0)."""
import json
import os
import signal
import subprocess

import pytest

from ansible_run import assert_clean_failure, run_module
from ovn_sandbox.cluster import free_port

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"
RC = "requested-chassis"


def edited_schema(path, target, version, drop_columns=()):
    schema = json.loads(open(path).read())
    schema["version"] = version
    schema.pop("cksum", None)
    for table, column in drop_columns:
        del schema["tables"][table]["columns"][column]
    target.write_text(json.dumps(schema))
    return target


def start_server(directory, schema):
    directory.mkdir()
    subprocess.run(["ovsdb-tool", "create", str(directory / "db"), str(schema)], check=True, timeout=30)
    port = free_port()
    subprocess.run(["ovsdb-server", str(directory / "db"), "--remote=ptcp:%d:127.0.0.1" % port,
                    "--remote=punix:%s" % (directory / "sock"), "--pidfile=%s" % (directory / "pid"),
                    "--log-file=%s" % (directory / "log"), "--unixctl=%s" % (directory / "ctl"),
                    "--detach", "--no-chdir"], check=True, timeout=30)
    return "tcp:127.0.0.1:%d" % port, int((directory / "pid").read_text())


def nbctl(remote, *args):
    return subprocess.run(["ovn-nbctl", "--db=" + remote] + list(args), check=True, capture_output=True,
                          text=True, timeout=30).stdout.strip()


@pytest.fixture(scope="module")
def old_ovn(tmp_path_factory):
    base = tmp_path_factory.mktemp("old-ovn")
    pids = []
    try:
        dbs = {}
        for name, schema, version, drop in (
                ("nb-new", NB_SCHEMA, None, ()),
                ("nb-old", NB_SCHEMA, "6.1.0", ()),
                ("sb-old", SB_SCHEMA, "20.21.0", [("Port_Binding", c) for c in
                                                  ("additional_chassis", "requested_additional_chassis",
                                                   "additional_encap")])):
            path = edited_schema(schema, base / (name + ".ovsschema"), version, drop) if version else schema
            remote, pid = start_server(base / name, path)
            pids.append(pid)
            dbs[name] = remote
        for name in ("nb-new", "nb-old"):
            nbctl(dbs[name], "init")
            nbctl(dbs[name], "ls-add", "ls", "--", "lsp-add", "ls", "vm1.ns1", "--",
                  "set", "Logical_Switch_Port", "vm1.ns1", "options:%s=hv1" % RC, "options:foo=bar",
                  "external_ids:pod=ns1/vm1")
        yield dbs
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGTERM)


def snapshot(remote):
    return (nbctl(remote, "get", "Logical_Switch_Port", "vm1.ns1", "options"), nbctl(remote, "get", "NB_Global", ".", "nb_cfg"))


def test_an_sb_without_multi_chassis_bindings_is_refused_before_writing(old_ovn):
    before = snapshot(old_ovn["nb-new"])
    result = run_module("ovn_lsp", {"ovn_nb_connection": old_ovn["nb-new"], "ovn_sb_connection": old_ovn["sb-old"],
                                    "ports": ["vm1.ns1"], "state": "prepared", "source_chassis": "hv1",
                                    "target_chassis": "hv2", "verify_chassis": False, "wait": "hv"})
    assert_clean_failure(result, old_ovn["sb-old"], "Port_Binding table (schema 20.21.0) has no additional_chassis",
                         "OVN 22.06", "Nothing was written")
    assert snapshot(old_ovn["nb-new"]) == before


def test_an_old_nb_schema_is_refused_before_writing(old_ovn):
    before = snapshot(old_ovn["nb-old"])
    result = run_module("ovn_lsp", {"ovn_nb_connection": old_ovn["nb-old"], "ports": ["vm1.ns1"],
                                    "state": "prepared", "source_chassis": "hv1", "target_chassis": "hv2",
                                    "wait": "sb"})
    assert_clean_failure(result, "Northbound schema 6.1.0 is older than 6.3.0 (OVN 22.06)", "Nothing was written")
    assert snapshot(old_ovn["nb-old"]) == before


def test_the_same_nb_with_a_current_schema_is_accepted(old_ovn):
    result = run_module("ovn_lsp", {"ovn_nb_connection": old_ovn["nb-new"], "ports": ["vm1.ns1"],
                                    "state": "prepared", "source_chassis": "hv1", "target_chassis": "hv2"})
    assert not result["failed"] and result["changed"], result.get("msg")
    assert '"hv1,hv2"' in snapshot(old_ovn["nb-new"])[0]
