"""The OVN CA option is ovn_ca_cert (apart from the k8s group's ca_cert, the API server's CA); the
old name ca_cert still connects, with a deprecation. Real ssl: remotes of the OVN sandbox."""
import pytest

from ansible_run import assert_ok, run_tasks


@pytest.fixture(scope="module")
def tls_args(ovn_tls_sandbox):
    args = ovn_tls_sandbox.module_args()
    ca = args.pop("ovn_ca_cert")
    return args, ca


def deprecated_names(result):
    return [d.get("msg", "") for d in result.get("deprecations", [])]


def test_ovn_ca_cert_connects_and_ca_cert_is_a_deprecated_alias(tls_args):
    args, ca = tls_args
    new, old = run_tasks([
        ("ovn_lsp_info", dict(args, ovn_ca_cert=ca, only_migrating=True)),
        ("ovn_lsp_info", dict(args, ca_cert=ca, only_migrating=True)),
    ])
    assert_ok(new)
    assert_ok(old)
    assert new["ports"] == old["ports"] == []
    assert deprecated_names(new) == []
    assert any("ca_cert" in msg for msg in deprecated_names(old)), old.get("deprecations")


def test_a_wrong_ovn_ca_cert_is_refused(tls_args):
    args = tls_args[0]
    (result,) = run_tasks([("ovn_lsp_info", dict(args, ovn_ca_cert=args["certificate"], only_migrating=True))])
    assert result.get("failed") and "ovn_ca_cert" in result["msg"], result.get("msg")
