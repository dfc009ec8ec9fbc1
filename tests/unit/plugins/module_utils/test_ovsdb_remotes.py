"""Pure parts of the OVSDB client: remote parsing and value conversion."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import OvsdbError  # noqa: E402


@pytest.mark.parametrize("text, expected", [
    ("tcp:127.0.0.1:6641", [("tcp", "127.0.0.1", 6641, None)]),
    ("ssl:10.0.0.1:6641", [("ssl", "10.0.0.1", 6641, None)]),
    ("tcp:[::1]:6641", [("tcp", "::1", 6641, None)]),
    ("ssl:[fd00::5]:16641", [("ssl", "fd00::5", 16641, None)]),
    ("unix:/var/run/ovn/ovnnb_db.sock", [("unix", None, None, "/var/run/ovn/ovnnb_db.sock")]),
    ("tcp:ovn-central:6641", [("tcp", "ovn-central", 6641, None)]),
    ("tcp:10.0.0.1:6641, tcp:10.0.0.2:6641 ,tcp:[::2]:6641",
     [("tcp", "10.0.0.1", 6641, None), ("tcp", "10.0.0.2", 6641, None), ("tcp", "::2", 6641, None)]),
])
def test_parse_remotes(text, expected):
    got = [(r.kind, r.host, r.port, r.path) for r in ovsdb.parse_remotes(text)]
    assert got == expected


@pytest.mark.parametrize("text, fragment", [
    ("", "no ovsdb remote"),
    ("   ", "no ovsdb remote"),
    ("tcp:1.2.3.4:6641,,tcp:1.2.3.5:6641", "empty entry"),
    ("http://1.2.3.4:6641", "unsupported"),
    ("1.2.3.4:6641", "unsupported"),
    ("tcp:1.2.3.4", "tcp:ip:port"),
    ("tcp:::1:6641", "tcp:ip:port"),
    ("tcp:[::1:6641", "tcp:ip:port"),
    ("ssl:1.2.3.4:port", "ssl:ip:port"),
    ("tcp:1.2.3.4:70000", "invalid port"),
    ("tcp:1.2.3.4:0", "invalid port"),
    ("unix:", "no socket path"),
])
def test_parse_remotes_rejects_with_clear_message(text, fragment):
    with pytest.raises(OvsdbError) as err:
        ovsdb.parse_remotes(text)
    assert fragment in err.value.msg.lower()


def test_decode_values():
    assert ovsdb.decode(["map", [["a", "1"], ["b", "2"]]]) == {"a": "1", "b": "2"}
    assert ovsdb.decode(["set", [["uuid", "u1"], ["uuid", "u2"]]]) == ["u1", "u2"]
    assert ovsdb.decode(["uuid", "u1"]) == "u1"
    assert ovsdb.decode("plain") == "plain"
    assert ovsdb.decode(7) == 7


def test_set_and_optional_columns():
    # OVSDB sends a one-element set as the bare atom and an empty optional as an empty set.
    assert ovsdb.as_list(["uuid", "u1"]) == ["u1"]
    assert ovsdb.as_list(["set", []]) == []
    assert ovsdb.as_list(["set", [["uuid", "a"], ["uuid", "b"]]]) == ["a", "b"]
    assert ovsdb.as_optional(["set", []]) is None
    assert ovsdb.as_optional(True) is True
    assert ovsdb.as_optional(["uuid", "u1"]) == "u1"


def test_encode_map_is_sorted_pairs():
    assert ovsdb.encode_map({"b": "2", "a": "1"}) == ["map", [["a", "1"], ["b", "2"]]]
    assert ovsdb.encode_map({}) == ["map", []]


def test_tls_settings_name_missing_and_unreadable_files(tmp_path):
    with pytest.raises(OvsdbError) as err:
        ovsdb.TlsSettings(private_key=str(tmp_path / "k.pem")).context()
    assert "missing: certificate, ovn_ca_cert" in err.value.msg
    with pytest.raises(OvsdbError) as err:
        ovsdb.TlsSettings(str(tmp_path / "k.pem"), str(tmp_path / "c.pem"), str(tmp_path / "ca.pem")).context()
    assert "private_key %s" % (tmp_path / "k.pem") in err.value.msg
    for name in ("k.pem", "c.pem"):
        (tmp_path / name).write_text("not pem\n")
    (tmp_path / "ca.pem").write_text("not pem either\n")
    with pytest.raises(OvsdbError) as err:
        ovsdb.TlsSettings(str(tmp_path / "k.pem"), str(tmp_path / "c.pem"), str(tmp_path / "ca.pem")).context()
    assert "ovn_ca_cert" in err.value.msg and "ca.pem" in err.value.msg
