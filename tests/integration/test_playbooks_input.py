"""The playbooks and roles refuse bad input with a clear message, before touching anything.

Each run points the OVN and Kubernetes connections at closed local ports: a playbook that got
past its input checks would fail on a connection error instead, so the message assertions
below also prove that nothing was contacted (and so nothing written)."""
import socket

import pytest

from ansible_run import run_playbook


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable():
    port = _closed_port()
    return {"OVN_NB_DB": "tcp:127.0.0.1:%d" % port, "OVN_SB_DB": "tcp:127.0.0.1:%d" % port,
            "K8S_AUTH_HOST": "http://127.0.0.1:%d" % port, "K8S_AUTH_API_KEY": "not-a-token"}


def _failure(run):
    assert run.rc != 0, run.output
    assert "Traceback" not in run.output, run.output
    assert "Cannot use the" not in run.output and "127.0.0.1" not in run.output, run.output
    return run.output


@pytest.mark.parametrize("playbook, extra_vars, message", [
    ("live_migrate", {}, "live_migrate needs -e vmi=NAME -e namespace=NAMESPACE"),
    ("live_migrate", {"vmi": "vm1"}, "live_migrate needs -e vmi=NAME -e namespace=NAMESPACE"),
    ("prepare", {"vmi": "vm1"}, "prepare: set prepare_namespace and one of prepare_vmi, prepare_vmim"),
    ("cutover", {"namespace": "ns1"}, "cutover: set cutover_namespace and one of cutover_vmi, cutover_vmim"),
    ("cleanup", {}, "cleanup: set cleanup_namespace and one of cleanup_vmi, cleanup_vmim"),
])
def test_missing_fields_fail_with_a_clear_message(unreachable, playbook, extra_vars, message):
    run = run_playbook("kubeovn.live_migration." + playbook, extra_vars, env=unreachable)
    assert message in _failure(run)


def test_role_argument_spec_rejects_a_bad_choice(unreachable, tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: kubeovn.live_migration.prepare\n"
        "      vars: {prepare_namespace: ns1, prepare_vmi: vm1, prepare_wait: always}\n")
    output = _failure(run_playbook(play, env=unreachable))
    assert "prepare_wait" in output and "always" in output


def test_migrate_role_requires_its_vmi(unreachable, tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n"
        "    - role: kubeovn.live_migration.migrate\n      vars: {migrate_namespace: ns1}\n")
    output = _failure(run_playbook(play, env=unreachable))
    assert "migrate_vmi" in output


def test_event_fields_from_ansible_rulebook_are_used(unreachable):
    """run_playbook from ansible-rulebook passes the event as ansible_eda.event: the playbook
    takes vmi/namespace from there, gets past its input check and asks the (closed) API."""
    event = {"vmim": "vm1-migration-abcde", "vmim_uid": "u-1", "vmi": "vm1", "namespace": "ns1", "phase": "Scheduled"}
    run = run_playbook("kubeovn.live_migration.prepare", {"ansible_eda": {"event": event}}, env=unreachable)
    assert run.rc != 0
    assert "set prepare_namespace" not in run.output
    assert "Traceback" not in run.output
    assert unreachable["K8S_AUTH_HOST"].split("//")[1] in run.output, run.output
