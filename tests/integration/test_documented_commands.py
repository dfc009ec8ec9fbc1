"""Every command README.md and docs/*.md tell a user to type, run exactly as written.

The commands are read from the fenced shell blocks of the documents themselves, so a new or
changed command is tested (or must be listed as not runnable here, with the reason) the moment the
document changes. They run through bash in a lab standing in for a cluster: the real OVN sandbox,
the Kubernetes API emulator and the simulated KubeVirt, reached through the same environment
variables the README tells a user to export (OVN_NB_DB, OVN_SB_DB, K8S_AUTH_KUBECONFIG). The VMs the
documents name (web-1 in prod, db-0 in vms and vm-canary) exist there, running on hv1. A variable a
document sets for later commands (root=$(ansible-galaxy collection list ...)) is set before them by
the document's own line; the event source, which runs until stopped, is stopped once it has printed
a migration of the lab; pip finds the project venv (filled by scripts/bootstrap) on PATH.
"""
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ansible_run import ansible_env
from faults.fault_helpers import owned_options

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
SHELL_LANGS = {"sh", "bash", "shell", "console"}
# An unlabelled block is a shell block when its first line starts with one of these.
TOOLS = ("ansible", "ansible-playbook", "ansible-doc", "ansible-galaxy", "ansible-rulebook", "ansible-builder",
         "ansible-navigator", "kubectl", "virtctl", "python", "pip", "ovn-nbctl", "ovn-sbctl", "export",
         "mkdir", "root=", ".", "./scripts/", "cat", "for", "opt_in", "#", "$ ")
VM_DB = "vms", "db-0"
DOCUMENTED_VMS = [("prod", "web-1", ()), ("vms", "db-0", ("net1",)), ("vm-canary", "db-0", ())]
MIGRATION = "db-0-migration-x7k2q"   # the VMIM name docs/real-cluster.md uses

# Commands that cannot run on this machine, each with why and what tests the same thing instead.
NOT_RUNNABLE = [
    (r"\bkubectl\b|\bvirtctl\b|^opt_in ",
     "kubectl/virtctl need a real cluster (the emulator serves the API calls the collection makes, not "
     "kubectl's discovery, describe, drain or rollout); the objects they change are what the modules' "
     "tests read and write"),
    (r"ansible-galaxy collection install",
     "Galaxy is unreachable here; tests/integration/test_collection_artifacts.py installs the built tarball"),
    (r"ssl:10\.|tcp:10\.|/etc/ovn/",
     "the addresses and TLS files of a real OVN cluster; tests/faults/test_tls_faults.py runs ssl: remotes "
     "with their keys against the sandbox"),
    (r"ansible-rulebook ",
     "runs until stopped; tests/eda/test_rulebook_end_to_end.py runs the rulebook with this inventory"),
    (r"ansible-builder build|ansible-navigator run",
     "builds or runs a container image (no container engine here); test_collection_artifacts.py runs "
     "ansible-builder create on the same files"),
    (r"python -m bench\.",
     "benchmarks of minutes; tests/bench runs each at a tiny size"),
    (r"python -m pytest",
     "the test suites themselves, which scripts/test runs"),
    (r"^export ",
     "points the user's shell at their cluster; here the lab sets OVN_NB_DB, OVN_SB_DB and "
     "K8S_AUTH_KUBECONFIG for every command"),
    (r"~/\.ovn|key\.pem",
     "copies a real cluster's OVN TLS secret"),
    (r"^\./scripts/",
     "the repository's own entry points: .ci/run runs ./scripts/test, and scripts/test the demo's checks"),
]


def shell_blocks(text):
    for lang, body in re.findall(r"^ *```(\w*)\n(.*?)^ *```", text, re.S | re.M):
        lines = body.splitlines()
        first = next((ln.strip() for ln in lines if ln.strip()), "")
        if lang in SHELL_LANGS or (not lang and first.startswith(TOOLS)):
            yield lines


def complete(text):
    """bash itself says whether a command is whole (quotes, here-documents, loops, functions)."""
    if re.search(r"(\\|\||&&)\s*$", text.split(" # ")[-1] if "\n" not in text else text.rsplit("\n", 1)[-1]):
        return False
    # bash -n accepts a here-document cut short (a warning only): its end line must be there.
    for delimiter in re.findall(r"<<-?'?(\w+)'?", text):
        if not re.search(r"^\s*%s$" % delimiter, text, re.M):
            return False
    return subprocess.run(["bash", "-n", "-c", text], capture_output=True, check=False).returncode == 0


def logical_commands(lines):
    """Split a block into the commands a user types one by one; comment-only lines are dropped,
    and in a transcript (lines starting with "$ ") only the prompted lines count."""
    if any(ln.lstrip().startswith("$ ") for ln in lines):
        lines = [ln.lstrip()[2:] for ln in lines if ln.lstrip().startswith("$ ")]
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()), default=0)
    commands, current = [], []
    for raw in lines:
        line = raw[indent:]
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        if complete("\n".join(current)):
            commands.append("\n".join(current))
            current = []
    if current:
        commands.append("\n".join(current))
    return commands


# A shell variable a document sets (root=$(ansible-galaxy collection list ...)) for the commands
# after it: those run after the document's own assignment, as in the reader's shell.
ASSIGNMENT = re.compile(r"^\s*(\w+)=\$\(")


def documented_commands():
    found = []
    for path in DOCUMENTS:
        assignments = {}
        for lines in shell_blocks(path.read_text()):
            for command in logical_commands(lines):
                used = [assignments[name] for name in sorted(set(re.findall(r"\$\{?(\w+)", command)))
                        if name in assignments]
                found.append(pytest.param(command, "\n".join(used),
                                          id="%s: %s" % (path.relative_to(ROOT), command.splitlines()[0][:70])))
                match = ASSIGNMENT.match(command)
                if match:
                    assignments[match.group(1)] = command
    return found


def not_runnable_reason(command):
    for pattern, reason in NOT_RUNNABLE:
        if re.search(pattern, command, re.M):
            return reason
    return None


@pytest.fixture
def lab(tmp_path):
    from k8s_emulator import K8sEmulator
    from kubevirt_sim import KubevirtSim
    from ovn_sandbox import OvnSandbox
    ovn = OvnSandbox(tmp_path / "ovn")
    ovn.start()
    # Enforcing extensions/awx/rbac.yml: the commands run as the playbooks' ServiceAccount.
    k8s = K8sEmulator.as_deployed().start()
    sim = KubevirtSim(k8s.api_client(), ovn=ovn, step_delay=0.2).start()
    try:
        ports = {}
        for namespace, vm, providers in DOCUMENTED_VMS:
            made = ovn.create_vm(namespace, vm, providers=providers)
            sim.create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in made])
            sim.configure(namespace, vm, target_node="hv2")
            ports[(namespace, vm)] = [p["name"] for p in made]
        kubeconfig = str(k8s.write_kubeconfig(tmp_path / "kubeconfig"))
        env = ansible_env({"OVN_NB_DB": ovn.nb_remote, "OVN_SB_DB": ovn.sb_remote, "K8S_AUTH_KUBECONFIG": kubeconfig})
        # The event source runs as its own ServiceAccount, as rbac.yml deploys it.
        source_env = dict(env, K8S_AUTH_KUBECONFIG=str(k8s.write_kubeconfig(tmp_path / "kubeconfig-events",
                                                                            token=k8s.events_token)))
        yield {"ovn": ovn, "k8s": k8s, "sim": sim, "env": env, "source_env": source_env, "ports": ports,
               "dir": tmp_path}
    finally:
        sim.stop()
        k8s.stop()
        ovn.stop()


def prepare_world(lab, command):
    """Put the lab where the document's reader is when they type the command."""
    sim = lab["sim"]
    if re.search(r"\.prepare -e vmim=" + MIGRATION, command):
        sim.configure(*VM_DB, target_node="hv2", hold_at="Running")
        sim.migrate(*VM_DB, name=MIGRATION)
        sim.wait_phase(VM_DB[0], MIGRATION, ["Running"])
    elif re.search(r"\.cutover -e vmim=" + MIGRATION, command):
        sim.migrate(*VM_DB, name=MIGRATION)
        sim.wait_phase(VM_DB[0], MIGRATION, ["Succeeded"], timeout=60)
    elif re.search(r"\.(reconcile|cleanup)\b", command):
        # A half-migrated VM for the sweep and the rollback to put right.
        lab["ovn"].nbctl("set", "Logical_Switch_Port", lab["ports"][VM_DB][0],
                         "options:requested-chassis=hv1,hv3", "options:activation-strategy=rarp")


def check_world(lab, command, output):
    """What the command must have done, read from the NB (beyond its exit status)."""
    owned = owned_options(lab["ovn"], lab["ports"][VM_DB])
    if re.search(r"\.live_migrate -e vmi=db-0 -e namespace=vms\b", command) or re.search(r"\.cutover -e vmim=", command):
        assert set(owned.values()) == {("hv2", None)}, owned
    elif re.search(r"\.prepare -e vmim=", command):
        assert set(owned.values()) == {("hv1,hv2", "rarp")}, owned
    elif re.search(r"\.(reconcile|cleanup)\b", command) and "--check" not in command and "opted_in" not in command:
        assert set(owned.values()) == {("hv1", None)}, owned
    elif command.startswith("ansible-doc "):
        assert "OPTIONS" in output
    elif command.startswith(("ovn-nbctl", "ovn-sbctl")):
        assert "db-0.vms" in output


# pip installs into the Python on PATH, here the project venv, which scripts/bootstrap filled from the
# same requirements: the command runs as written and finds everything there (no lab needed).
NO_LAB = r"^pip install "


# Runs until stopped (the event source by itself, docs/rollout.md): started as written, shown one
# migration of the lab, stopped with Ctrl-C once it printed that migration's event.
WATCHER = r"vmim_events\.py"


def watch_one_migration(lab, script, cwd):
    """Start the watcher, migrate db-0 in vm-canary once it is up, return the event line it printed
    for that migration (or None) and everything it printed."""
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], env=lab["source_env"], cwd=str(cwd),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, event, migrated = [], None, False
    start = time.monotonic()
    try:
        while event is None and time.monotonic() - start < 60 and proc.poll() is None:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
            # Its first line (a log line or an event) says it runs; a silent start gets 10 s.
            if not migrated and (seen or time.monotonic() - start > 10):
                lab["sim"].migrate("vm-canary", "db-0", name="db-0-watched")
                migrated = True
            event = next((ln for ln in seen if "db-0-watched" in ln and "'target_node': 'hv2'" in ln), None)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return event, "".join(seen)


@pytest.mark.parametrize("command,setup", documented_commands())
def test_documented_command(request, tmp_path, command, setup):
    reason = not_runnable_reason(command)
    if reason:
        pytest.skip("not runnable here: " + reason)
    script = setup + "\n" + command if setup else command
    if re.search(NO_LAB, command):
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=str(tmp_path), capture_output=True,
                              text=True, timeout=300, check=False,
                              env=ansible_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"}))
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-3000:]
        assert "Requirement already satisfied" in output and "Successfully installed" not in output, output[-3000:]
        return
    lab = request.getfixturevalue("lab")   # only for the commands that run
    prepare_world(lab, command)
    # Paths into the repository are written from its root, as the documents say; the rest runs
    # in a scratch directory (rollout.yml and the like).
    cwd = ROOT if re.search(r"(^|\s)extensions/", command) else lab["dir"]
    if re.search(WATCHER, command):
        event, output = watch_one_migration(lab, script, cwd)
        # What docs/rollout.md says each migration shows: source and target node, when the target
        # pod was scheduled, the VM's network_opt.
        assert event and "'source_node': 'hv1'" in event and "'network_opt': " in event, output[-3000:]
        assert "'target_scheduled_at': None" not in event and "'target_scheduled_at': " in event, event
        return
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=lab["env"], cwd=str(cwd),
                          capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    check_world(lab, command, output)
    assert not lab["k8s"].forbidden, "403 by extensions/awx/rbac.yml: %s" % lab["k8s"].forbidden


def test_every_document_has_its_commands_found():
    """The extraction itself: the documents that tell a user what to type yield commands, and no
    command is cut in the middle of a continuation, a pipe or a here-document."""
    commands = [p.values[0] for p in documented_commands()]
    assert any(c.startswith("ansible-playbook kubeovn.live_migration.live_migrate") for c in commands)
    assert any("<<'EOF'" in c and c.rstrip().endswith("EOF") for c in commands)
    for command in commands:
        assert not re.search(r"(\\|\|)\s*$", command), command
        assert subprocess.run(["bash", "-n", "-c", command], capture_output=True, check=False).returncode == 0, command
