"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) over plain dicts and lists."""
import copy


class PatchError(Exception):
    pass


def merge_patch(target, patch):
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def _tokens(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % pointer)
    return [_unescape(t) for t in pointer[1:].split("/")]


def _index(container, token, for_add=False):
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError("invalid array index %r" % token)
    index = int(token)
    limit = len(container) + (1 if for_add else 0)
    if index >= limit:
        raise PatchError("array index %d out of range" % index)
    return index


def _parent(doc, tokens):
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError("missing path element %r" % token)
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token)]
        else:
            raise PatchError("cannot descend into %r" % token)
    return node


def _get(doc, pointer):
    tokens = _tokens(pointer)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("missing value at %s" % pointer)
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    raise PatchError("missing value at %s" % pointer)


def _add(doc, pointer, value):
    tokens = _tokens(pointer)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise PatchError("cannot add at %s" % pointer)
    return doc


def _remove(doc, pointer):
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = _parent(doc, tokens), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("unable to remove nonexistent key: %s" % last)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last))
    raise PatchError("cannot remove at %s" % pointer)


def json_patch(target, operations):
    """RFC 6902 operations applied to a copy of target."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("each operation needs `op` and `path`")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError("operation %s needs `value`" % kind)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _tokens(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op["from"])))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError("testing value %s failed" % path)
        else:
            raise PatchError("unexpected kind of operation %r" % kind)
    return doc
