# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OVN Southbound reads: which chassis exist, and where a logical port is bound.

OVN matches a requested-chassis entry against a Chassis' name or its hostname (Kube-OVN writes
Kubernetes node names), so lookups here accept either.
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import OvsdbError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb import connection_settings

SB_DATABASE = "OVN_Southbound"
CHASSIS_COLUMNS = ("_uuid", "name", "hostname")
BINDING_COLUMNS = ("logical_port", "chassis", "additional_chassis", "requested_chassis",
                   "requested_additional_chassis", "options", "up")
ACTIVATED_KEY = "additional-chassis-activated"


def connect_sb(params):
    """Connect to the SB leader, or return None when ovn_sb_connection is not set."""
    remotes = params.get("ovn_sb_connection")
    if not remotes:
        return None
    tls, timeout = connection_settings(params)
    try:
        return ovsdb.connect(remotes, SB_DATABASE, tls=tls, timeout=timeout)
    except OvsdbError as err:
        raise OvsdbError("ovn_sb_connection: " + err.msg, **err.details)


def find_chassis(client, names):
    """{name: {"name", "hostname"} or None} for each name, matched on Chassis name, then hostname."""
    names = list(dict.fromkeys(names))
    queries = []
    for name in names:
        queries.append(("Chassis", [["name", "==", name]], CHASSIS_COLUMNS))
        queries.append(("Chassis", [["hostname", "==", name]], CHASSIS_COLUMNS))
    results = client.select_many(queries) if queries else []
    found = {}
    for index, name in enumerate(names):
        rows = results[2 * index] or results[2 * index + 1]
        found[name] = chassis_dict(rows[0]) if rows else None
    return found


def list_chassis(client):
    """Every registered chassis as "name (hostname)", for error messages."""
    rows = client.select("Chassis", [], CHASSIS_COLUMNS)
    return sorted("%s (%s)" % (r["name"], r["hostname"]) if r["hostname"] else r["name"] for r in rows)


def chassis_names(client):
    """Every name and hostname a requested-chassis may use for a registered chassis."""
    rows = client.select("Chassis", [], CHASSIS_COLUMNS)
    return sorted(set(n for r in rows for n in (r["name"], r.get("hostname")) if n))


def chassis_dict(row):
    return {"name": row["name"], "hostname": row.get("hostname") or None}


def port_bindings(client, logical_ports):
    """{logical_port: binding dict or None}; chassis references resolved to names, two round trips."""
    names = list(dict.fromkeys(logical_ports))
    if not names:
        return {}
    results = client.select_many([("Port_Binding", [["logical_port", "==", n]], BINDING_COLUMNS) for n in names])
    rows = dict((n, r[0]) for n, r in zip(names, results) if r)
    uuids = set()
    for row in rows.values():
        for column in ("chassis", "additional_chassis", "requested_chassis", "requested_additional_chassis"):
            uuids.update(ovsdb.as_list(row[column]))
    chassis = resolve_chassis_uuids(client, sorted(uuids))
    return dict((n, binding_dict(rows[n], chassis) if n in rows else None) for n in names)


def resolve_chassis_uuids(client, uuids):
    """{uuid: {"name", "hostname"}} in one round trip."""
    if not uuids:
        return {}
    results = client.select_many([("Chassis", [["_uuid", "==", ovsdb.uuid_atom(u)]], CHASSIS_COLUMNS) for u in uuids])
    return dict((u, chassis_dict(r[0])) for u, r in zip(uuids, results) if r)


def binding_dict(row, chassis):
    def name(uuid):
        return chassis[uuid]["name"] if uuid in chassis else None

    def hostname(uuid):
        return chassis[uuid]["hostname"] if uuid in chassis else None

    main = ovsdb.as_optional(row["chassis"])
    additional = ovsdb.as_list(row["additional_chassis"])
    requested = ovsdb.as_optional(row["requested_chassis"])
    requested_additional = ovsdb.as_list(row["requested_additional_chassis"])
    options = ovsdb.decode(row["options"])
    activated = [c for c in options.get(ACTIVATED_KEY, "").split(",") if c]
    return {
        "chassis": name(main),
        "chassis_hostname": hostname(main),
        "additional_chassis": [name(u) for u in additional],
        "additional_chassis_hostnames": [hostname(u) for u in additional],
        "requested_chassis": name(requested),
        "requested_chassis_hostname": hostname(requested),
        "requested_additional_chassis": [name(u) for u in requested_additional],
        "requested_additional_chassis_hostnames": [hostname(u) for u in requested_additional],
        "activated": activated,
        "up": ovsdb.as_optional(row["up"]),
    }
