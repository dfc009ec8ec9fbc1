"""Request bodies in Kubernetes' protobuf encoding, for the kinds kubectl sends that way.

kubectl's typed clients (create clusterrolebinding, create token, drain) post protobuf and do not fall
back to JSON on a 415, so the emulator reads the few kinds they post. A body is the magic
"k8s\\0" and a runtime.Unknown (typeMeta = 1, raw = 2) whose raw bytes are the object's message.
Each schema maps a field number to (JSON name, kind of value); only the fields those commands
set are known, an unknown field is skipped as a real decoder skips it.
"""

MAGIC = b"k8s\x00"

STRING, INT, BYTES = "string", "int", "bytes"

TYPE_META = {1: ("apiVersion", STRING), 2: ("kind", STRING)}
UNKNOWN = {1: ("typeMeta", TYPE_META), 2: ("raw", BYTES)}
MAP_ENTRY = {1: ("key", STRING), 2: ("value", STRING)}
OBJECT_META = {1: ("name", STRING), 2: ("generateName", STRING), 3: ("namespace", STRING),
               11: ("labels", ("map", MAP_ENTRY)), 12: ("annotations", ("map", MAP_ENTRY))}
SUBJECT = {1: ("kind", STRING), 2: ("apiGroup", STRING), 3: ("name", STRING), 4: ("namespace", STRING)}
ROLE_REF = {1: ("apiGroup", STRING), 2: ("kind", STRING), 3: ("name", STRING)}
BOUND_OBJECT_REF = {1: ("kind", STRING), 2: ("apiVersion", STRING), 3: ("name", STRING), 4: ("uid", STRING)}
TOKEN_REQUEST_SPEC = {1: ("audiences", ("list", STRING)), 3: ("boundObjectRef", BOUND_OBJECT_REF),
                      4: ("expirationSeconds", INT)}

PRECONDITIONS = {1: ("uid", STRING), 2: ("resourceVersion", STRING)}
DELETE_OPTIONS = {1: ("gracePeriodSeconds", INT), 2: ("preconditions", PRECONDITIONS), 4: ("propagationPolicy", STRING),
                  5: ("dryRun", ("list", STRING))}

SCHEMAS = {
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"):
        {1: ("metadata", OBJECT_META), 2: ("subjects", ("list", SUBJECT)), 3: ("roleRef", ROLE_REF)},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"):
        {1: ("metadata", OBJECT_META), 2: ("subjects", ("list", SUBJECT)), 3: ("roleRef", ROLE_REF)},
    ("authentication.k8s.io/v1", "TokenRequest"): {1: ("metadata", OBJECT_META), 2: ("spec", TOKEN_REQUEST_SPEC)},
    ("policy/v1", "Eviction"): {1: ("metadata", OBJECT_META), 2: ("deleteOptions", DELETE_OPTIONS)},
}


class ProtobufError(ValueError):
    pass


def _varint(data, pos):
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data):
    """(field number, wire type, value) of one message; value is an int or bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ProtobufError("unsupported wire type %d" % wire)
        yield number, wire, value


def _value(kind, raw):
    if kind == STRING:
        return raw.decode("utf-8")
    if kind in (INT, BYTES):
        return raw
    return message(raw, kind)


def message(data, schema):
    out = {}
    for number, _wire, raw in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if isinstance(kind, tuple) and kind[0] == "map":
            entry = message(raw, kind[1])
            out.setdefault(name, {})[entry.get("key", "")] = entry.get("value", "")
        elif isinstance(kind, tuple) and kind[0] == "list":
            out.setdefault(name, []).append(_value(kind[1], raw))
        elif kind != STRING or raw:     # an empty string is Go's zero value: absent in JSON
            out[name] = _value(kind, raw)
    return out


def length_delimited(number, payload):
    """Field `number` (wire type 2) holding a string or bytes: key, varint length, data."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    key, size, length = bytes([number << 3 | 2]), len(data), b""
    while True:
        length += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
        size >>= 7
        if not size:
            return key + length + data


def openapi_v2(version):
    """An OpenAPI v2 document with no paths and no definitions, as gnostic's protobuf encodes it
    (Document: swagger = 1, info = 2; Info: title = 1, version = 2): what kubectl reads."""
    info = length_delimited(1, "Kubernetes") + length_delimited(2, version)
    return length_delimited(1, "2.0") + length_delimited(2, info)


def decode(body):
    """The object a protobuf request body carries, as the JSON body would carry it."""
    if not body.startswith(MAGIC):
        raise ProtobufError("no k8s protobuf magic")
    envelope = message(body[len(MAGIC):], UNKNOWN)
    type_meta = envelope.get("typeMeta") or {}
    key = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
    if key not in SCHEMAS:
        raise ProtobufError("the emulator does not read %s %s as protobuf" % key)
    obj = message(envelope.get("raw", b""), SCHEMAS[key])
    return dict(obj, apiVersion=key[0], kind=key[1])
