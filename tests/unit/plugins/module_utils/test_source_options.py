"""The EDA source's arguments, checked from one schema (module_utils/k8s/source_options.py), and the
schema matches the options the source documents."""
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.reassert import WATCH_SCHEMA  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.source_options import (  # noqa: E402
    AUTH_SCHEMA, SCHEMA, SourceOptionError, parse_options,
)


def test_defaults():
    options, _unused = parse_options({})
    assert options == {"namespaces": [None], "label_selector": None, "phases": set(), "scope": "all",
                       "migration_timeout": 0.0, "prepare_batch_window": 2.0, "heartbeat": 0.0,
                       "replay_ended_within": 300.0, "retry_max_delay": 5.0}


def test_values_as_a_rulebook_renders_them():
    options, auth = parse_options({"namespaces": "a, b", "phases": ["Running"], "scope": " opted_in ",
                                   "migration_timeout": "600", "label_selector": "", "retry_max_delay": 0,
                                   "validate_certs": "false", "host": "https://api:6443", "eda_feedback_queue": object()})
    assert (options["namespaces"], options["phases"], options["scope"], options["migration_timeout"]) == (
        ["a", "b"], {"Running"}, "opted_in", 600.0)
    assert (options["label_selector"], options["retry_max_delay"]) == (None, 5.0)
    assert (auth["validate_certs"], auth["host"]) == (False, "https://api:6443")


def test_batching_is_on_unless_turned_off():
    # The rulebook passes "" when its variable is not set: the source's default (adaptive batching).
    assert parse_options({"prepare_batch_window": ""})[0]["prepare_batch_window"] == 2.0
    assert parse_options({"prepare_batch_window": "0"})[0]["prepare_batch_window"] == 0.0
    assert parse_options({"prepare_batch_window": 0.5})[0]["prepare_batch_window"] == 0.5


def test_explicit_auth_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("K8S_AUTH_HOST", "https://env:6443")
    monkeypatch.setenv("K8S_AUTH_VERIFY_SSL", "no")
    assert parse_options({})[1]["host"] == "https://env:6443"
    _unused, auth = parse_options({"host": "https://arg:6443", "validate_certs": True})
    assert (auth["host"], auth["validate_certs"]) == ("https://arg:6443", True)


@pytest.mark.parametrize("args, fragments", [
    ({"phases": ["Runing"]}, ["phases", "Runing", "valid phases", "Succeeded"]),
    ({"namespace": "vms"}, ["unknown option", "namespace", "valid options", "namespaces", "kubeconfig"]),
    ({"heartbeat": "often"}, ["heartbeat", "number of seconds", "often"]),
    ({"replay_ended_within": -1}, ["replay_ended_within", "negative"]),
    ({"namespaces": {"a": 1}}, ["namespaces", "list of strings"]),
    ({"label_selector": ["a=b"]}, ["label_selector", "string such as"]),
    ({"persist_config": "maybe"}, ["persist_config", "boolean"]),
    ({"scope": "opted-in"}, ["scope", "all, opted_in", "opted-in"]),
    ({"scope": ["all"]}, ["scope", "all, opted_in"]),
])
def test_wrong_values_name_the_option(args, fragments):
    with pytest.raises(SourceOptionError) as raised:
        parse_options(args)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_the_schema_is_what_the_source_documents():
    source = (ROOT / "extensions" / "eda" / "plugins" / "event_source" / "vmim_events.py").read_text()
    documented = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])["options"]
    # The NB watcher's options (re-assert) have their schema in module_utils/k8s/reassert.py.
    assert set(documented) == set(SCHEMA) | set(AUTH_SCHEMA) | set(WATCH_SCHEMA)
    for name, spec in SCHEMA.items():
        doc = documented[name]
        if "choices" in doc:
            assert doc["choices"] == list(spec["choices"]), name
        if "default" in doc:
            assert doc["default"] == spec["default"], name
