"""Auth precedence, as kubernetes.core: host+api_key, else kubeconfig/context, else in-cluster,
else the default kubeconfig; explicit options override what was loaded."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402
import yaml  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.auth_options import auth_from_env  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import build_configuration  # noqa: E402


def kubeconfig_dict():
    def entry(name, server, token):
        return ({"name": name, "cluster": {"server": server}}, {"name": name, "user": {"token": token}},
                {"name": name, "context": {"cluster": name, "user": name}})
    one, two = entry("one", "https://one.example:6443", "token-one"), entry("two", "https://two.example:6443", "token-two")
    return {"apiVersion": "v1", "kind": "Config", "current-context": "one",
            "clusters": [one[0], two[0]], "users": [one[1], two[1]], "contexts": [one[2], two[2]]}


def bearer(configuration):
    return configuration.auth_settings()["BearerToken"]["value"]


@pytest.fixture
def no_ambient_config(monkeypatch, tmp_path):
    """No in-cluster service, no KUBECONFIG, an empty home: only what a test sets counts."""
    for name in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def kubeconfig_file(no_ambient_config):
    path = no_ambient_config / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig_dict()))
    return str(path)


def test_host_and_api_key_load_nothing_else(no_ambient_config):
    cfg = build_configuration({"host": "https://explicit.example:6443/", "api_key": "tok",
                               "kubeconfig": str(no_ambient_config / "does-not-exist")})
    assert cfg.host == "https://explicit.example:6443"
    assert bearer(cfg) == "Bearer tok"


def test_kubeconfig_path_uses_its_current_context(kubeconfig_file):
    cfg = build_configuration({"kubeconfig": kubeconfig_file})
    assert cfg.host == "https://one.example:6443"
    assert bearer(cfg) == "Bearer token-one"


def test_context_selects_another_context(kubeconfig_file):
    cfg = build_configuration({"kubeconfig": kubeconfig_file, "context": "two"})
    assert (cfg.host, bearer(cfg)) == ("https://two.example:6443", "Bearer token-two")


def test_kubeconfig_as_a_dict(no_ambient_config):
    cfg = build_configuration({"kubeconfig": kubeconfig_dict(), "context": "two"})
    assert cfg.host == "https://two.example:6443"


def test_explicit_options_override_the_kubeconfig(kubeconfig_file, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = build_configuration({"kubeconfig": kubeconfig_file, "host": "https://override:6443",
                               "api_key": None, "validate_certs": False, "ca_cert": str(ca), "proxy": "http://proxy:3128"})
    assert bearer(cfg) == "Bearer token-one"  # host alone does not replace the kubeconfig's credentials
    # Checked after bearer(): the kubeconfig's token refresh hook must not undo the overrides.
    assert cfg.host == "https://override:6443"
    assert cfg.verify_ssl is False and cfg.ssl_ca_cert == str(ca) and cfg.proxy == "http://proxy:3128"


def test_api_key_overrides_the_kubeconfig_token(kubeconfig_file):
    cfg = build_configuration({"kubeconfig": kubeconfig_file, "api_key": "mine"})
    assert (cfg.host, bearer(cfg)) == ("https://one.example:6443", "Bearer mine")


def test_without_options_kubeconfig_env_is_used(no_ambient_config, monkeypatch, kubeconfig_file):
    monkeypatch.setenv("KUBECONFIG", kubeconfig_file)
    cfg = build_configuration({})
    assert cfg.host == "https://one.example:6443"


def test_without_options_home_kube_config_is_used(no_ambient_config, kubeconfig_file):
    home_config = no_ambient_config / "home" / ".kube" / "config"
    home_config.parent.mkdir(parents=True)
    home_config.write_text(Path(kubeconfig_file).read_text())
    cfg = build_configuration({"context": None})
    assert cfg.host == "https://one.example:6443"


def test_without_any_configuration_the_message_says_what_to_set(no_ambient_config):
    with pytest.raises(KubernetesError) as info:
        build_configuration({})
    assert "no Kubernetes configuration found" in info.value.msg
    assert "kubeconfig" in info.value.msg and "api_key" in info.value.msg


def test_missing_kubeconfig_file(no_ambient_config):
    with pytest.raises(KubernetesError) as info:
        build_configuration({"kubeconfig": str(no_ambient_config / "nope")})
    assert "no such file" in info.value.msg and "nope" in info.value.msg


def test_malformed_kubeconfig(no_ambient_config):
    path = no_ambient_config / "bad"
    path.write_text("clusters: [\n")
    with pytest.raises(KubernetesError) as info:
        build_configuration({"kubeconfig": str(path)})
    assert "cannot load kubeconfig " + str(path) in info.value.msg


def test_unknown_context(kubeconfig_file):
    with pytest.raises(KubernetesError) as info:
        build_configuration({"kubeconfig": kubeconfig_file, "context": "three"})
    assert "three" in info.value.msg


def test_env_fallbacks_accept_both_spellings():
    env = {"K8S_AUTH_HOST": "https://h", "K8S_AUTH_API_KEY": "k", "K8S_AUTH_VERIFY_SSL": "False",
           "K8S_AUTH_SSL_CA_CERT": "/ca", "K8S_AUTH_CLIENT_CERT": "/c", "K8S_AUTH_KEY_FILE": "/k"}
    assert auth_from_env(env) == {"host": "https://h", "api_key": "k", "validate_certs": False,
                                  "ca_cert": "/ca", "client_cert": "/c", "client_key": "/k"}
    assert auth_from_env({"K8S_AUTH_VALIDATE_CERTS": "yes", "K8S_AUTH_VERIFY_SSL": "no"}) == {"validate_certs": True}
