# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A long-lived Northbound watcher of the ports of the VMIs the collection manages (ovsdbapp's IDL).

The event source (vmim_events) tells it which VMIs have a migration in flight; it monitors only their
Logical_Switch_Ports with OVSDB conditional monitoring (`monitor_cond`, one clause per VMI on
`external_ids:pod`) and hands the owned options of a VMI's ports to a sink whenever they change. It
never replicates the whole Logical_Switch_Port table (a full replica of 50k ports took 12.6-13.5 s and
276 MB here), only the four columns it needs of the rows in play.

The IDL talks to the RAFT leader only (leader_only) and reconnects by itself with backoff, sending its
current condition again; the schema is read once with the collection's own OVSDB client.

Only the event source uses this module (it needs the `ovs` and `ovsdbapp` Python packages, the one-shot
modules do not): vmi_clauses() and owned_by_vmi() are pure and unit tested; NbPortWatcher is the thread.
"""

import logging
import os
import threading

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb import (
    LSP_TABLE, NB_DATABASE, OWNED_KEYS,
)

LOG = logging.getLogger("kubeovn.live_migration.nb_watch")
COLUMNS = ("name", "type", "options", "external_ids")
FIRST_RETRY_DELAY = 0.1


def vmi_clauses(vmis):
    """The monitor_cond condition of the ports of `vmis` ((namespace, name) pairs): one clause per VMI,
    any of which selects a row (a monitor condition is a disjunction). [] selects nothing."""
    return [["external_ids", "includes", ["map", [["pod", "%s/%s" % key]]]] for key in sorted(vmis)]


def owned_by_vmi(rows):
    """{(namespace, vmi): {port name: {requested-chassis, activation-strategy}}} of VIF ports (type "").

    rows: (name, type, options dict, external_ids dict) tuples."""
    out = {}
    for name, kind, options, external_ids in rows:
        namespace, sep, vmi = (external_ids.get("pod") or "").partition("/")
        if kind != "" or not sep:
            continue
        out.setdefault((namespace, vmi), {})[name] = dict((k, options.get(k) or None) for k in OWNED_KEYS)
    return out


def changed_vmis(last, now, watched):
    """The watched VMIs whose ports' owned options differ between two owned_by_vmi() snapshots, with
    their ports now (a VMI with no port now maps to {})."""
    return dict((key, now.get(key, {})) for key in sorted(watched) if key in now or key in last
                if now.get(key) != last.get(key))


class NbPortWatcher(threading.Thread):
    """Watch the ports of a changing set of VMIs; sink.put(("ports", (namespace, vmi), ports)) on change.

    watch(vmis) sets the VMIs (from any thread); stop() ends the thread."""

    def __init__(self, remotes, sink, tls=None, timeout=10.0, retry_max_delay=5.0):
        super(NbPortWatcher, self).__init__(name="nb-port-watch", daemon=True)
        self.remotes = remotes
        self.sink = sink
        self.tls = tls or ovsdb.TlsSettings()
        self.timeout = timeout
        self.retry_max_delay = retry_max_delay
        self._lock = threading.Lock()
        self._want = frozenset()
        self._want_changed = True
        self._stopped = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self.connected = False
        self.replica = ()      # names of the Logical_Switch_Port rows the IDL holds (after each change)

    # -- from other threads

    def watch(self, vmis):
        vmis = frozenset(vmis)
        with self._lock:
            if vmis == self._want:
                return
            self._want, self._want_changed = vmis, True
        self._wake()

    def stop(self):
        self._stopped.set()
        self._wake()

    def _wake(self):
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # -- the thread

    def run(self):
        failures = 0
        try:
            while not self._stopped.is_set():
                try:
                    idl = self._open()
                except Exception as err:  # noqa: BLE001 - any failure to start is retried, and logged
                    (LOG.warning if failures % 10 == 0 else LOG.debug)("NB watch: cannot start (%s); retrying", err)
                    self._stopped.wait(min(FIRST_RETRY_DELAY * (2 ** failures), self.retry_max_delay))
                    failures += 1
                    continue
                failures = 0
                try:
                    self._serve(idl)
                finally:
                    idl.close()
        finally:
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _open(self):
        """The schema (the collection's own client: same remotes, TLS and leader rule as the modules), then
        an IDL that registers the four columns of Logical_Switch_Port and nothing else."""
        from ovs.db import idl as ovs_idl
        from ovs import stream
        from ovsdbapp.backend.ovs_idl import connection

        with ovsdb.connect(self.remotes, NB_DATABASE, tls=self.tls, timeout=self.timeout) as client:
            schema = client.schema()
        if self.tls.private_key:
            stream.Stream.ssl_set_private_key_file(self.tls.private_key)
            stream.Stream.ssl_set_certificate_file(self.tls.certificate)
            stream.Stream.ssl_set_ca_cert_file(self.tls.ca_cert)
        helper = ovs_idl.SchemaHelper(schema_json=schema)
        helper.register_columns(LSP_TABLE, list(COLUMNS))
        idl = connection.OvsdbIdl(self.remotes, helper, leader_only=True)
        # Before the first run(): the first monitor_cond request already carries it (never the whole table).
        with self._lock:
            idl.cond_change(LSP_TABLE, vmi_clauses(self._want))
            self._want_changed = False
        return idl

    def _serve(self, idl):
        from ovs import poller as ovs_poller

        last, seqno = {}, None
        while not self._stopped.is_set():
            with self._lock:
                want, changed = self._want, self._want_changed
                self._want_changed = False
            if changed:
                idl.cond_change(LSP_TABLE, vmi_clauses(want))
                last = dict((k, v) for k, v in last.items() if k in want)
            idl.run()
            # Monitoring: connected to the leader, the condition's rows received (leader_only).
            connected = idl.state == idl.IDL_S_MONITORING
            if connected != self.connected:
                self.connected = connected
                (LOG.info if connected else LOG.warning)("NB watch: %s %s", "monitoring" if connected
                                                         else "lost (reconnecting to the leader)", idl.session_name())
            if idl.change_seqno != seqno:
                seqno = idl.change_seqno
                rows = list(idl.tables[LSP_TABLE].rows.values())
                self.replica = tuple(sorted(r.name for r in rows))
                now = owned_by_vmi((r.name, r.type, dict(r.options), dict(r.external_ids)) for r in rows)
                for key, ports in changed_vmis(last, now, want).items():
                    self.sink.put(("ports", key, ports))
                last = dict((k, v) for k, v in now.items() if k in want)
            poller = ovs_poller.Poller()
            idl.wait(poller)
            poller.fd_wait(self._wake_r, ovs_poller.POLLIN)
            poller.block()
            self._drain()

    def _drain(self):
        import select
        while select.select([self._wake_r], [], [], 0)[0]:
            os.read(self._wake_r, 512)
