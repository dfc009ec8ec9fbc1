"""pytest fixtures: a fresh emulator per test, enforcing extensions/awx/rbac.yml, and a kubeconfig
file pointing at it as the playbooks' ServiceAccount."""
import pytest

from .emulator import K8sEmulator, describe


@pytest.fixture
def k8s_emulator():
    """K8sEmulator.as_deployed(): `token` ("emulator-token") is the playbooks' ServiceAccount,
    `events_token` the event source's, `admin_token` (what `api_client()` uses: the simulated
    KubeVirt, the tests' own reads and writes) an admin. A 403 RBAC answers fails the test at
    teardown: either rbac.yml misses a grant, or the test means it (then it asserts on
    `k8s_emulator.forbidden` and empties it, or enforces a policy of its own)."""
    emulator = K8sEmulator.as_deployed().start()
    deployed = emulator.rbac
    try:
        yield emulator
    finally:
        emulator.stop()
    if emulator.rbac is deployed and emulator.forbidden:
        pytest.fail("the emulator, enforcing extensions/awx/rbac.yml, answered 403: %s" % "; ".join(
            describe(record) for record in emulator.forbidden), pytrace=False)


@pytest.fixture
def kubeconfig(k8s_emulator, tmp_path):
    """Path of a kubeconfig (context "emulator", with the playbooks' ServiceAccount token)."""
    return str(k8s_emulator.write_kubeconfig(tmp_path / "kubeconfig"))
