"""Each Kubernetes auth mode over HTTPS against the emulator, with extensions/awx/rbac.yml enforced:
token + CA, client certificate (host + cert + key alone: no kubeconfig is read), basic auth, a
kubeconfig with exec-less contexts (file and dict), impersonation (the emulator sees the headers and
authorizes the impersonated ServiceAccount), and the report playbook run unchanged first with
playbook variables, then with AWX's Kubernetes credential variables (K8S_AUTH_*)."""
from pathlib import Path

import pytest
import yaml

from ansible_run import assert_clean_failure, assert_ok, run_playbook, run_tasks
from k8s_emulator import K8sEmulator
from k8s_emulator.emulator import OPERATORS_GROUP as OPERATORS, impersonator_policy
from eda.objects import in_flight

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = "system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration"
BROAD = "system:serviceaccount:awx:job-runner"
NS = "vms"


def binding(kind, name):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "test-" + name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeovn-live-migration:playbooks"},
            "subjects": [{"kind": kind, "name": name}]}


# AWX's identity may only act as the collection's ServiceAccount (and the operators group).
IMPERSONATOR = impersonator_policy({"kind": "ServiceAccount", "name": "job-runner", "namespace": "awx"})


@pytest.fixture(scope="module")
def emulator():
    emu = K8sEmulator(tls=True, tokens={"sa-token": PLAYBOOKS, "broad-token": BROAD},
                      basic_users={"alice": "alice-pw"}).start()
    emu.enforce_rbac(ROOT / "extensions" / "awx" / "rbac.yml", binding("User", "klm-operator"),
                     binding("User", "alice"), *IMPERSONATOR)
    in_flight(emu, NS, "db-0", "db-0-m1")
    try:
        yield emu
    finally:
        emu.stop()


def write_kubeconfig(emu, path, cert, key):
    """Contexts without exec or auth-provider: a token one and a client-certificate one."""
    cluster = {"server": emu.url, "certificate-authority": emu.ca_cert}
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "token",
        "clusters": [{"name": "emu", "cluster": cluster}],
        "users": [{"name": "sa", "user": {"token": "sa-token"}},
                  {"name": "operator", "user": {"client-certificate": cert, "client-key": key}}],
        "contexts": [{"name": "token", "context": {"cluster": "emu", "user": "sa"}},
                     {"name": "cert", "context": {"cluster": "emu", "user": "operator"}}]}
    path.write_text(yaml.safe_dump(config))
    return config


def test_each_auth_mode_over_https(emulator, tmp_path):
    emu = emulator
    cert, key = emu.client_cert("klm-operator", OPERATORS)
    kubeconfig = tmp_path / "kubeconfig"
    config = write_kubeconfig(emu, kubeconfig, cert, key)
    # An operator's default kubeconfig with a token: a host + client certificate call must not send it.
    ambient = tmp_path / "ambient"
    ambient.write_text(yaml.safe_dump(dict(config, users=[{"name": "sa", "user": {"token": "ambient-token"}},
                                                          config["users"][1]])))
    base = {"namespace": NS, "name": "db-0-m1"}
    https = {"host": emu.url, "ca_cert": emu.ca_cert}
    modes = {
        "token + CA": dict(base, api_key="sa-token", **https),
        "client certificate": dict(base, client_cert=cert, client_key=key, **https),
        "basic auth": dict(base, username="alice", password="alice-pw", **https),
        "kubeconfig token context": dict(base, kubeconfig=str(kubeconfig)),
        "kubeconfig cert context": dict(base, kubeconfig=str(kubeconfig), context="cert"),
        "kubeconfig dict": dict(base, kubeconfig=config, context="cert"),
        "impersonation": dict(base, api_key="broad-token", impersonate_user=PLAYBOOKS,
                              impersonate_groups=[OPERATORS], **https),
    }
    refused = {
        "impersonating another user": dict(base, api_key="broad-token", impersonate_user="system:admin", **https),
        "the broad identity itself": dict(base, api_key="broad-token", **https),
    }
    results = run_tasks([("vmim_info", args) for args in list(modes.values()) + list(refused.values())],
                        env={"KUBECONFIG": str(ambient)})
    for mode, result in zip(list(modes) + list(refused), results):
        if mode in modes:
            assert [m["name"] for m in assert_ok(result)["migrations"]] == ["db-0-m1"], mode
    assert_clean_failure(results[len(modes)], "forbidden")
    assert_clean_failure(results[len(modes) + 1], "forbidden", "list", "virtualmachineinstancemigrations", BROAD)
    users = {r[0] for r in emu.requests if r[-1]}
    assert users == {PLAYBOOKS, "klm-operator", "alice"}            # the broad identity never got through
    assert (PLAYBOOKS, (OPERATORS,)) in emu.impersonations          # the headers reached the API server
    assert "ambient-token" not in str(results)


def test_the_report_playbook_with_awx_credential_variables(emulator):
    emu = emulator
    before = len(emu.requests)
    as_vars = run_playbook("kubeovn.live_migration.report", extra_vars={
        "namespace": NS, "k8s_host": emu.url, "k8s_api_key": "sa-token", "k8s_ca_cert": emu.ca_cert})
    # AWX's Kubernetes credential injects exactly these four variables.
    as_awx = run_playbook("kubeovn.live_migration.report", extra_vars={"namespace": NS}, env={
        "K8S_AUTH_HOST": emu.url, "K8S_AUTH_API_KEY": "sa-token", "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": emu.ca_cert})
    for run in (as_vars, as_awx):
        assert run.rc == 0, run.output
        assert "db-0" in run.output and "no times" not in run.output
        assert "sa-token" not in run.output
    mine = emu.requests[before:]
    assert mine and all(r[-1] and r[0] == PLAYBOOKS for r in mine)
