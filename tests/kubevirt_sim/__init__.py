"""A simulated KubeVirt (virt-controller + virt-handler) that drives VMIMs over the Kubernetes API."""
from .simulator import KubevirtSim

__all__ = ["KubevirtSim"]
