# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVN Northbound service: find a VM's Logical_Switch_Ports and set the two option keys we own.

Only `requested-chassis` and `activation-strategy` are ever written, by `mutate` on the options
map (delete the key, then insert it), in one transaction guarded by `wait` operations on the
options we read: other writers' keys survive, and a concurrent change makes us re-read and retry.
"""

import re
import time

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError, OvsdbError

NB_DATABASE = "OVN_Northbound"
# ovn-nbctl's default when neither --db nor OVN_NB_DB is given.
DEFAULT_NB_REMOTE = "unix:/var/run/ovn/ovnnb_db.sock"
LSP_TABLE = "Logical_Switch_Port"
LSP_COLUMNS = ("_uuid", "name", "type", "options", "external_ids")
KEY_CHASSIS = "requested-chassis"
KEY_STRATEGY = "activation-strategy"
OWNED_KEYS = (KEY_CHASSIS, KEY_STRATEGY)
STATES = ("prepared", "cutover", "rolled_back", "pinned", "absent")
STRATEGIES = ("rarp",)
WAIT_STAGES = ("none", "sb", "hv")
MAX_ATTEMPTS = 5
# Chassis names and hostnames as OVN, Kubernetes node names and system-ids spell them; anything else
# (quotes, shell or OVSDB syntax) is a typo or an injection and must never reach requested-chassis.
CHASSIS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
# Which chassis each state needs.
REQUIRED_CHASSIS = {
    "prepared": ("source_chassis", "target_chassis"),
    "cutover": ("target_chassis",),
    "rolled_back": ("source_chassis",),
    "pinned": ("source_chassis",),
    "absent": (),
}


def connection_settings(params):
    """(TlsSettings, connect timeout) from the ovn_nb argspec's parameters, for NB and SB alike."""
    timeout = params.get("connect_timeout")
    if timeout is None:
        timeout = 10.0
    if timeout <= 0:
        raise ModuleError("connect_timeout must be a positive number of seconds, got %s" % timeout)
    return ovsdb.TlsSettings(params.get("private_key"), params.get("certificate"), params.get("ovn_ca_cert", params.get("ca_cert"))), timeout


def connect_nb(params):
    """Connect to the NB leader from the ovn_nb argspec's parameters."""
    remotes = params.get("ovn_nb_connection") or DEFAULT_NB_REMOTE
    tls, timeout = connection_settings(params)
    try:
        return ovsdb.connect(remotes, NB_DATABASE, tls=tls, timeout=timeout)
    except OvsdbError as err:
        hint = ""
        if not params.get("ovn_nb_connection"):
            hint = " (ovn_nb_connection and OVN_NB_DB are not set: tried ovn-nbctl's default socket)"
        raise OvsdbError("ovn_nb_connection: " + err.msg + hint, **err.details)


# Reading ports.

class Port(object):
    """One Logical_Switch_Port as read: options and external_ids as dicts."""

    def __init__(self, row):
        self.uuid = ovsdb.decode(row["_uuid"])
        self.name = row["name"]
        self.type = row.get("type", "")
        self.options = ovsdb.decode(row.get("options", ["map", []]))
        self.external_ids = ovsdb.decode(row.get("external_ids", ["map", []]))

    @property
    def owned(self):
        """Our two keys, a missing key as None."""
        return dict((key, self.options.get(key)) for key in OWNED_KEYS)

    @property
    def pod(self):
        """(namespace, vmi) from external_ids:pod, or (None, None)."""
        namespace, sep, name = self.external_ids.get("pod", "").partition("/")
        return (namespace, name) if sep else (None, None)


def find_ports_by_name(client, names):
    """Ports named `names`, in that order, one round trip; returns (ports, missing names)."""
    names = unique(names)
    results = client.select_many([(LSP_TABLE, [["name", "==", n]], LSP_COLUMNS) for n in names])
    ports, missing = [], []
    for name, rows in zip(names, results):
        if rows:
            ports.extend(Port(r) for r in rows)
        else:
            missing.append(name)
    return ports, missing


def vmi_condition(namespace, vmi):
    """Every NIC of a VMI: VIF ports (type "") whose external_ids:pod is <namespace>/<vmi>."""
    return [["type", "==", ""], ["external_ids", "includes", ovsdb.encode_map({"pod": "%s/%s" % (namespace, vmi)})]]


def find_vmi_ports(client, namespace, vmi):
    rows = client.select(LSP_TABLE, vmi_condition(namespace, vmi), LSP_COLUMNS)
    return sorted((Port(r) for r in rows), key=lambda p: p.name)


def is_migrating(options):
    """A port mid-migration: an activation strategy, or more than one requested chassis."""
    return bool(options.get(KEY_STRATEGY)) or "," in options.get(KEY_CHASSIS, "")


def find_migrating_ports(client, full=False):
    """Scan every LSP for migration options (OVSDB cannot test a map key alone, so one select
    of the five columns we need, filtered here); with `full`, every port carrying one of our keys
    (a pin included)."""
    rows = client.select(LSP_TABLE, [], LSP_COLUMNS)
    keep = is_marked if full else is_migrating
    return sorted((p for p in (Port(r) for r in rows) if keep(p.options)), key=lambda p: p.name)


def is_marked(options):
    """A port carrying one of our keys at all: mid-migration, or pinned to a chassis."""
    return is_migrating(options) or bool(options.get(KEY_CHASSIS))


def marked_queries(chassis_names):
    """Selects that find, server-side, every port carrying one of our keys. OVSDB cannot test whether a
    map has a key (RFC 7047 5.1: `includes`/`excludes` on a map compare key-value pairs), so there is
    one select per value we (or Kube-OVN) may have written: activation-strategy=rarp, and
    requested-chassis=<c> for every chassis name and hostname `chassis_names` holds (a pin; with
    `includes` an index-less condition, but the server filters and the reply holds only the ports
    found). Two chassis without an activation strategy are written by neither and are not found, nor
    a pin naming a chassis the SB no longer knows (find_migrating_ports(full=True) scans everything)."""
    queries = [(LSP_TABLE, [["options", "includes", ovsdb.encode_map({KEY_STRATEGY: s})]], LSP_COLUMNS)
               for s in STRATEGIES]
    queries += [(LSP_TABLE, [["options", "includes", ovsdb.encode_map({KEY_CHASSIS: c})]], LSP_COLUMNS)
                for c in sorted(set(c for c in chassis_names if c))]
    return queries


def find_marked_ports(client, chassis_names):
    """Every port with an activation strategy or a requested-chassis naming one of `chassis_names`,
    in one round trip of narrowed selects (marked_queries), each port once, sorted by name."""
    found = {}
    for rows in client.select_many(marked_queries(chassis_names)):
        for row in rows:
            port = Port(row)
            found[port.uuid] = port
    return sorted((p for p in found.values() if is_marked(p.options)), key=lambda p: p.name)


def unique(names):
    seen, out = set(), []
    for name in names:
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def describe_selector(ports=None, namespace=None, vmi=None):
    if ports:
        return "Logical_Switch_Port named " + ", ".join(ports)
    return "Logical_Switch_Port of type \"\" with external_ids:pod=%s/%s" % (namespace, vmi)


def vif_lookup(ports=None, namespace=None, vmi=None):
    """A lookup for set_port_options: the named ports (all must exist and be VIFs) or a VMI's ports."""
    def lookup(client):
        if ports:
            found, missing = find_ports_by_name(client, ports)
            if missing:
                raise ModuleError("No Logical_Switch_Port named %s in %s" % (", ".join(missing), client.remote))
            odd = ["%s (type %s)" % (p.name, p.type) for p in found if p.type != ""]
            if odd:
                raise ModuleError("Only VIF ports (type \"\") carry a VM's traffic; refusing " + ", ".join(odd))
            return found
        found = find_vmi_ports(client, namespace, vmi)
        if not found:
            raise ModuleError("No port found: searched %s in %s" % (describe_selector(namespace=namespace, vmi=vmi), client.remote))
        return found
    return lookup


def batch_lookup(items, not_found):
    """A lookup for set_port_options over many VMIs, one round trip: every port of each item's
    (namespace, vmi). VMIs without ports are appended to `not_found` (one odd VM must not hold
    back the others) and left out."""
    def lookup(client):
        results = client.select_many([(LSP_TABLE, vmi_condition(i["namespace"], i["vmi"]), LSP_COLUMNS)
                                      for i in items])
        del not_found[:]
        ports = []
        for item, rows in zip(items, results):
            if not rows:
                not_found.append("%s/%s" % (item["namespace"], item["vmi"]))
            ports.extend(sorted((Port(r) for r in rows), key=lambda p: p.name))
        return ports
    return lookup


def batch_desired(items, strategy="rarp"):
    """port -> our keys, from the item whose VMI owns the port (external_ids:pod)."""
    wanted = dict(((i["namespace"], i["vmi"]),
                   desired_options(i["state"], i.get("source_chassis"), i.get("target_chassis"), strategy))
                  for i in items)
    return lambda port: wanted[port.pod]


# Planning (pure).

def validate_chassis_args(state, source, target):
    """Raise ModuleError for arguments that must never reach the database."""
    if state not in STATES:
        raise ModuleError("state must be one of %s, got %r" % (", ".join(STATES), state))
    given = {"source_chassis": source, "target_chassis": target}
    for option in REQUIRED_CHASSIS[state]:
        if given[option] is None:
            raise ModuleError("state=%s needs %s" % (state, option))
    for option, value in sorted(given.items()):
        if value is None:
            continue
        if not value.strip():
            raise ModuleError("%s must not be empty" % option)
        if "," in value or any(c.isspace() for c in value):
            raise ModuleError("%s %r must be one chassis name or hostname, without commas or whitespace" % (option, value))
        if not CHASSIS_NAME.match(value):
            raise ModuleError("%s %r is not a chassis name or hostname: use letters, digits, '.', '-', '_' or ':'"
                              % (option, value))
    if source is not None and target is not None and source == target:
        raise ModuleError("source_chassis and target_chassis are both %r: a migration needs two different chassis" % source)


def desired_options(state, source=None, target=None, strategy="rarp"):
    """Our two keys as they must be in `state`; None means the key must be absent."""
    if state == "prepared":
        return {KEY_CHASSIS: "%s,%s" % (source, target), KEY_STRATEGY: strategy}
    if state == "cutover":
        return {KEY_CHASSIS: target, KEY_STRATEGY: None}
    if state in ("rolled_back", "pinned"):
        return {KEY_CHASSIS: source, KEY_STRATEGY: None}
    return {KEY_CHASSIS: None, KEY_STRATEGY: None}


def option_mutations(current, desired):
    """The mutations that turn our keys of `current` into `desired`, touching no other key.

    An insert never overwrites an existing key, so a changed key is deleted first, in the same
    mutate operation.
    """
    changed = sorted(k for k in desired if current.get(k) != desired[k])
    if not changed:
        return []
    mutations = [["options", "delete", ovsdb.encode_set(changed)]]
    inserts = dict((k, desired[k]) for k in changed if desired[k] is not None)
    if inserts:
        mutations.append(["options", "insert", ovsdb.encode_map(inserts)])
    return mutations


def _per_port(desired):
    """`desired` as a function of the port: one dict for every port, or already a function."""
    return desired if callable(desired) else (lambda _port: desired)


def update_operations(ports, desired, comment=None):
    """wait (options unchanged since read) for every port, then one mutate per port.

    desired: our keys for every port (dict), or a function port -> dict (a batch of VMIs)."""
    want = _per_port(desired)
    waits, mutates = [], []
    for port in ports:
        mutations = option_mutations(port.options, want(port))
        if not mutations:
            continue
        where = [["_uuid", "==", ovsdb.uuid_atom(port.uuid)]]
        waits.append({"op": "wait", "table": LSP_TABLE, "timeout": 0, "where": where, "columns": ["options"],
                      "until": "==", "rows": [{"options": ovsdb.encode_map(port.options)}]})
        mutates.append({"op": "mutate", "table": LSP_TABLE, "where": where, "mutations": mutations})
    ops = waits + mutates
    if ops and comment:
        ops.append({"op": "comment", "comment": comment})
    return ops


def port_report(port, desired):
    after = dict((k, desired[k]) for k in OWNED_KEYS)
    namespace, vmi = port.pod
    return {"name": port.name, "namespace": namespace, "vmi": vmi, "before": port.owned, "after": after}


# Applying.

def _vms_where(ports, test):
    """The names of the ports of every VM (ports grouped by external_ids:pod) any of whose ports passes `test`."""
    groups = {}
    for port in ports:
        groups.setdefault(port.pod, []).append(port)
    return set(p.name for group in groups.values() if any(test(p) for p in group) for p in group)


def cut_over_guard(target_of):
    """A `keep` for state=prepared: the ports of a VM any of whose ports already sits on its
    target alone. A cutover has landed (another run, a later event): preparing again would make
    the target wait for a RARP the VM sent long ago, and OVN would drop its traffic meanwhile.

    target_of: port -> the target chassis of that port's VM."""
    return lambda ports: _vms_where(ports, lambda p: target_of(p) and p.options.get(KEY_CHASSIS) == target_of(p))


def marked_guard(ports):
    """A `keep` for state=pinned: the ports of a VM any of whose ports carries one of our keys. A pin
    only goes on ports as Kube-OVN creates them: one that comes late (after the prepare, a cutover,
    anyone's pin) must never undo what is there."""
    return _vms_where(ports, lambda p: any(v is not None for v in p.owned.values()))


def _keeping(kept, given):
    """port -> our keys: as they are for the ports named in `kept`, else as `given` says."""
    return lambda port: port.owned if port.name in kept else given(port)


def set_port_options(client, lookup, desired, check_mode=False, wait="none", comment=None, keep=None):
    """Bring our keys of every port lookup(client) returns to `desired`.

    lookup: callable(client) -> list of Port (re-run on every attempt).
    keep: callable(ports) -> names of ports to leave as they are (see cut_over_guard); judged on
    the same read the transaction's `wait` operations guard, so it cannot race another writer.
    wait: with sb or hv, the result's nb_cfg is the NB_Global.nb_cfg to wait for (see
    wait_for_sync): bumped in the write transaction, like ovn-nbctl --wait, but only when
    something is written; a call that changes nothing reads it and leaves it alone.
    The transaction is safe to send again after a lost session (a RAFT leader change): its `wait`
    operations make a copy that already landed fail instead of applying twice, and the ports are
    read again.
    Returns {"changed", "ports": [{name, before, after}], "kept": [names], "nb_cfg"}; raises OvsdbError.
    Each port the transaction changed also has `written_at`: epoch seconds when the commit was
    confirmed (the metrics' stage times, e.g. when a port became bound on two chassis).
    """
    given = _per_port(desired)
    unsure = None
    for _attempt in range(MAX_ATTEMPTS):
        ports = lookup(client)
        kept = keep(ports) if keep else set()
        want = _keeping(kept, given)
        reports = [port_report(p, want(p)) for p in ports]
        ops = update_operations(ports, want, comment)
        result = {"changed": bool(ops), "ports": reports, "kept": sorted(kept)}
        if check_mode:
            return result
        if not ops and unsure is not None:
            # A copy of our transaction landed before the session was lost: it was our change.
            result.update(changed=True, ports=_stamped(unsure, time.time()))
        if wait != "none":
            nb_cfg = require_nb_global(client)
            if not ops:
                result["nb_cfg"] = nb_cfg
                return result
            ops = ops + [{"op": "mutate", "table": "NB_Global", "where": [], "mutations": [["nb_cfg", "+=", 1]]},
                         {"op": "select", "table": "NB_Global", "where": [], "columns": ["nb_cfg"]}]
        if not ops:
            return result
        try:
            results = client.transact(ops, retry=True)
        except ovsdb.OvsdbConflict as err:
            if err.details.get("resent"):
                unsure = reports
            continue
        _stamped(reports, time.time())
        if wait != "none":
            result["nb_cfg"] = results[-1]["rows"][0]["nb_cfg"]
        return result
    raise OvsdbError("Logical_Switch_Port options kept changing under us: gave up after %d attempts" % MAX_ATTEMPTS)


def _stamped(reports, moment):
    """`reports` with `written_at` on those whose owned keys the commit changed."""
    for report in reports:
        if report["before"] != report["after"]:
            report["written_at"] = moment
    return reports


def require_nb_global(client):
    """NB_Global.nb_cfg; a clear error when the row is missing (nothing to wait with)."""
    rows = client.select("NB_Global", [], ["nb_cfg"])
    if not rows:
        raise OvsdbError("%s: the NB_Global row is missing, so wait cannot work: is the database initialized "
                         "(ovn-nbctl init) and ovn-northd running?" % client.remote)
    return rows[0]["nb_cfg"]


# Multi-chassis port bindings (requested-chassis=A,B) came with OVN 22.06.0 and its NB schema 6.3.0
# (activation-strategy=rarp with 22.06.1, no schema change). Older OVN reads "A,B" as one unknown
# chassis and releases the port on the source for the whole migration.
MULTICHASSIS_NB_SCHEMA = (6, 3, 0)
MULTICHASSIS_SB_COLUMNS = ("additional_chassis", "requested_additional_chassis")


def schema_version(schema):
    try:
        return tuple(int(part) for part in schema.get("version", "").split("."))
    except ValueError:
        return ()


def require_multichassis(nb, sb=None):
    """Refuse, before anything is written, an OVN without multi-chassis port bindings: the SB
    Port_Binding columns when an SB session is open, else the NB schema version (one get_schema)."""
    advice = ("live migration needs multi-chassis port bindings (requested-chassis=SRC,DST), which came "
              "with OVN 22.06; upgrade OVN. Nothing was written")
    if sb is not None:
        schema = sb.schema()
        columns = schema.get("tables", {}).get("Port_Binding", {}).get("columns", {})
        missing = [c for c in MULTICHASSIS_SB_COLUMNS if c not in columns]
        if missing:
            raise ModuleError("%s: the Southbound Port_Binding table (schema %s) has no %s column: %s"
                              % (sb.remote, schema.get("version", "?"), " or ".join(missing), advice))
    schema = nb.schema()
    if schema_version(schema) < MULTICHASSIS_NB_SCHEMA:
        raise ModuleError("%s: Northbound schema %s is older than %s (OVN 22.06): %s"
                          % (nb.remote, schema.get("version", "?"), ".".join(map(str, MULTICHASSIS_NB_SCHEMA)), advice))


def wait_for_sync(nb, nb_cfg, stage, timeout, sb=None, chassis=()):
    """Wait until NB change `nb_cfg` reached ovn-northd (stage sb) or the chassis involved (stage hv).

    Stage hv with an SB session waits for the Chassis_Private.nb_cfg of `chassis` (Chassis names)
    only; without one, for NB_Global.hv_cfg, the slowest chassis of the whole cluster. With no
    chassis involved, stage hv is stage sb. Returns None, or a sentence naming what lagged: the
    change is written by then, so callers report it as a warning, never as a failure.
    """
    per_chassis = stage == "hv" and sb is not None
    chassis = list(chassis) if per_chassis else []
    if per_chassis and not chassis:
        stage = "sb"
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        row = nb.select("NB_Global", [], ["sb_cfg", "hv_cfg"])[0]
        behind = {}
        if chassis:
            results = sb.select_many([("Chassis_Private", [["name", "==", c]], ["nb_cfg"]) for c in chassis])
            behind = dict((c, rows[0]["nb_cfg"] if rows else None) for c, rows in zip(chassis, results)
                          if not rows or rows[0]["nb_cfg"] < nb_cfg)
            done = not behind
        elif stage == "hv":
            done = row["hv_cfg"] >= nb_cfg
        else:
            done = row["sb_cfg"] >= nb_cfg
        if done:
            return None
        if time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    head = "wait=%s: NB change nb_cfg=%d is written, but " % (stage, nb_cfg)
    northd = ""
    if row["sb_cfg"] < nb_cfg:
        northd = ("ovn-northd did not copy it to the Southbound database within %s s (sb_cfg is %d): "
                  "is ovn-northd running and connected?" % (timeout, row["sb_cfg"]))
    if behind:
        lagging = ", ".join("%s (nb_cfg %s)" % (c, "unknown" if n is None else n) for c, n in sorted(behind.items()))
        return head + ("%s; " % northd if northd else "") + (
            "chassis %s did not apply it within %s s: is its ovn-controller down or slow?" % (lagging, timeout))
    if northd:
        return head + northd
    return head + ("the hypervisors did not apply it within %s s (NB_Global.hv_cfg is %d, the slowest chassis "
                   "of the whole cluster): an ovn-controller is down or slow; set ovn_sb_connection to wait "
                   "only for the chassis involved" % (timeout, row["hv_cfg"]))
