"""The three measured ways to prepare the migrating VM's ports, each in a fresh child process.

(a) module_utils: bench.nb_scale.prepare_once (the collection's client, connection included);
    its time is what that process measured around connect + prepare.
(b) ansible: `ansible localhost -m kubeovn.live_migration.ovn_lsp`, the whole command's wall time.
(c) ovn-nbctl: `ovn-nbctl set Logical_Switch_Port NAME options:...`, its wall time. `lsp-set-options`
    would replace the whole options map, which is not the same change; `set` with map keys keeps
    the other keys, as our mutate does.

Every method makes the same change: requested-chassis=SOURCE,TARGET and activation-strategy=rarp.
"""
import json
import sys

from .child import run_child
from .fill import NAMESPACE, PRIMARY_PORT, VM, VM_PORTS
from .paths import VENV_BIN

SOURCE = "node-a"
TARGET = "node-b"
SELECTORS = {
    "name": {"ports": [PRIMARY_PORT]},
    "vmi": {"vmi": VM, "namespace": NAMESPACE},
}
PORTS_OF = {"name": [PRIMARY_PORT], "vmi": list(VM_PORTS)}


class Sample(object):
    def __init__(self, size, method, selector, seconds, wall, maxrss_kb):
        self.size = size
        self.method = method
        self.selector = selector
        self.seconds = seconds      # the figure the table reports
        self.wall = wall            # the whole child process, interpreter start included
        self.maxrss_kb = maxrss_kb


def module_utils(remote, selector, env):
    argv = [sys.executable, "-m", "bench.nb_scale.prepare_once", "--remote", remote, "--source", SOURCE, "--target", TARGET]
    chosen = SELECTORS[selector]
    if "ports" in chosen:
        argv += ["--ports"] + chosen["ports"]
    else:
        argv += ["--vmi", chosen["vmi"], "--namespace", chosen["namespace"]]
    child = run_child(argv, env).check()
    report = json.loads(child.stdout.strip().splitlines()[-1])
    if not report["changed"] or sorted(report["ports"]) != sorted(PORTS_OF[selector]):
        raise RuntimeError("module_utils prepare did not change %s: %s" % (PORTS_OF[selector], report))
    return report["seconds"], child


def ansible(remote, selector, env):
    args = dict(SELECTORS[selector], ovn_nb_connection=remote, state="prepared", source_chassis=SOURCE,
                target_chassis=TARGET, verify_chassis=False)
    argv = [VENV_BIN / "ansible", "localhost", "-m", "kubeovn.live_migration.ovn_lsp", "-a", json.dumps(args)]
    child = run_child(argv, env).check()
    if "CHANGED" not in child.stdout:
        raise RuntimeError("ansible ovn_lsp did not report a change:\n" + child.stdout + child.stderr)
    return child.seconds, child


def nbctl(remote, selector, env):
    argv = ["ovn-nbctl", "--db=" + remote, "set", "Logical_Switch_Port", PRIMARY_PORT,
            'options:requested-chassis="%s,%s"' % (SOURCE, TARGET), "options:activation-strategy=rarp"]
    child = run_child(argv, env).check()
    return child.seconds, child


# (label, function, selectors); ovn-nbctl cannot select ports by external_ids and set them in one
# command, so it runs by name only.
METHODS = (
    ("(a) module_utils", module_utils, ("name", "vmi")),
    ("(b) ansible ovn_lsp", ansible, ("name", "vmi")),
    ("(c) ovn-nbctl set", nbctl, ("name",)),
)


def runs():
    """Every (method, selector) pair measured, in the order they run."""
    return [(method, selector) for selector in SELECTORS for method in METHODS if selector in method[2]]


def measure(size, method, selector, remote, env):
    label, func, _selectors = method
    seconds, child = func(remote, selector, env)
    return Sample(size, label, selector, seconds, child.seconds, child.maxrss_kb)
