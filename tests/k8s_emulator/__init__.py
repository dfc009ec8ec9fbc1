"""A stateful Kubernetes API emulator over real HTTP, for tests and demos (see emulator.py)."""
from .emulator import K8sEmulator

__all__ = ["K8sEmulator"]
