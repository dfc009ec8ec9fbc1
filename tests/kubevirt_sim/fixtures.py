"""pytest fixture: a simulated KubeVirt driving VMIMs on the function's Kubernetes emulator."""
import pytest


@pytest.fixture
def kubevirt_sim(k8s_emulator):
    from .simulator import KubevirtSim
    sim = KubevirtSim(k8s_emulator.api_client(), step_delay=0.02)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
