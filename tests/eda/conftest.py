"""Fixtures for the event source tests: the source running against the function's emulator."""
import pytest

from source_run import SourceRun


@pytest.fixture
def kubeconfig(k8s_emulator, tmp_path):
    """Here the kubeconfig ansible-rulebook runs with (K8S_AUTH_KUBECONFIG): with run_playbook the
    source and the playbooks it starts share it, so it is an operator's, bound to both of rbac.yml's
    ClusterRoles (docs/rbac.md, "One identity"). The source alone runs as its own ServiceAccount in
    run_source below and in tests/integration/test_k8s_auth_rbac.py."""
    return str(k8s_emulator.write_kubeconfig(tmp_path / "kubeconfig", k8s_emulator.operator_token))


@pytest.fixture
def run_source(k8s_emulator):
    """Factory: run_source(**args) starts the source with the emulator's URL and the event source's
    token (rbac.yml's ServiceAccount kubeovn-live-migration-events) as explicit auth options, unless
    `host` is given as None, and stops it after the test. An argument given as None is left out
    (the source's default)."""
    runs = []

    def start(**args):
        args.setdefault("host", k8s_emulator.url)
        args.setdefault("api_key", k8s_emulator.events_token or k8s_emulator.token)
        args.setdefault("retry_max_delay", 0.5)
        # One event per migration, as most tests count them: batching (on by default) has its own
        # tests (test_vmim_events_batch.py), which pass prepare_batch_window=None for the default.
        args.setdefault("prepare_batch_window", 0)
        args = {k: v for k, v in args.items() if v is not None}
        run = SourceRun(args).start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()
