"""The OVSDB client against real ovsdb-server processes: standalone, a 3-member RAFT cluster, TLS.

These servers hold bare NB/SB schemas (no northd): enough for the protocol, the leader choice,
the database check and the option mutations. The full OVN data path is in tests/integration.
"""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError, OvsdbError  # noqa: E402

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"
VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
RC, AS = "requested-chassis", "activation-strategy"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ovsdb-server on a unix socket and a TCP (or TLS) port, stopped by pid."""

    def __init__(self, workdir, name, db_files, ssl_files=None):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.unix = "unix:%s" % (self.dir / "db.sock")
        scheme = "pssl" if ssl_files else "ptcp"
        self.remote = "%s:127.0.0.1:%d" % ("ssl" if ssl_files else "tcp", self.port)
        args = ["ovsdb-server", *map(str, db_files), "--remote=punix:%s" % (self.dir / "db.sock"),
                "--remote=%s:%d:127.0.0.1" % (scheme, self.port), "--unixctl=%s" % (self.dir / "ctl"),
                "--pidfile=%s" % (self.dir / "pid"), "--log-file=%s" % (self.dir / "log"),
                "--detach", "--no-chdir"]
        if ssl_files:
            key, cert, ca = ssl_files
            args += ["--private-key=%s" % key, "--certificate=%s" % cert, "--ca-cert=%s" % ca]
        subprocess.run(args, check=True, capture_output=True, timeout=30)
        self.pid = int((self.dir / "pid").read_text())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("ovsdb-server %s did not listen on %d" % (name, self.port))

    def appctl(self, *args):
        return subprocess.run(["ovs-appctl", "-t", str(self.dir / "ctl"), *args], check=True,
                              capture_output=True, text=True, timeout=10).stdout

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    started = []

    def start(name, *db_files, ssl_files=None):
        server = Server(tmp_path_factory.mktemp("ovsdb"), name, db_files, ssl_files)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def create_db(tmp_path_factory, schema):
    path = tmp_path_factory.mktemp("db") / "db"
    subprocess.run(["ovsdb-tool", "create", str(path), schema], check=True, timeout=30)
    return path


@pytest.fixture(scope="module")
def nb(servers, tmp_path_factory):
    server = servers("nb", create_db(tmp_path_factory, NB_SCHEMA))
    with ovsdb.connect(server.remote, "OVN_Northbound") as client:
        client.transact([{"op": "insert", "table": "NB_Global", "row": {}}])
    return server


def add_switch_with_ports(client, switch, ports):
    """ports: {name: (options, external_ids)}; LSPs are not root rows, so a switch holds them."""
    ops = []
    for index, (name, (options, external_ids)) in enumerate(ports.items()):
        ops.append({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": "p%d" % index,
                    "row": {"name": name, "options": ovsdb.encode_map(options),
                            "external_ids": ovsdb.encode_map(external_ids)}})
    ops.append({"op": "insert", "table": "Logical_Switch",
                "row": {"name": switch, "ports": ["set", [["named-uuid", "p%d" % i] for i in range(len(ports))]]}})
    client.transact(ops)


def options_of(client, name):
    return ovsdb.decode(client.select("Logical_Switch_Port", [["name", "==", name]], ["options"])[0]["options"])


def test_connects_over_unix_and_tcp(nb):
    for remote in (nb.unix, nb.remote):
        with ovsdb.connect(remote, "OVN_Northbound") as client:
            assert client.remote == remote
            assert len(client.select("NB_Global", [], ["nb_cfg"])) == 1


def test_wrong_database_is_named(nb, servers, tmp_path_factory):
    with pytest.raises(OvsdbError) as err:
        ovsdb.connect(nb.remote, "OVN_Southbound")
    assert err.value.msg == "Cannot use the OVN_Southbound database: %s: serves OVN_Northbound, not OVN_Southbound" % nb.remote
    vswitch = servers("ovs", create_db(tmp_path_factory, VSWITCH_SCHEMA))
    with pytest.raises(OvsdbError) as err:
        ovn_nb.connect_nb({"ovn_nb_connection": vswitch.remote})
    assert "serves Open_vSwitch, not OVN_Northbound" in err.value.msg
    assert err.value.msg.startswith("ovn_nb_connection: ")


def test_every_failed_remote_is_listed_then_a_good_one_is_used(nb, tmp_path):
    closed = "tcp:127.0.0.1:%d" % free_port()
    missing = "unix:%s" % (tmp_path / "nope.sock")
    with pytest.raises(OvsdbError) as err:
        ovsdb.connect("%s,%s" % (closed, missing), "OVN_Northbound", timeout=2)
    assert closed + ": Connection refused" in err.value.msg
    assert missing + ": no such socket" in err.value.msg
    with ovsdb.connect("%s,%s,%s" % (closed, missing, nb.remote), "OVN_Northbound", timeout=2) as client:
        assert client.remote == nb.remote


def test_a_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        remote = "tcp:127.0.0.1:%d" % silent.getsockname()[1]
        with pytest.raises(OvsdbError) as err:
            ovsdb.connect(remote, "OVN_Northbound", timeout=0.3)
    assert "%s: no answer" % remote in err.value.msg


def test_mutation_keeps_other_keys_and_is_idempotent(nb):
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client:
        add_switch_with_ports(client, "ls-keep", {
            "vm1.ns1": ({RC: "hv1", "foo": "bar"}, {"pod": "ns1/vm1"}),
            "vm1.ns1.net1": ({"iface-id-ver": "7"}, {"pod": "ns1/vm1"}),
            "vm2.ns1": ({RC: "hv1"}, {"pod": "ns1/vm2"}),
        })
        lookup = ovn_nb.vif_lookup(namespace="ns1", vmi="vm1")
        desired = ovn_nb.desired_options("prepared", "hv1", "hv2")
        result = ovn_nb.set_port_options(client, lookup, desired)
        assert result["changed"] is True
        assert [p["name"] for p in result["ports"]] == ["vm1.ns1", "vm1.ns1.net1"]
        assert options_of(client, "vm1.ns1") == {RC: "hv1,hv2", AS: "rarp", "foo": "bar"}
        assert options_of(client, "vm1.ns1.net1") == {RC: "hv1,hv2", AS: "rarp", "iface-id-ver": "7"}
        assert options_of(client, "vm2.ns1") == {RC: "hv1"}
        assert ovn_nb.set_port_options(client, lookup, desired)["changed"] is False

        absent = ovn_nb.set_port_options(client, lookup, ovn_nb.desired_options("absent"))
        assert absent["changed"] is True
        assert options_of(client, "vm1.ns1") == {"foo": "bar"}
        assert options_of(client, "vm1.ns1.net1") == {"iface-id-ver": "7"}


def test_check_mode_plans_without_writing(nb):
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client:
        add_switch_with_ports(client, "ls-check", {"vm3.ns1": ({RC: "hv1"}, {"pod": "ns1/vm3"})})
        result = ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=["vm3.ns1"]),
                                         ovn_nb.desired_options("cutover", target="hv2"), check_mode=True)
        assert result == {"changed": True, "kept": [], "ports": [{"name": "vm3.ns1", "namespace": "ns1", "vmi": "vm3", "before": {RC: "hv1", AS: None},
                                                                  "after": {RC: "hv2", AS: None}}]}
        assert options_of(client, "vm3.ns1") == {RC: "hv1"}


def test_prepared_never_undoes_a_cutover_of_any_port_of_the_vm(nb):
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client:
        add_switch_with_ports(client, "ls-guard", {
            "vm8.ns1": ({RC: "hv2"}, {"pod": "ns1/vm8"}),          # cut over already
            "vm8.ns1.net1": ({RC: "hv1"}, {"pod": "ns1/vm8"}),     # not yet: stays with its VM
            "vm9.ns1": ({RC: "hv1"}, {"pod": "ns1/vm9"})})
        keep = ovn_nb.cut_over_guard(lambda port: "hv2")
        result = ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=["vm8.ns1", "vm8.ns1.net1", "vm9.ns1"]),
                                         ovn_nb.desired_options("prepared", "hv1", "hv2"), keep=keep)
        assert result["kept"] == ["vm8.ns1", "vm8.ns1.net1"]
        assert options_of(client, "vm8.ns1") == {RC: "hv2"}
        assert options_of(client, "vm8.ns1.net1") == {RC: "hv1"}
        assert options_of(client, "vm9.ns1") == {RC: "hv1,hv2", AS: "rarp"}


def test_a_concurrent_writer_forces_a_retry_and_keeps_its_key(nb):
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client, ovsdb.connect(nb.unix, "OVN_Northbound") as other:
        add_switch_with_ports(client, "ls-race", {"vm4.ns1": ({RC: "hv1"}, {"pod": "ns1/vm4"})})
        inner = ovn_nb.vif_lookup(namespace="ns1", vmi="vm4")
        calls = []

        def lookup_then_another_writer(c):
            ports = inner(c)
            calls.append([p.owned for p in ports])
            if len(calls) == 1:
                # Between our read and our transaction, another client (a real second session) writes.
                other.transact([{"op": "mutate", "table": "Logical_Switch_Port", "where": [["name", "==", "vm4.ns1"]],
                                 "mutations": [["options", "insert", ovsdb.encode_map({"kube-ovn": "x"})]]}])
            return ports

        result = ovn_nb.set_port_options(client, lookup_then_another_writer, ovn_nb.desired_options("prepared", "hv1", "hv2"))
        assert len(calls) == 2 and result["changed"] is True
        assert options_of(client, "vm4.ns1") == {RC: "hv1,hv2", AS: "rarp", "kube-ovn": "x"}


def test_missing_ports_and_non_vif_ports_are_refused(nb):
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client:
        add_switch_with_ports(client, "ls-odd", {"vm5.ns1": ({}, {"pod": "ns1/vm5"})})
        client.transact([{"op": "update", "table": "Logical_Switch_Port", "where": [["name", "==", "vm5.ns1"]],
                          "row": {"type": "localnet"}}])
        desired = ovn_nb.desired_options("absent")
        with pytest.raises(ModuleError) as err:
            ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=["nope.ns1"]), desired)
        assert "No Logical_Switch_Port named nope.ns1" in err.value.msg
        with pytest.raises(ModuleError) as err:
            ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=["vm5.ns1"]), desired)
        assert "vm5.ns1 (type localnet)" in err.value.msg
        with pytest.raises(ModuleError) as err:
            ovn_nb.set_port_options(client, ovn_nb.vif_lookup(namespace="ns1", vmi="vm5"), desired)
        assert 'external_ids:pod=ns1/vm5' in err.value.msg


def test_wait_bumps_nb_cfg_only_when_writing_and_a_timeout_is_a_sentence(nb):
    # No ovn-northd here: sb_cfg never follows nb_cfg.
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client:
        add_switch_with_ports(client, "ls-wait", {"vm6.ns1": ({}, {"pod": "ns1/vm6"})})
        before = client.select("NB_Global", [], ["nb_cfg"])[0]["nb_cfg"]
        lookup = ovn_nb.vif_lookup(ports=["vm6.ns1"])
        desired = ovn_nb.desired_options("rolled_back", source="hv1")
        result = ovn_nb.set_port_options(client, lookup, desired, wait="hv")
        assert result["changed"] is True and result["nb_cfg"] == before + 1
        assert options_of(client, "vm6.ns1") == {RC: "hv1"}
        # Nothing to write: nb_cfg is read, not bumped (no ovn-controller is made to write to SB).
        again = ovn_nb.set_port_options(client, lookup, desired, wait="hv")
        assert again["changed"] is False and again["nb_cfg"] == before + 1
        assert client.select("NB_Global", [], ["nb_cfg"])[0]["nb_cfg"] == before + 1
        lag = ovn_nb.wait_for_sync(client, result["nb_cfg"], "hv", 0.2)
        assert lag.startswith("wait=hv: NB change nb_cfg=%d is written, but ovn-northd did not copy it" % (before + 1))


def test_wait_without_nb_global_fails_before_writing(servers, tmp_path_factory):
    bare = servers("bare-nb", create_db(tmp_path_factory, NB_SCHEMA))
    with ovsdb.connect(bare.remote, "OVN_Northbound") as client:
        add_switch_with_ports(client, "ls", {"vm7.ns1": ({}, {"pod": "ns1/vm7"})})
        with pytest.raises(OvsdbError) as err:
            ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=["vm7.ns1"]),
                                    ovn_nb.desired_options("rolled_back", source="hv1"), wait="sb")
        assert "NB_Global row is missing" in err.value.msg
        assert options_of(client, "vm7.ns1") == {}


# RAFT: the client must find the leader whatever the order of the remotes.

@pytest.fixture(scope="module")
def raft(servers, tmp_path_factory):
    base = tmp_path_factory.mktemp("raft")
    raft_ports = [free_port() for _unused in range(3)]
    dbs = [base / ("nb%d.db" % i) for i in range(3)]
    subprocess.run(["ovsdb-tool", "create-cluster", str(dbs[0]), NB_SCHEMA, "tcp:127.0.0.1:%d" % raft_ports[0]],
                   check=True, timeout=30)
    for i in (1, 2):
        subprocess.run(["ovsdb-tool", "join-cluster", str(dbs[i]), "OVN_Northbound",
                        "tcp:127.0.0.1:%d" % raft_ports[i], "tcp:127.0.0.1:%d" % raft_ports[0]], check=True, timeout=30)
    members = [servers("raft%d" % i, dbs[i]) for i in range(3)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = [m.appctl("cluster/status", "OVN_Northbound") for m in members]
        roles = ["Role: leader" in s for s in status]
        if sum(roles) == 1 and all("Status: cluster member" in s for s in status):
            return members, roles.index(True)
        time.sleep(0.1)
    raise RuntimeError("RAFT cluster did not form:\n" + "\n".join(status))


def test_raft_client_skips_followers_for_the_leader(raft):
    members, leader = raft
    followers = [m.remote for i, m in enumerate(members) if i != leader]
    remotes = ",".join(followers + [members[leader].remote])
    with ovsdb.connect(remotes, "OVN_Northbound") as client:
        assert client.remote == members[leader].remote
    # Followers only: the list is tried again until the connect timeout, then each is named.
    with pytest.raises(OvsdbError) as err:
        ovsdb.connect(",".join(followers), "OVN_Northbound", timeout=0.5)
    for follower in followers:
        assert "%s: a RAFT follower, not the cluster leader" % follower in err.value.msg
    with ovsdb.connect(followers[0], "OVN_Northbound", leader_only=False) as client:
        assert client.remote == followers[0]


# TLS, as ovn-nbctl -p -c -C.

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(directory, name):
    """A CA and two certificates it signed (server and client), as PEM files."""
    d = Path(directory)
    ca_key, ca = d / ("%s-ca.key" % name), d / ("%s-ca.pem" % name)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=%s-ca" % name)
    files = {"ca": ca}
    for role in ("server", "client"):
        key, csr, cert = d / ("%s-%s.key" % (name, role)), d / ("%s-%s.csr" % (name, role)), d / ("%s-%s.pem" % (name, role))
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(key), "-out", str(csr), "-subj", "/CN=%s-%s" % (name, role))
        openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
                "-out", str(cert), "-days", "2")
        files[role] = (key, cert)
    return files


@pytest.fixture(scope="module")
def tls(servers, tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    good, other = make_pki(d, "good"), make_pki(d, "other")
    key, cert = good["server"]
    server = servers("tls-nb", create_db(tmp_path_factory, NB_SCHEMA), ssl_files=(key, cert, good["ca"]))
    return server, good, other


def test_tls_connects_with_the_right_ca(tls):
    server, good, _unused = tls
    key, cert = good["client"]
    with ovsdb.connect(server.remote, "OVN_Northbound", tls=ovsdb.TlsSettings(str(key), str(cert), str(good["ca"]))) as client:
        assert client.select("NB_Global", [], ["nb_cfg"]) == []


def test_tls_with_a_foreign_ca_names_the_check(tls):
    server, good, other = tls
    key, cert = good["client"]
    with pytest.raises(OvsdbError) as err:
        ovsdb.connect(server.remote, "OVN_Northbound", tls=ovsdb.TlsSettings(str(key), str(cert), str(other["ca"])), timeout=3)
    assert "not signed by ovn_ca_cert %s" % other["ca"] in err.value.msg


def test_tls_with_a_client_certificate_the_server_does_not_trust(tls):
    server, good, other = tls
    key, cert = other["client"]
    with pytest.raises(OvsdbError) as err:
        ovsdb.connect(server.remote, "OVN_Northbound", tls=ovsdb.TlsSettings(str(key), str(cert), str(good["ca"])), timeout=3)
    assert server.remote in err.value.msg
    assert "the server may have refused certificate %s" % cert in err.value.msg


def test_tls_key_not_matching_certificate(tls):
    server, good, other = tls
    with pytest.raises(OvsdbError) as err:
        ovsdb.connect(server.remote, "OVN_Northbound",
                      tls=ovsdb.TlsSettings(str(other["client"][0]), str(good["client"][1]), str(good["ca"])))
    assert "are not a matching PEM certificate and key" in err.value.msg


def test_scan_of_many_ports_reads_a_multi_chunk_reply(nb):
    # 3,000 ports make a reply of several hundred KB: framing across many recv() chunks.
    with ovsdb.connect(nb.remote, "OVN_Northbound") as client:
        ports = {"bulk-%04d.ns9" % i: ({"iface-id-ver": "x" * 40} if i % 100 else {RC: "hv1,hv2", AS: "rarp"},
                                       {"pod": "ns9/bulk-%04d" % i, "vendor": "kube-ovn"}) for i in range(3000)}
        add_switch_with_ports(client, "ls-bulk", ports)
        migrating = [p.name for p in ovn_nb.find_migrating_ports(client) if p.name.startswith("bulk-")]
        assert migrating == ["bulk-%04d.ns9" % i for i in range(0, 3000, 100)]
        assert [p.name for p in ovn_nb.find_vmi_ports(client, "ns9", "bulk-0042")] == ["bulk-0042.ns9"]


# A session lost mid-transaction (how a RAFT leader change looks to a client).

class LoseSessionAfterSending(object):
    """Wraps a real Connection: the first `transact` reaches the server (and lands), then the
    session is reported lost before the answer, as when the leader leaves right after committing."""

    def __init__(self, real, only_writes=True):
        self.real, self.remote, self.lost, self.only_writes = real, real.remote, 0, only_writes

    def call(self, method, params, timeout=None):
        result = self.real.call(method, params, timeout)
        writes = any(op.get("op") == "mutate" for op in params[1:])
        if method == "transact" and not self.lost and (writes or not self.only_writes):
            self.lost += 1
            self.real.close()
            raise ovsdb.OvsdbSessionLost("%s: the server closed the connection" % self.remote.text)
        return result

    def close(self):
        self.real.close()


def lossy_client(nb, only_writes=True):
    client = ovsdb.connect(nb.remote, "OVN_Northbound")
    client.connection = LoseSessionAfterSending(client.connection, only_writes)
    return client


def test_a_guarded_write_whose_answer_was_lost_lands_once_and_says_changed(nb):
    with ovsdb.connect(nb.remote, "OVN_Northbound") as setup:
        add_switch_with_ports(setup, "ls-lost", {"vm10.ns1": ({RC: "hv1", "foo": "bar"}, {"pod": "ns1/vm10"})})
        nb_cfg = setup.select("NB_Global", [], ["nb_cfg"])[0]["nb_cfg"]
    with lossy_client(nb) as client:
        result = ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=["vm10.ns1"]),
                                         ovn_nb.desired_options("prepared", "hv1", "hv2"), wait="sb")
        assert client.reconnects == 1
        # The resent copy failed its wait (the first had landed): re-read, nothing left to do.
        assert result["changed"] is True
        assert result["ports"][0]["before"] == {RC: "hv1", AS: None}
        assert result["nb_cfg"] == nb_cfg + 1
        assert options_of(client, "vm10.ns1") == {RC: "hv1,hv2", AS: "rarp", "foo": "bar"}
        assert client.select("NB_Global", [], ["nb_cfg"])[0]["nb_cfg"] == nb_cfg + 1


def test_an_unguarded_write_is_not_resent_and_a_read_is(nb):
    with lossy_client(nb) as client:
        op = {"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "+=", 1]]}
        with pytest.raises(ovsdb.OvsdbSessionLost) as err:
            client.transact([op])
        assert "the outcome of this write is unknown" in err.value.msg
        assert client.reconnects == 0
    with lossy_client(nb, only_writes=False) as client:
        assert len(client.select("NB_Global", [], ["nb_cfg"])) == 1
        assert client.reconnects == 1


def test_a_lost_session_with_no_server_left_names_both_failures(nb, servers, tmp_path_factory):
    gone = servers("gone-nb", create_db(tmp_path_factory, NB_SCHEMA))
    with ovsdb.connect(gone.remote, "OVN_Northbound", timeout=1) as client:
        client.connection = LoseSessionAfterSending(client.connection, only_writes=False)
        gone.stop()
        time.sleep(0.2)
        with pytest.raises(OvsdbError) as err:
            client.select("NB_Global", [], ["nb_cfg"])
    assert "the server closed the connection; reconnecting failed: Cannot use the OVN_Northbound database" in err.value.msg
