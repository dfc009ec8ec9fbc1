# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small OVSDB JSON-RPC client (RFC 7047) on the standard library only.

Just what the collection needs: remotes spelled as ovn-nbctl spells them (tcp:, ssl:, unix:,
comma-separated RAFT members), the cluster leader, `transact` and `select`. No IDL: a module
reads the few rows it needs with a `select` instead of replicating whole tables.

No Ansible imports here: the EDA event source and the benchmarks use this module too.
"""

import collections
import gc
import json
import os
import re
import socket
import ssl
import time

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import OvsdbError

REMOTE_FORMS = "tcp:IP:PORT, ssl:IP:PORT, unix:PATH (IPv6 as tcp:[::1]:6641), comma-separated for a cluster"
DEFAULT_IO_TIMEOUT = 60.0
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>\d+)$")


class OvsdbConflict(OvsdbError):
    """A `wait` operation of the transaction failed: another writer changed the rows meanwhile.

    details["resent"] is True when the transaction was sent again after a lost session: the
    first copy may have landed, and its own change is then what the `wait` saw."""


class OvsdbSessionLost(OvsdbError):
    """The session ended (or the server cancelled the request) before the answer came: a write's
    outcome is unknown. With a RAFT cluster this is how a leader change looks to a client."""


# Operations that change nothing: a transaction of only these is always safe to send again.
READ_ONLY_OPS = ("select", "wait", "comment", "assert")
RETRY_DELAY_MAX = 1.0
MAX_RESENDS = 3


class Remote(object):
    """One parsed remote: kind is tcp, ssl or unix; `text` is what the user wrote."""

    def __init__(self, kind, text, host=None, port=None, path=None):
        self.kind = kind
        self.text = text
        self.host = host
        self.port = port
        self.path = path

    def __repr__(self):
        return "Remote(%r)" % self.text


def parse_remotes(text):
    """Parse 'tcp:1.2.3.4:6641,ssl:[::1]:6641,unix:/run/ovn/ovnnb_db.sock' into Remote objects."""
    if not text or not text.strip():
        raise OvsdbError("No OVSDB remote given: expected " + REMOTE_FORMS)
    remotes = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise OvsdbError("Empty entry in the OVSDB remote list %r: expected %s" % (text, REMOTE_FORMS))
        remotes.append(parse_remote(item))
    return remotes


def parse_remote(item):
    kind, sep, rest = item.partition(":")
    if not sep or kind not in ("tcp", "ssl", "unix"):
        raise OvsdbError("Unsupported OVSDB remote %r: expected %s" % (item, REMOTE_FORMS))
    if kind == "unix":
        if not rest:
            raise OvsdbError("OVSDB remote %r has no socket path: expected unix:PATH" % item)
        return Remote(kind, item, path=rest)
    match = _HOST_PORT.match(rest)
    if not match:
        raise OvsdbError("OVSDB remote %r is not %s:IP:PORT (IPv6 as %s:[::1]:6641)" % (item, kind, kind))
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise OvsdbError("OVSDB remote %r has an invalid port %d" % (item, port))
    return Remote(kind, item, host=match.group("v6") or match.group("host"), port=port)


class TlsSettings(object):
    """ovn-nbctl's -p/-c/-C: the files are read where they are, when a ssl: remote is used."""

    def __init__(self, private_key=None, certificate=None, ca_cert=None):
        self.private_key = private_key
        self.certificate = certificate
        self.ca_cert = ca_cert

    # Each file's attribute here and the module option it comes from, which the messages name (the CA's
    # option is ovn_ca_cert; ca_cert is its deprecated alias).
    OPTIONS = (("private_key", "private_key"), ("certificate", "certificate"), ("ca_cert", "ovn_ca_cert"))

    def context(self):
        missing = [option for attr, option in self.OPTIONS if not getattr(self, attr)]
        if missing:
            raise OvsdbError("ssl: remotes need private_key, certificate and ovn_ca_cert (like ovn-nbctl -p -c -C); "
                             "missing: " + ", ".join(missing))
        for attr, option in self.OPTIONS:
            path = getattr(self, attr)
            try:
                with open(path, "rb"):
                    pass
            except (IOError, OSError) as err:
                raise OvsdbError("Cannot read %s %s: %s" % (option, path, err.strerror or err))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # OVS checks the peer against the CA only, never a host name (remotes are IP addresses).
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            ctx.load_verify_locations(cafile=self.ca_cert)
        except (ssl.SSLError, ValueError) as err:
            raise OvsdbError("ovn_ca_cert %s is not a PEM CA certificate: %s" % (self.ca_cert, err))
        try:
            ctx.load_cert_chain(certfile=self.certificate, keyfile=self.private_key)
        except ssl.SSLError as err:
            raise OvsdbError("certificate %s and private_key %s are not a matching PEM certificate and key: %s"
                             % (self.certificate, self.private_key, err))
        return ctx


def _describe_socket_error(err):
    if isinstance(err, socket.timeout):
        return "timed out"
    if isinstance(err, ssl.SSLError):
        reason = getattr(err, "verify_message", None) or getattr(err, "reason", None) or str(err)
        return "TLS handshake failed: %s" % reason
    return getattr(err, "strerror", None) or str(err)


# OpenSSL X509_V_ERR_* codes that mean "the issuer is not the CA we trust".
UNTRUSTED_ISSUER_CODES = (2, 18, 19, 20, 21)


def open_socket(remote, tls_context, timeout, ca_cert=None):
    """Connect one remote (TLS handshake included, for ssl: with tls_context) within `timeout` seconds."""
    try:
        if remote.kind == "unix":
            if not os.path.exists(remote.path):
                raise OvsdbError("no such socket %s" % remote.path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(remote.path)
            except Exception:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((remote.host, remote.port), timeout=timeout)
        if remote.kind != "ssl":
            return sock
        try:
            tls_sock = tls_context.wrap_socket(sock)
        except Exception:
            sock.close()
            raise
        return tls_sock
    except ssl.SSLCertVerificationError as err:
        reason = getattr(err, "verify_message", None) or str(err)
        # Only an unknown issuer means the CA is wrong; expiry, a name mismatch... are the server's problem.
        if getattr(err, "verify_code", None) in UNTRUSTED_ISSUER_CODES:
            raise OvsdbError("TLS handshake failed: server certificate not signed by ovn_ca_cert %s (%s)" % (ca_cert, reason))
        raise OvsdbError("TLS handshake failed: server certificate rejected (%s; checked against ovn_ca_cert %s)"
                         % (reason, ca_cert))
    except (socket.error, ssl.SSLError, OSError) as err:
        raise OvsdbError(_describe_socket_error(err))


class Framer(object):
    """Splits a byte stream into JSON-RPC messages in time linear in its size.

    OVSDB messages are bare JSON objects one after the other. Each byte is scanned once (with
    C-speed bytes operations: strings are cut out, then only braces are counted), and each
    message is handed to the JSON decoder once, when its closing brace has arrived. `stats`
    counts the bytes scanned and the decoder calls (the unit tests check both grow linearly).
    """

    def __init__(self):
        self._buf = bytearray()
        self._scan = 0          # bytes of _buf already scanned
        self._depth = 0         # brace depth at _scan (outside strings)
        self._in_string = False  # whether _scan is inside a JSON string
        self._complete = 0      # messages whose closing brace has been scanned, not yet decoded
        self._messages = collections.deque()
        self._decoder = json.JSONDecoder()
        self.stats = {"scanned": 0, "decoded": 0}

    def feed(self, data):
        self._buf += data
        self._scan_new()

    def pop(self):
        """The next complete message (a dict), or None while it is incomplete."""
        if not self._messages and self._complete:
            self._decode_complete()
        return self._messages.popleft() if self._messages else None

    def _decode_complete(self):
        # The bytes up to the last scanned closing brace are decoded once; the start of the next
        # message after it goes back to bytes unchanged (surrogateescape keeps a split UTF-8 char).
        text = bytes(self._buf[:self._scan]).decode("utf-8", "surrogateescape")
        index = 0
        # A large reply is a million small lists and dicts: without this the cyclic garbage
        # collector runs over the growing heap again and again and takes most of the time.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for _unused in range(self._complete):
                while text[index:index + 1].isspace():
                    index += 1
                self.stats["decoded"] += 1
                msg, index = self._decoder.raw_decode(text, index)
                if not isinstance(msg, dict):
                    raise ValueError("not a JSON object")
                self._messages.append(msg)
        finally:
            if collecting:
                gc.enable()
        rest = text[index:].encode("utf-8", "surrogateescape")
        del self._buf[:self._scan - len(rest)]
        self._scan = len(rest)
        self._complete = 0

    def _scan_new(self):
        region = bytes(self._buf[self._scan:])
        # Escapes pair up from the region's start (it never starts inside one). An odd run of
        # backslashes at its end escapes a byte not received yet: scan its last one with that byte.
        trailing = len(region) - len(region.rstrip(b"\\"))
        if trailing % 2:
            region = region[:-1]
        if not region:
            return
        end = self._scan + len(region)
        self.stats["scanned"] += len(region)
        if b"\\" in region:
            # An escaped character (an escaped quote included) is never structural.
            region = _ESCAPE.sub(b"__", region)
        quotes = region.count(b'"')
        if self._in_string:
            # Close the string this region starts in (or stay inside it).
            first = region.find(b'"')
            region = b"" if first < 0 else region[first + 1:]
        ends_in_string = self._in_string != (quotes % 2 == 1)
        if ends_in_string:
            region = region[:region.rfind(b'"')]
        braces = _STRING.sub(b"", region).translate(None, _NOT_BRACES)
        depth = self._depth
        for brace in braces:
            depth += 1 if brace == 123 else -1
            if depth == 0:
                self._complete += 1
            elif depth < 0:
                raise ValueError("unbalanced '}'")
        self._depth = depth
        self._in_string = ends_in_string
        self._scan = end


_ESCAPE = re.compile(rb"\\.", re.S)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACES = bytes(b for b in range(256) if b not in b"{}")


class Connection(object):
    """One JSON-RPC session. OVSDB frames are bare JSON objects, one after the other."""

    def __init__(self, sock, remote, io_timeout=DEFAULT_IO_TIMEOUT):
        self.sock = sock
        self.remote = remote
        self.io_timeout = io_timeout
        self._next_id = 0
        self.framer = Framer()

    def close(self):
        try:
            self.sock.close()
        except (socket.error, OSError):
            pass

    def call(self, method, params, timeout=None):
        self._next_id += 1
        request_id = self._next_id
        self._send({"method": method, "params": params, "id": request_id})
        deadline = time.monotonic() + (timeout or self.io_timeout)
        while True:
            msg = self._receive(deadline)
            if msg.get("method") == "echo" and "id" in msg:
                # The server probes idle sessions; unanswered echoes get us disconnected.
                self._send({"result": msg.get("params"), "error": None, "id": msg["id"]})
                continue
            if msg.get("id") != request_id:
                continue
            if msg.get("error") is not None:
                error_class = OvsdbSessionLost if msg["error"] == "canceled" else OvsdbError
                raise error_class("%s: %s failed: %s" % (self.remote.text, method, _error_text(msg["error"])))
            return msg.get("result")

    def _send(self, msg):
        data = json.dumps(msg, separators=(",", ":")).encode("utf-8")
        try:
            self.sock.settimeout(self.io_timeout)
            self.sock.sendall(data)
        except (socket.error, OSError) as err:
            raise OvsdbSessionLost("%s: send failed: %s" % (self.remote.text, _describe_socket_error(err)))

    def _receive(self, deadline):
        while True:
            msg = self._pop_message()
            if msg is not None:
                return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OvsdbError("%s: no answer within %.1f s" % (self.remote.text, self.io_timeout))
            try:
                self.sock.settimeout(remaining)
                chunk = self.sock.recv(262144)
            except socket.timeout:
                raise OvsdbError("%s: no answer within %.1f s" % (self.remote.text, self.io_timeout))
            except (socket.error, OSError) as err:
                raise OvsdbSessionLost("%s: receive failed: %s" % (self.remote.text, _describe_socket_error(err)))
            if not chunk:
                raise OvsdbSessionLost("%s: the server closed the connection" % self.remote.text)
            try:
                self.framer.feed(chunk)
            except ValueError as err:
                raise OvsdbError("%s: not an OVSDB JSON-RPC stream: %s" % (self.remote.text, err))

    def _pop_message(self):
        try:
            return self.framer.pop()
        except ValueError as err:
            raise OvsdbError("%s: not an OVSDB JSON-RPC message: %s" % (self.remote.text, err))


def _error_text(error):
    if isinstance(error, dict):
        parts = [str(error.get("error", ""))]
        if error.get("details"):
            parts.append(str(error["details"]))
        return ": ".join(p for p in parts if p)
    return str(error)


class OvsdbClient(object):
    """A session with one database of one server.

    reconnect: a callable returning a new Connection (the cluster's leader again), used when the
    session is lost in the middle of a transaction that is safe to send again."""

    def __init__(self, connection, database, reconnect=None):
        self.connection = connection
        self.database = database
        self._reconnect = reconnect
        self.reconnects = 0

    @property
    def remote(self):
        return self.connection.remote.text

    def close(self):
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def transact(self, operations, retry=None):
        """Run operations as one transaction; return their results. A failed `wait` raises OvsdbConflict.

        When the session is lost (the leader left, was killed, or cancelled the request) the
        transaction is sent again to the leader then, if that is safe: always for read-only
        transactions; for writes only with retry=True, which the caller may pass when `wait`
        operations guard every row it changes (a copy that landed makes the resent one fail its
        `wait` instead of applying twice). Otherwise OvsdbSessionLost says the outcome is unknown.
        """
        safe = retry if retry is not None else all(op.get("op") in READ_ONLY_OPS for op in operations)
        resent = False
        for resend in range(MAX_RESENDS + 1):
            try:
                results = self.connection.call("transact", [self.database] + list(operations))
                break
            except OvsdbSessionLost as err:
                if self._reconnect is None or resend == MAX_RESENDS:
                    raise
                if not safe:
                    raise OvsdbSessionLost(err.msg + " (the outcome of this write is unknown: read the rows again "
                                           "before retrying)", **err.details)
                self._switch_leader(err)
                resent = True
        for index, result in enumerate(results or []):
            if isinstance(result, dict) and result.get("error"):
                op = operations[index] if index < len(operations) else {"op": "commit"}
                text = _error_text(result)
                if op.get("op") == "wait" and result.get("error") == "timed out":
                    raise OvsdbConflict("%s: rows changed during the transaction (%s on %s)" % (self.remote, text, op.get("table")),
                                        resent=resent)
                raise OvsdbError("%s: %s transaction failed at operation %d (%s %s): %s"
                                 % (self.remote, self.database, index, op.get("op"), op.get("table", ""), text))
        return results

    def _switch_leader(self, lost):
        """A new session to the leader (of the cluster, or the one server again) after `lost`."""
        self.connection.close()
        try:
            self.connection = self._reconnect()
        except OvsdbError as err:
            raise OvsdbError("%s; reconnecting failed: %s" % (lost.msg, err.msg), **err.details)
        self.reconnects += 1

    def schema(self):
        """The database's schema as the server has it (get_schema): one round trip."""
        return self.connection.call("get_schema", [self.database])

    def select(self, table, where, columns):
        return self.transact([select_op(table, where, columns)])[0]["rows"]

    def select_many(self, queries):
        """Several selects in one round trip: queries are (table, where, columns) tuples."""
        results = self.transact([select_op(*q) for q in queries])
        return [r["rows"] for r in results]


def select_op(table, where, columns):
    return {"op": "select", "table": table, "where": where, "columns": list(columns)}


def _server_model(conn, database):
    """(model, leader, connected) from the _Server database, or None on a server without it."""
    if "_Server" not in conn.call("list_dbs", []):
        return None
    query = select_op("Database", [["name", "==", database]], ["model", "leader", "connected"])
    result = conn.call("transact", ["_Server", query])
    rows = result[0].get("rows") or []
    if not rows:
        return None
    row = rows[0]
    return row.get("model"), row.get("leader"), row.get("connected")


# Answers from a remote after which a leader may soon be there: the remotes are tried again.
_ELECTION_REASONS = ("a RAFT follower", "not connected to its RAFT cluster")


def connect(remotes, database, tls=None, timeout=10.0, leader_only=True, io_timeout=DEFAULT_IO_TIMEOUT):
    """Connect to the first remote that serves `database` (its leader, for a RAFT cluster).

    remotes: a string as ovn-nbctl takes it, or a list of Remote. While members answer but none
    is the leader (an election, a leadership transfer) or a member drops the session, the list is
    tried again with backoff for up to `timeout` seconds in all. Raises OvsdbError naming every
    remote tried and why it was not used. The client reconnects the same way when its session is
    lost mid-transaction (see OvsdbClient.transact).
    """
    if not isinstance(remotes, (list, tuple)):
        remotes = parse_remotes(remotes)
    tls = tls or TlsSettings()
    # The key files are checked once, before any remote: their errors are not about a remote.
    tls_context = tls.context() if any(r.kind == "ssl" for r in remotes) else None

    def open_leader():
        deadline = time.monotonic() + timeout
        delay = 0.05
        per_remote = timeout
        while True:
            conn, failures, electing = _first_usable(remotes, database, tls, tls_context, per_remote, leader_only,
                                                     io_timeout)
            if conn is not None:
                return conn
            remaining = deadline - time.monotonic()
            if not electing or remaining <= 0:
                raise OvsdbError("Cannot use the %s database: %s" % (database, "; ".join(failures)),
                                 remotes_tried=failures)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, RETRY_DELAY_MAX)
            per_remote = max(min(timeout, deadline - time.monotonic()), 0.2)

    return OvsdbClient(open_leader(), database, reconnect=open_leader)


def _first_usable(remotes, database, tls, tls_context, timeout, leader_only, io_timeout):
    """(Connection, [], _) to the first usable remote, or (None, failures, whether to try again)."""
    failures = []
    electing = False
    for remote in remotes:
        conn = None
        answered = False
        try:
            sock = open_socket(remote, tls_context, timeout, ca_cert=tls.ca_cert)
            conn = Connection(sock, remote, io_timeout=min(io_timeout, max(timeout, 1.0)))
            dbs = conn.call("list_dbs", [])
            answered = True
            if database not in dbs:
                served = ", ".join(d for d in dbs if d != "_Server") or "no database"
                raise OvsdbError("serves %s, not %s" % (served, database))
            model = _server_model(conn, database)
            if model and model[0] == "clustered":
                if not model[2]:
                    raise OvsdbError("not connected to its RAFT cluster")
                if leader_only and not model[1]:
                    raise OvsdbError("a RAFT follower, not the cluster leader")
            conn.io_timeout = io_timeout
            return conn, [], False
        except OvsdbError as err:
            reason = err.msg
            if reason.startswith(remote.text + ": "):
                reason = reason[len(remote.text) + 2:]
            if reason.startswith(_ELECTION_REASONS):
                electing = True
            if conn is not None:
                conn.close()
                if answered and isinstance(err, OvsdbSessionLost):
                    # A server that answered, then hung up, is leaving its cluster or restarting.
                    electing = True
                if remote.kind == "ssl" and reason.startswith(("send failed", "receive failed", "the server closed")):
                    # With TLS 1.3 a server that refuses our certificate only hangs up after the handshake.
                    reason += " (the server may have refused certificate %s: is it signed by a CA the server trusts?)" % tls.certificate
            failures.append("%s: %s" % (remote.text, reason))
    return None, failures, electing


# Value conversion between OVSDB's JSON notation and plain Python.

def decode(value):
    """["map", ...] -> dict, ["set", ...] -> list, ["uuid", u] -> u, atoms unchanged."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, body = value
        if kind == "map":
            return dict((decode(k), decode(v)) for k, v in body)
        if kind == "set":
            return [decode(v) for v in body]
        if kind in ("uuid", "named-uuid"):
            return body
    return value


def as_list(value):
    """A set column: OVSDB sends a one-element set as the bare atom."""
    value = decode(value)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_optional(value):
    """A column of at most one value: the empty set becomes None."""
    values = as_list(value)
    return values[0] if values else None


def encode_map(mapping):
    return ["map", [[k, v] for k, v in sorted(mapping.items())]]


def encode_set(values):
    return ["set", list(values)]


def uuid_atom(uuid):
    return ["uuid", uuid]
