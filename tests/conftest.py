"""Shared pytest set-up. tests/ is on sys.path (rootdir conftest), so the OVN sandbox, the
Kubernetes emulator and the simulated KubeVirt import as top-level packages."""
import importlib.util

# Each real environment ships its own fixtures; register those that exist.
pytest_plugins = [name for name in (
    "ovn_sandbox.fixtures",
    "k8s_emulator.fixtures",
    "kubevirt_sim.fixtures",
    "prometheus_stack.fixtures",
) if importlib.util.find_spec(name.partition(".")[0]) is not None]
