"""A simulated KubeVirt (virt-controller + virt-handler) that drives VMIMs over the Kubernetes API."""
try:
    from .simulator import KubevirtSim
except ImportError:  # pragma: no cover - the simulator module is being written
    KubevirtSim = None

__all__ = ["KubevirtSim"]
