# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The arguments of the EDA event source kubeovn.live_migration.vmim_events, checked from one schema.

SCHEMA maps each option to its type, default and (where the values are fixed) its choices;
parse_options() walks it, so an option is added by adding one line. The Kubernetes auth options
come from auth_options.AUTH_OPTIONS (the kubernetes.core names and their K8S_AUTH_* fallbacks).

Pure: no Ansible imports, no I/O besides reading the environment for the auth fallbacks.
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.auth_options import (
    AUTH_OPTIONS, BOOL_OPTIONS, LIST_OPTIONS, auth_from_env,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import SCOPES
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import PHASES

# "type": "list" (of strings, or one comma-separated string), "str", "seconds" (a number >= 0), "bool",
#       "any" (passed as given: a kubeconfig may be a path or a dict).
# default: the value when the option is missing or empty. zero_is_default: 0 means the default too.
# choices: the valid values (for a list: of each element). empty: what an empty list becomes.
SCHEMA = {
    "namespaces": {"type": "list", "empty": [None]},
    "label_selector": {"type": "str", "default": None, "example": "'team=a,tier!=test'"},
    "phases": {"type": "list", "choices": PHASES, "as_set": True},
    "scope": {"type": "str", "default": "all", "choices": SCOPES},
    "migration_timeout": {"type": "seconds", "default": 0.0},
    # Adaptive batching is on unless 0 is given: see PrepareBatcher (module_utils/k8s/migration_view.py).
    "prepare_batch_window": {"type": "seconds", "default": 2.0},
    "heartbeat": {"type": "seconds", "default": 0.0},
    "replay_ended_within": {"type": "seconds", "default": 300.0},
    "retry_max_delay": {"type": "seconds", "default": 5.0, "zero_is_default": True},
}
# The auth options: kubernetes.core's, explicit values win over the K8S_AUTH_* environment.
AUTH_SCHEMA = dict(
    (option, {"type": "bool" if option in BOOL_OPTIONS else "list" if option in LIST_OPTIONS else "any", "default": None})
    for option in AUTH_OPTIONS)
SOURCE = "kubeovn.live_migration.vmim_events"


class SourceOptionError(ValueError):
    """A source argument is wrong: the message says which and why."""


def _empty(value):
    return value is None or value == "" or value == [] or value == ()


def _as_list(name, value):
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise SourceOptionError("%s must be a list of strings or a comma-separated string, not %r" % (name, value))


def _as_str(name, value, spec):
    if not isinstance(value, str):
        if spec.get("choices"):
            raise SourceOptionError("%s must be one of %s, not %r" % (name, ", ".join(spec["choices"]), value))
        raise SourceOptionError("%s must be a string%s, not %r" % (
            name, " such as %s" % spec["example"] if spec.get("example") else "", value))
    return value.strip()


def _as_seconds(name, value):
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SourceOptionError("%s must be a number of seconds, not %r" % (name, value))
    if seconds < 0:
        raise SourceOptionError("%s must not be negative, not %r" % (name, value))
    return seconds


def _as_bool(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SourceOptionError("%s must be a boolean, not %r" % (name, value))


def _check_choices(name, values, spec):
    wrong = [v for v in values if v not in spec["choices"]]
    if not wrong:
        return
    if spec["type"] == "list":
        raise SourceOptionError("%s: unknown value(s) %s; valid %s: %s" % (
            name, ", ".join(wrong), name, ", ".join(spec["choices"])))
    raise SourceOptionError("%s must be one of %s, not %r" % (name, ", ".join(spec["choices"]), values[0]))


def parse_value(name, value, spec):
    """One argument checked and converted against its schema entry."""
    if _empty(value):
        return list(spec["empty"]) if "empty" in spec else (set() if spec.get("as_set") else spec.get("default"))
    kind = spec["type"]
    if kind == "list":
        value = _as_list(name, value)
    elif kind == "str":
        value = _as_str(name, value, spec)
    elif kind == "seconds":
        value = _as_seconds(name, value)
    elif kind == "bool":
        value = _as_bool(name, value)
    if _empty(value) or (spec.get("zero_is_default") and value == 0):
        return parse_value(name, None, spec)
    if spec.get("choices"):
        _check_choices(name, value if kind == "list" else [value], spec)
    return set(value) if spec.get("as_set") else value


def parse_options(args):
    """Check the source arguments; returns (options, auth). Raises SourceOptionError."""
    args = dict(args or {})
    # ansible-rulebook adds its own eda_* arguments (eda_feedback_queue...): not ours to check.
    unknown = sorted(k for k in args if k not in SCHEMA and k not in AUTH_SCHEMA and not k.startswith("eda_"))
    if unknown:
        raise SourceOptionError("unknown option(s) %s for %s; valid options: %s"
                                % (", ".join(unknown), SOURCE, ", ".join(list(SCHEMA) + sorted(AUTH_SCHEMA))))
    options = dict((name, parse_value(name, args.get(name), spec)) for name, spec in SCHEMA.items())
    auth = auth_from_env()
    for name, spec in AUTH_SCHEMA.items():
        value = parse_value(name, args.get(name), spec)
        if value is not None:
            auth[name] = value
    return options, auth
