"""The central databases of the sandbox: one ovsdb-server per database, or a 3-member RAFT cluster
on loopback (`ovsdb-tool create-cluster` / `join-cluster`), over TCP or TLS. Mixed into OvnSandbox.

Standalone: ovn-nb/ and ovn-sb/ hold the one server, as before. Clustered: ovn-nb/m1..m3 and
ovn-sb/m1..m3, each member with its own db file, unix socket, client port and RAFT port.
Members are described by dicts kept in `self.members[db]` (and in sandbox.json):
{"name": "ovn-nb/m2", "db_file", "sock", "port", "raft"}; `port` 0 means "let the kernel pick",
after the first start it is the port in use, so a restarted member listens where it did.

Fault helpers: leader(db), kill_member(db, index, sig), start_member(db, index),
wait_cluster(db), restart_member(db, index).
"""
import re
import signal
import socket

from .daemons import SandboxError, is_alive, run

CLUSTER_SIZE = 3
DB_NAMES = {"ovn-nb": "OVN_Northbound", "ovn-sb": "OVN_Southbound"}


def free_port():
    """A TCP port free now (RAFT addresses must be fixed before the members start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CentralDbs:
    # ---- creation ---------------------------------------------------------------------------

    def _create_db(self, db, schema):
        """Create the db file(s) of `db` and start its server(s); sets the remotes."""
        if not self.clustered:
            d = self._mkdir(db)
            member = {"name": db, "db_file": str(d / (db + ".db")), "sock": str(d / (db + ".sock")),
                      "port": 0, "raft": None}
            run(["ovsdb-tool", "create", member["db_file"], schema])
            self.members[db] = [member]
        else:
            self.members[db] = []
            for index in range(CLUSTER_SIZE):
                d = self._mkdir("%s/m%d" % (db, index + 1))
                member = {"name": "%s/m%d" % (db, index + 1), "db_file": str(d / (db + ".db")),
                          "sock": str(d / (db + ".sock")), "port": 0, "raft": "tcp:127.0.0.1:%d" % free_port()}
                if index == 0:
                    run(["ovsdb-tool", "create-cluster", member["db_file"], schema, member["raft"]])
                else:
                    run(["ovsdb-tool", "join-cluster", member["db_file"], DB_NAMES[db], member["raft"],
                         self.members[db][0]["raft"]])
                self.members[db].append(member)
        for index in range(len(self.members[db])):
            self.start_member(db, index)
        if self.clustered:
            self.wait_cluster(db)
        self._set_remotes(db)

    def _set_remotes(self, db):
        remote = ",".join(self.member_remote(db, i) for i in range(len(self.members[db])))
        unix = ",".join("unix:%s" % m["sock"] for m in self.members[db])
        if db == "ovn-nb":
            self.nb_remote, self.nb_unix = remote, unix
        else:
            self.sb_remote, self.sb_unix = remote, unix

    # ---- members ----------------------------------------------------------------------------

    def member_key(self, db, index):
        return "%s/ovsdb-server" % self.members[db][index]["name"]

    def member_remote(self, db, index):
        """The client remote (tcp: or ssl:) of one member."""
        return "%s:127.0.0.1:%d" % ("ssl" if self.tls else "tcp", self.members[db][index]["port"])

    def start_member(self, db, index):
        """Start (or start again, on the same db file and port) one server of `db`."""
        member = self.members[db][index]
        scheme = "pssl" if self.tls else "ptcp"
        args = ["--remote=punix:%s" % member["sock"], "--remote=%s:%d:127.0.0.1" % (scheme, member["port"])]
        if self.tls:
            args += self.pki.daemon_args(db)
        log = self.workdir / member["name"] / "ovsdb-server.log"
        seen = log.read_text() if log.exists() else ""
        self._daemon(member["name"], "ovsdb-server", args + [member["db_file"]])
        if not member["port"]:
            member["port"] = self._new_listening_port(log, len(seen))
        return self.pids[self.member_key(db, index)]

    def kill_member(self, db, index, sig=signal.SIGKILL):
        """Signal one server of `db` (SIGKILL: a crash) and wait until it is gone."""
        return self.kill_daemon(self.member_key(db, index), sig)

    def restart_member(self, db, index):
        self.kill_member(db, index, signal.SIGTERM)
        return self.start_member(db, index)

    def member_alive(self, db, index):
        return is_alive(self.pids.get(self.member_key(db, index)), marker=str(self.workdir))

    # ---- RAFT -------------------------------------------------------------------------------

    def cluster_status(self, db, index):
        """`cluster/status` of one member as a dict of its "Key: value" lines."""
        ctl = self.workdir / self.members[db][index]["name"] / "ovsdb-server.ctl"
        out = run(["ovs-appctl", "-t", ctl, "--timeout=5", "cluster/status", DB_NAMES[db]], timeout=10)
        return dict(m.groups() for m in re.finditer(r"^([A-Za-z ]+): (.*)$", out, re.M))

    def leader(self, db):
        """Index of the member that is leader now, or None (election running, or standalone)."""
        if not self.clustered:
            return None
        for index in range(len(self.members[db])):
            if not self.member_alive(db, index):
                continue
            try:
                if self.cluster_status(db, index).get("Role") == "leader":
                    return index
            except SandboxError:
                continue
        return None

    def wait_cluster(self, db, timeout=20):
        """Wait until a leader is elected and every live member is in the cluster; return the leader."""
        def formed():
            live = [i for i in range(len(self.members[db])) if self.member_alive(db, i)]
            try:
                status = [self.cluster_status(db, i) for i in live]
            except SandboxError:
                return None
            roles = [s.get("Role") for s in status]
            if roles.count("leader") == 1 and all(s.get("Status") == "cluster member" for s in status):
                return live[roles.index("leader")] + 1    # +1: index 0 must count as found
            return None
        return self.wait_for(formed, timeout=timeout, what="a RAFT leader of %s" % db) - 1

    # ---- helpers ----------------------------------------------------------------------------

    def _new_listening_port(self, log, offset):
        """The port the kernel picked for a `p(tcp|ssl):0:` remote, from log lines after `offset`."""
        def port():
            text = log.read_text() if log.exists() else ""
            match = re.search(r"0:127\.0\.0\.1: listening on port (\d+)", text[offset:])
            return int(match.group(1)) if match else None
        return self.wait_for(port, timeout=10, what="TCP port in %s" % log)
