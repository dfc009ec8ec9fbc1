"""The playbooks' k8s_<option> variables (playbooks/vars/live_migration.yml): one for each of the
modules' auth options, and the newer ones work end to end. The report playbook, run as an operator
would (extra vars, no K8S_AUTH_*), authenticates with k8s_username / k8s_password, acts as the
playbooks' ServiceAccount through k8s_impersonate_user / k8s_impersonate_groups (the emulator sees
the headers and authorizes by extensions/awx/rbac.yml), and reaches the API server directly through
k8s_no_proxy although k8s_proxy names a proxy that is not there."""
import importlib.util
import socket
from pathlib import Path

import yaml

from ansible_run import run_playbook
from eda.objects import in_flight
from k8s_emulator import K8sEmulator
from k8s_emulator.emulator import OPERATORS_GROUP as OPERATORS, PLAYBOOKS_USER, RBAC_MANIFEST, impersonator_policy

ROOT = Path(__file__).resolve().parents[2]
# The options table (standard library only), read from the file as the EDA source reads it.
_SPEC = importlib.util.spec_from_file_location(
    "klm_auth_options", ROOT / "plugins" / "module_utils" / "k8s" / "auth_options.py")
_TABLE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_TABLE)
AUTH_OPTIONS = _TABLE.AUTH_OPTIONS
VARS = ROOT / "playbooks" / "vars" / "live_migration.yml"
NS = "vms"

# alice (basic auth) may act as the playbooks' ServiceAccount and the operators group, nothing else.
IMPERSONATOR = impersonator_policy({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"})


def test_every_auth_option_has_its_playbook_variable():
    defaults = yaml.safe_load(VARS.read_text())["klm_k8s_defaults"]
    assert set(defaults) == set(AUTH_OPTIONS)
    for option, value in defaults.items():
        assert value == "{{ k8s_%s | default(omit) }}" % option, option


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_basic_auth_impersonation_and_no_proxy_as_playbook_variables():
    emu = K8sEmulator(basic_users={"alice": "alice-pw"}).start()
    try:
        emu.enforce_rbac(RBAC_MANIFEST, *IMPERSONATOR)
        in_flight(emu, NS, "db-0", "db-0-m1")
        run = run_playbook("kubeovn.live_migration.report", extra_vars={
            "namespace": NS, "k8s_host": emu.url, "k8s_username": "alice", "k8s_password": "alice-pw",
            "k8s_impersonate_user": PLAYBOOKS_USER, "k8s_impersonate_groups": [OPERATORS],
            "k8s_proxy": "http://127.0.0.1:%d" % _closed_port(), "k8s_no_proxy": "localhost,127.0.0.1",
            "k8s_proxy_headers": {"proxy_basic_auth": "bob:proxy-pw", "user_agent": "klm-test/1"}})
    finally:
        emu.stop()
    assert run.rc == 0, run.output
    assert "db-0" in run.output and "no times" not in run.output
    assert "alice-pw" not in run.output and "proxy-pw" not in run.output
    assert emu.requests and all(r[0] == PLAYBOOKS_USER and r[-1] for r in emu.requests)
    assert set(emu.impersonations) == {(PLAYBOOKS_USER, (OPERATORS,))}
    assert not emu.forbidden
