"""The Kubernetes auth options over HTTPS, as AWX's Kubernetes credential and kubeconfigs use
them: host + api_key + ca_cert, a client certificate, validate_certs, and clean failures for a
certificate the CA did not sign or a missing CA file."""
import pytest

from ansible_run import assert_clean_failure, assert_ok, run_tasks
from k8s_emulator import K8sEmulator

NS = "vms"


@pytest.fixture(scope="module")
def https_emulator():
    emulator = K8sEmulator(token="https-token", tls=True).start()
    emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                     "metadata": {"name": "m1", "namespace": NS}, "spec": {"vmiName": "db-0"},
                     "status": {"phase": "Running"}})
    try:
        yield emulator
    finally:
        emulator.stop()


def test_https_auth_options(https_emulator, tmp_path):
    emu = https_emulator
    cert, key = emu.client_cert()
    base = {"namespace": NS, "name": "m1"}
    token_ca, client_certificate, no_verify, env_only = run_tasks([
        ("vmim_info", dict(base, host=emu.url, api_key="https-token", ca_cert=emu.ca_cert)),
        ("vmim_info", dict(base, host=emu.url, client_cert=cert, client_key=key, ca_cert=emu.ca_cert)),
        ("vmim_info", dict(base, host=emu.url, api_key="https-token", validate_certs=False)),
        ("vmim_info", base),
    ], env={"K8S_AUTH_HOST": emu.url, "K8S_AUTH_API_KEY": "https-token", "K8S_AUTH_SSL_CA_CERT": emu.ca_cert})
    for result in (token_ca, client_certificate, no_verify, env_only):
        assert [m["name"] for m in assert_ok(result)["migrations"]] == ["m1"]
    assert "https-token" not in token_ca["_output"]


def test_https_failures_are_clear(https_emulator, tmp_path):
    emu = https_emulator
    foreign = K8sEmulator(tls=True)   # another CA: never started, its CA file is all we need
    base = {"namespace": NS, "name": "m1", "host": emu.url, "api_key": "https-token"}
    wrong_ca, missing_ca, no_ca = run_tasks([
        ("vmim_info", dict(base, ca_cert=foreign.ca_cert)),
        ("vmim_info", dict(base, ca_cert=str(tmp_path / "nowhere.pem"))),
        ("vmim_info", dict(base, validate_certs=True)),
    ], env={"SSL_CERT_FILE": str(tmp_path / "no-system-cas.pem")})
    assert_clean_failure(wrong_ca, "certificate verify failed")
    assert_clean_failure(missing_ca, "nowhere.pem")
    assert_clean_failure(no_ca, "certificate verify failed")
