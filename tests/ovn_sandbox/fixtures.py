"""pytest fixtures for the OVN sandbox (registered by tests/conftest.py as a plugin).

ovn_sandbox: one running sandbox per test module (hv1, hv2, hv3), stopped at module end even when
             tests fail.
ovn_tls_sandbox, ovn_raft_sandbox: the same with tls=True / clustered=True (module scope).
ovn_vm:      factory; ovn_vm(providers=("net1",), hv=None) makes a VM's Kube-OVN ports with a
             unique name in a unique namespace, optionally plugged in and bound on `hv`; returns
             {"namespace", "vm", "ports": [{"name", "mac", "ip"}]}. Its ports are unplugged and
             deleted after the test.
"""
import uuid

import pytest

from .sandbox import OvnSandbox


@pytest.fixture(scope="module")
def ovn_sandbox(tmp_path_factory):
    # OVS reaches unix sockets through /proc/self/fd when a path is too long, so any tmp dir works.
    sandbox = OvnSandbox(tmp_path_factory.mktemp("ovn"))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def ovn_tls_sandbox(tmp_path_factory):
    """Like ovn_sandbox, with NB and SB on ssl: only; `client_tls` holds the modules' key options."""
    with OvnSandbox(tmp_path_factory.mktemp("ovn-tls"), tls=True) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def ovn_raft_sandbox(tmp_path_factory):
    """Like ovn_sandbox, with NB and SB as 3-member RAFT clusters (remotes list all members)."""
    with OvnSandbox(tmp_path_factory.mktemp("ovn-raft"), clustered=True) as sandbox:
        yield sandbox


@pytest.fixture
def ovn_vm(ovn_sandbox):
    created = []

    def make(providers=(), switch="ovn-default", hv=None, namespace=None, vm=None):
        suffix = uuid.uuid4().hex[:6]
        namespace = namespace or "ns-" + suffix
        vm = vm or "vm-" + suffix
        ports = ovn_sandbox.create_vm(namespace, vm, providers=providers, switch=switch)
        created.extend(p["name"] for p in ports)
        if hv:
            chassis = ovn_sandbox.chassis_name(hv)
            for port in ports:
                ovn_sandbox.add_vm_port(hv, port["name"])
            for port in ports:
                ovn_sandbox.wait_for(lambda: (ovn_sandbox.port_binding(port["name"]) or {}).get("chassis") == chassis,
                                     what="%s bound on %s" % (port["name"], hv))
        return {"namespace": namespace, "vm": vm, "ports": ports}

    yield make
    for name in created:
        for hv in ovn_sandbox.hypervisors:
            ovn_sandbox.remove_vm_port(hv, name)
        ovn_sandbox.delete_lsp(name)
