"""The documented commands that touch only Kubernetes (kubectl and the shell), each in its own lab
without the OVN sandbox (documented_lab.py); documented_world.py says what each must change.
Kept apart from test_documented_commands.py so that the two run side by side."""
import pytest

from documented_commands import documented_commands, kubernetes_only, run_documented


@pytest.mark.parametrize("command,setup", [p for p in documented_commands() if kubernetes_only(p.values[0])])
def test_documented_kubectl_command(tmp_path, command, setup):
    run_documented(tmp_path, command, setup)
