"""Where the repository, its venv and the collection are, so children find the same code."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
VENV_BIN = Path(sys.executable).parent


def collections_path():
    """The directory holding ansible_collections/kubeovn/live_migration (scripts/env.sh sets it)."""
    configured = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0]
    return Path(configured) if configured else ROOT / ".venv" / "collections"


def use_test_helpers():
    """tests/ on sys.path: the OVN sandbox's daemon helpers start and stop our ovsdb-server."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def use_collection():
    """The collection importable as ansible_collections.kubeovn.live_migration."""
    path = str(collections_path())
    if path not in sys.path:
        sys.path.insert(0, path)


def child_env(extra=None):
    """The environment of every measured child: the project's (scripts/env.sh) and no ovn-nbctl daemon."""
    env = dict(os.environ)
    env.pop("OVN_NB_DAEMON", None)
    env.pop("OVN_NB_DB", None)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path()),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra or {})
    return env
