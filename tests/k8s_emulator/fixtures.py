"""pytest fixtures: a fresh emulator per test, and a kubeconfig file pointing at it."""
import pytest

from .emulator import K8sEmulator


@pytest.fixture
def k8s_emulator():
    emulator = K8sEmulator(token="emulator-token").start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def kubeconfig(k8s_emulator, tmp_path):
    """Path of a kubeconfig (context "emulator", with the emulator's token)."""
    return str(k8s_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
