"""The documented commands that run the collection or read OVN (documented_commands.py says how
they are found and run), in the lab with the OVN sandbox; the ones a real cluster alone can run
are skipped here with their reason. test_documented_kubectl.py runs the Kubernetes-only ones."""
import re
import subprocess

import pytest

from documented_commands import documented_commands, kubernetes_only, run_documented
from documented_lab import documented_lab
from documented_world import READERS_OF_EVENTS, recorded_migrations


@pytest.fixture(scope="module")
def recorded_lab(tmp_path_factory):
    """One lab for the commands that only read the collection's Events (kubectl events, describe):
    db-0's migrations in vms and vm-canary, handled by the cutover playbook."""
    path = tmp_path_factory.mktemp("recorded")
    with documented_lab(path, ovn=True) as lab:
        recorded_migrations(lab)
        yield lab


@pytest.mark.parametrize("command,setup", [p for p in documented_commands() if not kubernetes_only(p.values[0])])
def test_documented_command(request, tmp_path, command, setup):
    shared = request.getfixturevalue("recorded_lab") if re.search(READERS_OF_EVENTS, command) else None
    run_documented(tmp_path, command, setup, lab=shared)


def test_every_document_has_its_commands_found():
    """The extraction itself: the documents that tell a user what to type yield commands, and no
    command is cut in the middle of a continuation, a pipe or a here-document."""
    commands = [p.values[0] for p in documented_commands()]
    assert any(c.startswith("ansible-playbook kubeovn.live_migration.live_migrate") for c in commands)
    assert any("<<'EOF'" in c and c.rstrip().endswith("EOF") for c in commands)
    for command in commands:
        assert not re.search(r"(\\|\|)\s*$", command), command
        assert subprocess.run(["bash", "-n", "-c", command], capture_output=True, check=False).returncode == 0, command
