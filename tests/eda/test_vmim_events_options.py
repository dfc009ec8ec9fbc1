"""Bad source arguments end the source at once with a message that names the problem; nothing is
contacted (the host below does not exist)."""
import asyncio

import pytest

from source_run import load_source

SOURCE = load_source()
UNREACHABLE = {"host": "http://127.0.0.1:9", "api_key": "x"}


def start(args):
    return asyncio.run(asyncio.wait_for(SOURCE["main"](asyncio.Queue(), dict(UNREACHABLE, **args)), 5))


@pytest.mark.parametrize("args, fragments", [
    ({"phases": ["Runing"]}, ["phases", "Runing", "valid phases", "Succeeded"]),
    ({"phases": "Running,Done"}, ["Done"]),
    ({"namespace": "vms"}, ["unknown option", "namespace", "valid options", "namespaces"]),
    ({"heartbeat": "often"}, ["heartbeat", "number of seconds", "often"]),
    ({"heartbeat": -1}, ["heartbeat", "negative"]),
    ({"namespaces": {"a": 1}}, ["namespaces", "list of strings"]),
    ({"label_selector": ["a=b"]}, ["label_selector", "string"]),
    ({"validate_certs": "maybe"}, ["validate_certs", "boolean"]),
    ({"scope": "opted-in"}, ["scope", "all, opted_in", "opted-in"]),
    ({"scope": ["all"]}, ["scope", "all, opted_in"]),
    ({"migration_timeout": "10m"}, ["migration_timeout", "number of seconds", "10m"]),
    ({"migration_timeout": -5}, ["migration_timeout", "negative"]),
])
def test_bad_options_are_refused_with_a_clear_message(args, fragments):
    with pytest.raises(ValueError) as raised:
        start(args)
    assert type(raised.value).__name__ == "SourceOptionError"
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_a_missing_kubeconfig_ends_the_source_with_its_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(Exception) as raised:
        start({"host": None, "api_key": None, "kubeconfig": str(missing)})
    assert type(raised.value).__name__ == "KubernetesError"
    assert str(missing) in str(raised.value) and "no such file" in str(raised.value)


def test_rulebook_injected_arguments_are_accepted():
    options, auth = SOURCE["parse_options"]({"eda_feedback_queue": object(), "namespaces": "a, b",
                                             "phases": ["Running"], "validate_certs": "false"})
    assert options["namespaces"] == ["a", "b"] and options["phases"] == {"Running"}
    assert auth["validate_certs"] is False


def test_the_source_finds_its_collection_from_its_own_path(tmp_path):
    """As ansible-rulebook loads it in a decision environment: by path, from a collection tree,
    with no ANSIBLE_COLLECTIONS_PATH and nothing of the collection importable beforehand."""
    import os
    import subprocess
    import sys

    from source_run import SOURCE as PATH
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(("ANSIBLE_COLLECTIONS", "PYTHONPATH")))
    env["HOME"] = str(tmp_path)   # no ~/.ansible/collections either
    code = ("import runpy, sys; m = runpy.run_path(sys.argv[1]); "
            "print(m['connect'].__module__)")
    proc = subprocess.run([sys.executable, "-c", code, str(PATH)], env=env, capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client"


def test_scope_and_migration_timeout_defaults_and_values():
    options, _unused = SOURCE["parse_options"]({})
    assert (options["scope"], options["migration_timeout"]) == ("all", 0.0)
    # As a rulebook renders them from variables: strings, maybe empty.
    options, _unused = SOURCE["parse_options"]({"scope": "opted_in", "migration_timeout": "600"})
    assert (options["scope"], options["migration_timeout"]) == ("opted_in", 600.0)
    options, _unused = SOURCE["parse_options"]({"scope": "", "migration_timeout": ""})
    assert (options["scope"], options["migration_timeout"]) == ("all", 0.0)
