"""Label and field selectors, parsed into predicates over object dicts."""
import re

from .errors import bad_request

_SET_RE = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_RE = re.compile(r"^\s*([^=!\s]+)\s*(==|!=|=)\s*(\S*)\s*$")
_KEY_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*$")


def _split_top(text):
    """Split on commas outside parentheses: `a in (x,y),b` -> [`a in (x,y)`, `b`]."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in (s.strip() for s in parts) if p]


def parse_labels(text):
    """Return a predicate over a labels dict, or raise a 400 for a malformed selector."""
    checks = []
    for part in _split_top(text or ""):
        match = _SET_RE.match(part)
        if match:
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",") if v.strip()}
            if op == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
            continue
        match = _EQ_RE.match(part)
        if match:
            key, op, value = match.groups()
            if op == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
            continue
        match = _KEY_RE.match(part)
        if match:
            negate, key = match.groups()
            if negate:
                checks.append(lambda labels, k=key: k not in labels)
            else:
                checks.append(lambda labels, k=key: k in labels)
            continue
        raise bad_request("unable to parse requirement: found '%s', expected: in, notin, =, ==, !=, gt, lt" % part)
    return lambda labels: all(check(labels or {}) for check in checks)


def _field_value(obj, path):
    value = obj
    for key in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Field labels that are not the JSON path of the value they select (kube-apiserver's event fields).
FIELD_PATHS = {("Event", "source"): "source.component"}


def parse_fields(text, rtype):
    """Return a predicate over an object; only field labels the real API supports for the type."""
    allowed = ("metadata.name", "metadata.namespace") + tuple(rtype.field_labels)
    checks = []
    for part in _split_top(text or ""):
        match = _EQ_RE.match(part)
        if not match:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, part))
        path, op, value = match.groups()
        if path not in allowed:
            raise bad_request('"%s" is not a known field selector: only "%s"' % (path, '", "'.join(allowed))
                              if rtype.crd else "field label not supported: " + path)
        path = FIELD_PATHS.get((rtype.kind, path), path)
        if op == "!=":
            checks.append(lambda obj, p=path, v=value: _field_value(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: _field_value(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)


def matcher(rtype, namespace, label_selector, field_selector):
    """One predicate: namespace scope (None = all), label selector, field selector."""
    labels_ok = parse_labels(label_selector)
    fields_ok = parse_fields(field_selector, rtype)

    def matches(obj):
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        if namespace is not None and meta.get("namespace") != namespace:
            return False
        return labels_ok(meta.get("labels")) and fields_ok(obj)
    return matches


def label_selector_matches(selector, labels):
    """A metav1.LabelSelector object (matchLabels, matchExpressions), as a PDB or a Deployment holds
    it, against a labels dict; an empty selector matches everything, as in policy/v1."""
    labels = labels or {}
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if not {"In": lambda: labels.get(key) in values, "NotIn": lambda: labels.get(key) not in values,
                "Exists": lambda: key in labels, "DoesNotExist": lambda: key not in labels}[operator]():
            return False
    return True
