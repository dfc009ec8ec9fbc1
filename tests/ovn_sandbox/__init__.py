"""A real OVN environment in user space for the tests, the demos and molecule.

    from ovn_sandbox import OvnSandbox, packets
    with OvnSandbox(workdir, hypervisors=("hv1", "hv2", "hv3")) as sb:
        vm = sb.create_vm("ns1", "vm1", providers=("net1",))
        sb.add_vm_port("hv1", vm[0]["name"])

See docs in sandbox.py (life cycle, ctl commands), vifs.py (ports, packets, Port_Binding),
kubeovn.py (Kube-OVN style switch and VM ports), fixtures.py (pytest) and __main__.py (CLI).
"""
from . import packets
from .daemons import SandboxError
from .sandbox import OvnSandbox

__all__ = ["OvnSandbox", "SandboxError", "packets"]
