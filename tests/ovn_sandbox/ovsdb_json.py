"""Turn `ovn-nbctl/ovn-sbctl/ovs-vsctl --format=json` tables into plain Python rows."""
import json


def atom(value):
    """OVSDB JSON value -> Python: uuid -> str, set -> list, map -> dict, scalars as they are."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, body = value
        if kind in ("uuid", "named-uuid"):
            return body
        if kind == "set":
            return [atom(v) for v in body]
        if kind == "map":
            return {atom(k): atom(v) for k, v in body}
    return value


def rows(output):
    """Rows of a --format=json listing as dicts keyed by column name."""
    table = json.loads(output)
    return [dict(zip(table["headings"], (atom(v) for v in row))) for row in table["data"]]


def optional(value):
    """A column of min 0, max 1 comes back as a scalar or an empty set: give the value or None."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def as_list(value):
    """A set column with max > 1 comes back as a scalar when it holds exactly one element."""
    if isinstance(value, list):
        return value
    return [value]


def quote(text):
    """A string as an OVSDB atom the ctl tools parse verbatim (dots, slashes, colons and all)."""
    return json.dumps(str(text))
