# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-VM control of the collection: opt in, opt out, and a migration timeout, by annotation.

The annotations are read from the VirtualMachineInstance. KubeVirt copies a VirtualMachine's
`spec.template.metadata.annotations` onto each VMI it starts, so setting them in the VM template
makes them survive restarts, but a running VMI only gets them when annotated directly (KubeVirt
does not push template changes to a running VMI): the VMI's annotations are the source of truth.

    live-migration.kubeovn.io/enabled: "true" | "false"    opt in / opt out
    live-migration.kubeovn.io/timeout: "<seconds>"         bound on one migration, a positive integer

A value that cannot be read is reported (annotation_errors) and never guessed at: a bad `enabled`
value counts as opted out (the VM's owner asked for something, we cannot tell what, so we leave it
alone), a bad `timeout` value as no timeout annotation (the cluster-wide default applies).

Pure functions over the API server's JSON: no I/O, no Ansible.
"""

ANNOTATION_PREFIX = "live-migration.kubeovn.io/"
ENABLED_ANNOTATION = ANNOTATION_PREFIX + "enabled"
TIMEOUT_ANNOTATION = ANNOTATION_PREFIX + "timeout"

OPT_IN, OPT_OUT, OPT_UNSET = "in", "out", ""
# "all": act on every VM unless it opted out; "opted_in": act only on VMs that opted in.
SCOPES = ("all", "opted_in")


def _annotations(vmi):
    return (((vmi or {}).get("metadata") or {}).get("annotations")) or {}


def _ref(vmi):
    meta = (vmi or {}).get("metadata") or {}
    return "%s/%s" % (meta.get("namespace") or "-", meta.get("name") or "-")


def _read_enabled(vmi):
    """(opt, error or None)."""
    annotations = _annotations(vmi)
    if ENABLED_ANNOTATION not in annotations:
        return OPT_UNSET, None
    value = annotations[ENABLED_ANNOTATION]
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "true":
        return OPT_IN, None
    if text == "false":
        return OPT_OUT, None
    return OPT_OUT, ('annotation %s on VMI %s is %s, not "true" or "false": the VM is treated as opted out'
                     % (ENABLED_ANNOTATION, _ref(vmi), _show(value)))


def _read_timeout(vmi):
    """(seconds or None, error or None)."""
    annotations = _annotations(vmi)
    if TIMEOUT_ANNOTATION not in annotations:
        return None, None
    value = annotations[TIMEOUT_ANNOTATION]
    seconds = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    if seconds is not None and seconds > 0:
        return seconds, None
    return None, ('annotation %s on VMI %s is %s, not a positive whole number of seconds (such as "300"): '
                  'it is ignored and the default timeout applies' % (TIMEOUT_ANNOTATION, _ref(vmi), _show(value)))


def _show(value):
    return '"%s"' % value if isinstance(value, str) else repr(value)


def network_opt(vmi):
    """"in", "out", or "" when the VMI does not say (or does not exist)."""
    return _read_enabled(vmi)[0]


def migration_timeout(vmi):
    """The VMI's own migration timeout in seconds, or None (not annotated, or a bad value)."""
    return _read_timeout(vmi)[0]


def annotation_errors(vmi):
    """Messages for the annotations of ours whose value cannot be read, naming annotation and value."""
    return [err for err in (_read_enabled(vmi)[1], _read_timeout(vmi)[1]) if err]


def scope_error(scope):
    """A message if `scope` is not a valid scope, else None."""
    if scope in SCOPES:
        return None
    return "scope must be one of %s, not %s" % (", ".join(SCOPES), _show(scope))


def in_scope(opt, scope):
    """Whether the collection may act on a VM with this opt under this scope."""
    error = scope_error(scope)
    if error:
        raise ValueError(error)
    if opt == OPT_OUT:
        return False
    return scope == "all" or opt == OPT_IN


def effective_timeout(vmi, default=None):
    """The VMI's timeout annotation, else `default` (a positive number), else None."""
    own = migration_timeout(vmi)
    if own is not None:
        return own
    return default if default and default > 0 else None
