"""The one auth table (k8s/auth_options.py): the doc fragment, the argspec and the K8S_AUTH_*
fallbacks all come from it; kubernetes.core's names and variables; the precedence rule that keeps
a kubeconfig's token from reaching a host named with a client certificate; the secrets it names."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / ".venv" / "collections"))

import pytest  # noqa: E402
import yaml  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.doc_fragments.k8s_auth import ModuleDocFragment  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.argspec import K8S_AUTH_ARGSPEC  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.auth_options import (  # noqa: E402
    AUTH_OPTIONS, auth_from_env, credential_source, doc_fragment_options, pairing_error, secret_values,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import (  # noqa: E402
    build_configuration, impersonation_headers,
)

# kubernetes.core's option -> kubernetes client Configuration attribute: its second variable's name.
CLIENT_ATTRS = {"validate_certs": "verify_ssl", "ca_cert": "ssl_ca_cert", "client_cert": "cert_file",
                "client_key": "key_file"}


def test_the_doc_fragment_is_the_table():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    expected = doc_fragment_options()
    assert documented == expected, "regenerate plugins/doc_fragments/k8s_auth.py options from:\n" + yaml.safe_dump(
        {"options": expected}, sort_keys=False, width=110)


def test_the_argspec_is_the_table():
    assert set(K8S_AUTH_ARGSPEC) == set(AUTH_OPTIONS)
    for name, spec in AUTH_OPTIONS.items():
        arg = K8S_AUTH_ARGSPEC[name]
        assert arg["type"] == spec["type"]
        assert arg["no_log"] is bool(spec.get("no_log"))
        assert arg.get("aliases", []) == list(spec.get("aliases", ()))
        assert list(arg.get("fallback", (None, []))[1]) == list(spec.get("env", ()))
    headers = K8S_AUTH_ARGSPEC["proxy_headers"]["options"]
    assert (headers["proxy_basic_auth"]["no_log"], headers["basic_auth"]["no_log"], headers["user_agent"]["no_log"]) \
        == (True, True, False)


def test_kubernetes_core_names_and_variables():
    assert list(AUTH_OPTIONS) == [
        "kubeconfig", "context", "host", "api_key", "username", "password", "validate_certs", "ca_cert",
        "client_cert", "client_key", "proxy", "no_proxy", "proxy_headers", "persist_config",
        "impersonate_user", "impersonate_groups"]
    for name, spec in AUTH_OPTIONS.items():
        expected = ["K8S_AUTH_" + name.upper()] + (["K8S_AUTH_" + CLIENT_ATTRS[name].upper()] if name in CLIENT_ATTRS else [])
        if name != "proxy_headers":
            assert list(spec["env"]) == expected, name
    for sub, spec in AUTH_OPTIONS["proxy_headers"]["suboptions"].items():
        assert spec["env"] == ("K8S_AUTH_PROXY_HEADERS_" + sub.upper(),)
    assert {n: AUTH_OPTIONS[n].get("aliases") for n in CLIENT_ATTRS} == {n: (a,) for n, a in CLIENT_ATTRS.items()}
    secret = sorted(n for n, s in AUTH_OPTIONS.items() if s.get("no_log"))
    assert secret == ["api_key", "password"]


def test_variables_read_as_kubernetes_core_does():
    env = {"K8S_AUTH_HOST": "https://h", "K8S_AUTH_VERIFY_SSL": "No", "K8S_AUTH_PERSIST_CONFIG": "off",
           "K8S_AUTH_IMPERSONATE_GROUPS": "g1, g2,", "K8S_AUTH_IMPERSONATE_USER": "u",
           "K8S_AUTH_PROXY_HEADERS_USER_AGENT": "ua/1", "K8S_AUTH_NO_PROXY": "localhost,10.0.0.0/8",
           "K8S_AUTH_CERT_FILE": "/c", "K8S_AUTH_CLIENT_CERT": "/first"}
    assert auth_from_env(env) == {
        "host": "https://h", "validate_certs": False, "persist_config": True,   # only 0/false/no are false
        "impersonate_groups": ["g1", "g2"], "impersonate_user": "u", "proxy_headers": {"user_agent": "ua/1"},
        "no_proxy": "localhost,10.0.0.0/8", "client_cert": "/first"}


@pytest.mark.parametrize("auth, source", [
    ({"host": "h", "api_key": "t"}, "explicit"),
    ({"host": "h", "username": "u", "password": "p"}, "explicit"),
    ({"host": "h", "client_cert": "c", "client_key": "k"}, "explicit"),
    ({"host": "h", "client_cert": "c", "client_key": "k", "kubeconfig": "/kc"}, "explicit"),
    ({"host": "h", "api_key": "", "context": "x"}, "kubeconfig"),
    ({"kubeconfig": {"a": 1}}, "kubeconfig"),
    ({"host": "h"}, "ambient"),
    ({"proxy_headers": {"user_agent": None}}, "ambient"),
])
def test_credential_source(auth, source):
    assert credential_source(auth) == source


@pytest.mark.parametrize("auth, fragment", [
    ({"host": "h", "client_cert": "c"}, "client_cert needs client_key"),
    ({"client_key": "k"}, "client_key needs client_cert"),
    ({"password": "p"}, "password needs username"),
    ({"impersonate_groups": ["g"]}, "impersonate_groups needs impersonate_user"),
])
def test_half_pairs_are_refused(auth, fragment):
    assert fragment in pairing_error(auth)
    with pytest.raises(KubernetesError) as raised:
        build_configuration(auth)
    assert fragment in raised.value.msg


def test_secret_values_cover_derived_values():
    auth = {"api_key": "tok-secret", "username": "alice", "password": "pw-secret",
            "kubeconfig": {"users": [{"user": {"token": "kc-secret", "client-key-data": "a2V5"}}]},
            "proxy": "http://bob:proxy-secret@proxy:3128",
            "proxy_headers": {"proxy_basic_auth": "bob:ph-secret", "user_agent": "ua/1"}}
    secrets = secret_values(auth)
    assert {"tok-secret", "Bearer tok-secret", "pw-secret", "kc-secret", "proxy-secret", "bob:ph-secret",
            "YWxpY2U6cHctc2VjcmV0"} <= secrets      # base64 of alice:pw-secret, the header's value
    assert "ua/1" not in secrets and "a2V5" in secrets
    assert secret_values({"kubeconfig": "/path/kc"}) == set()


@pytest.fixture
def ambient_token(monkeypatch, tmp_path):
    """A default kubeconfig with a token, as on an operator's laptop: it must not be used."""
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://ambient:6443"}}],
        "users": [{"name": "c", "user": {"token": "ambient-token"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "c"}}]}))
    for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return tmp_path


def test_host_with_a_client_certificate_loads_no_kubeconfig(ambient_token):
    cert, key = ambient_token / "c.crt", ambient_token / "c.key"
    cert.write_text("x")
    key.write_text("x")
    cfg = build_configuration({"host": "https://named:6443", "client_cert": str(cert), "client_key": str(key)})
    assert (cfg.host, cfg.cert_file, cfg.key_file) == ("https://named:6443", str(cert), str(key))
    assert cfg.auth_settings() == {}
    # host alone keeps kubernetes.core's rule: the default kubeconfig is loaded, host overrides its server
    assert build_configuration({"host": "https://named:6443"}).auth_settings()["BearerToken"]["value"] \
        == "Bearer ambient-token"


def test_basic_auth_proxy_and_impersonation(ambient_token):
    cfg = build_configuration({"host": "https://h:6443", "username": "alice", "password": "pw", "proxy": "http://p:3128",
                               "no_proxy": "h", "proxy_headers": {"proxy_basic_auth": "bob:x", "user_agent": None}})
    assert cfg.auth_settings()["BearerToken"]["value"] == "Basic YWxpY2U6cHc="
    assert (cfg.proxy, cfg.no_proxy, cfg.proxy_headers) == ("http://p:3128", "h", {"proxy-authorization": "Basic Ym9iOng="})
    assert impersonation_headers({"impersonate_user": "u", "impersonate_groups": ["a", "b"]}) == [
        ("Impersonate-User", "u"), ("Impersonate-Group", "a"), ("Impersonate-Group", "b")]


def test_messages_never_carry_a_secret(ambient_token):
    with pytest.raises(KubernetesError) as raised:
        build_configuration({"kubeconfig": {"apiVersion": "v1", "users": [{"name": "x", "user": {"token": "kc-secret"}}],
                                            "current-context": "kc-secret"}})
    assert "kc-secret" not in raised.value.msg
