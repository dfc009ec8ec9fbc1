"""Every command README.md and docs/*.md tell a user to type, found and run exactly as written.

The commands are read from the fenced shell blocks of the documents themselves, so a new or
changed command is tested (or must be listed as not runnable here, with the reason) the moment the
document changes. They run through bash in a lab standing in for a cluster (documented_lab.py):
the Kubernetes API emulator and the simulated KubeVirt, with the real OVN sandbox for the commands
that run the collection, reached through the environment variables the README tells a user to
export (OVN_NB_DB, OVN_SB_DB, K8S_AUTH_KUBECONFIG) and the reader's own kubeconfig (KUBECONFIG) for
kubectl. documented_world.py puts the lab where the reader is when they type each command and
reads what the command changed. A variable, shell function or file a document sets for later
commands (root=$(ansible-galaxy collection list ...), opt_in() { ... }, cat > rollout.yml <<'EOF')
is set before them by the document's own lines; a command that runs until stopped (the rulebook,
the event source, kubectl get -w) is stopped once it has handled a migration of the lab; pip finds the project venv (filled by
scripts/bootstrap) on PATH.
"""
import functools
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest

from ansible_run import ansible_env, kill_processes_mentioning
from documented_lab import ROOT, documented_lab
from documented_world import needs_ovn, scene

DOCUMENTS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
SHELL_LANGS = {"sh", "bash", "shell", "console"}
# An unlabelled block is a shell block when its first line starts with one of these.
TOOLS = ("ansible", "ansible-playbook", "ansible-doc", "ansible-galaxy", "ansible-rulebook", "ansible-builder",
         "ansible-navigator", "kubectl", "virtctl", "python", "pip", "ovn-nbctl", "ovn-sbctl", "export",
         "mkdir", "root=", ".", "./scripts/", "cat", "for", "opt_in", "#", "$ ")
# Commands that cannot run on this machine, each with why and what tests the same thing instead.
NOT_RUNNABLE = [
    (r"\bvirtctl\b",
     "virtctl, KubeVirt's client, is not installed here; the lab's migrations are created the way it creates them"),
    (r"ansible-galaxy collection install",
     "Galaxy is unreachable here; tests/integration/test_collection_artifacts.py installs the built tarball"),
    (r"^(?!export ).*(ssl:10\.|tcp:10\.|/etc/ovn/)",
     "the addresses and TLS files of a real OVN cluster; tests/faults/test_tls_faults.py runs ssl: remotes "
     "with their keys against the sandbox"),
    (r"ansible-builder build|ansible-navigator run",
     "builds or runs a container image (no container engine here); test_collection_artifacts.py runs "
     "ansible-builder create on the same files"),
    (r"python -m bench\.",
     "benchmarks of minutes; tests/bench runs each at a tiny size"),
    (r"python -m pytest",
     "the test suites themselves, which scripts/test runs"),
    (r"^\./scripts/(test|importer)\b",
     "the test command itself: .ci/run runs ./scripts/test, which runs ./scripts/importer as its "
     "galaxy-importer suite"),
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


# A shell variable (root=$(ansible-galaxy collection list ...)), function (opt_in() { ... }) or
# file (cat > rollout.yml <<'EOF' ...) a document sets for the commands after it: those run after
# the document's own definition, as in the reader's shell and directory.
DEFINITIONS = {"variable": re.compile(r"^\s*(\w+)=\$\("), "function": re.compile(r"^\s*(\w+)\(\)\s*\{"),
               "file": re.compile(r"^\s*cat > ([\w./-]+) <<")}


def uses(command, name, kind):
    if kind == "function":
        return re.search(r"(^|[\s;|&(])%s\s" % name, command, re.M)
    if kind == "file":
        return re.search(r"(^|\s)%s(\s|$)" % re.escape(name), command, re.M)
    return re.search(r"\$\{?%s\b" % name, command)


def documented_commands():
    found = []
    for path in DOCUMENTS:
        definitions = {}     # name -> (its command, its kind)
        for lines in shell_blocks(path.read_text()):
            for command in logical_commands(lines):
                used = [text for name, (text, kind) in definitions.items()
                        if text != command and uses(command, name, kind)]
                found.append(pytest.param(command, "\n".join(used),
                                          id="%s: %s" % (path.relative_to(ROOT), command.splitlines()[0][:70])))
                for kind, pattern in DEFINITIONS.items():
                    match = pattern.match(command)
                    if match:
                        definitions[match.group(1)] = (command, kind)
    return found


# Subcommands newer than the oldest kubectl scripts/bootstrap may install (Debian bookworm's 1.20,
# used only when the machine has none): {pattern: the kubectl minor version that added it}.
KUBECTL_ADDED = {r"kubectl .*create token\b": 24, r"kubectl events\b": 26}


@functools.lru_cache(maxsize=None)
def kubectl_minor():
    try:
        out = subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True, text=True,
                             timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return int(re.sub(r"\D.*", "", json.loads(out)["clientVersion"]["minor"]))


def not_runnable_reason(command):
    for pattern, reason in NOT_RUNNABLE:
        if re.search(pattern, command, re.M):
            return reason
    for pattern, minor in KUBECTL_ADDED.items():
        have = kubectl_minor() if re.search(pattern, command, re.M) else None
        if have is not None and have < minor:
            return "needs kubectl 1.%d or later; the kubectl here is 1.%d" % (minor, have)
    return None


# Commands that bring what they need (no lab): {pattern: (run from the repository root, what the
# output must show)}.
NO_LAB = {
    # pip installs into the Python on PATH, here the project venv, which scripts/bootstrap filled
    # from the same requirements: it finds everything there.
    r"^pip install ": (False, lambda out: "Requirement already satisfied" in out and "Successfully installed" not in out),
    # The README's main job starts its own OVN sandbox, emulator and simulated KubeVirt.
    r"^\./scripts/demo\b": (True, lambda out: "VERDICT: PASS" in out),
}


def no_lab(command):
    return next((spec for pattern, spec in NO_LAB.items() if re.search(pattern, command)), None)


# Commands that run until stopped: started as written, shown one migration of the lab (db-0 in
# vm-canary, migrated once they are up), stopped with Ctrl-C once they printed a line about it.
# {pattern: (environment, what that line must hold, seconds to wait for it, a later line that ends
# the watch, or None)}
WATCHERS = {
    # The event source by itself (docs/rollout.md), as its own ServiceAccount.
    r"vmim_events\.py": ("source_env", ("db-0-watched", "'target_node': 'hv2'"), 60, None),
    # kubectl get vmim -w (docs/rollout.md): the migration's rows as its phase moves.
    r"kubectl .*get vmim .*-w$": ("env", ("db-0-watched",), 60, None),
    # The rulebook (README, docs/real-cluster.md, docs/rollout.md), as an operator holding both
    # ClusterRoles: it runs the playbooks until the cutover's has ended.
    r"ansible-rulebook -i": ("operator_env", ("PLAY [Cut migrated VMIs' ports over",), 180, "PLAY RECAP"),
}


def watcher(command):
    return next((spec for pattern, spec in WATCHERS.items() if re.search(pattern, command)), None)


def watch_one_migration(lab, script, cwd, env, wanted, timeout, until):
    """Start the command, migrate db-0 in vm-canary once it is up, return the first line it printed
    holding all of `wanted` (or None; with `until`, only once a later line holds that) and everything
    it printed. Processes it left in sessions of their own (ansible-runner's playbooks, which name
    the environment's TMPDIR) are killed too."""
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], env=lab[env], cwd=str(cwd),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, event, migrated, ended = [], None, False, False
    start = time.monotonic()
    try:
        while not ended and time.monotonic() - start < timeout and proc.poll() is None:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
            # Its first line (a log line, an event, a header) says it runs; a silent start gets 5 s.
            if not migrated and (seen or time.monotonic() - start > 5):
                lab["sim"].migrate("vm-canary", "db-0", name="db-0-watched")
                migrated = True
            at = next((i for i, ln in enumerate(seen) if all(w in ln for w in wanted)), None)
            event = seen[at] if at is not None else None
            ended = event is not None and (until is None or any(until in ln for ln in seen[at + 1:]))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if lab[env].get("TMPDIR", "").startswith(str(lab["dir"])):    # the lab's own, never the machine's
            kill_processes_mentioning(lab[env]["TMPDIR"])
    return (event if ended else None), "".join(seen)


def kubernetes_only(command):
    """Runnable commands that touch only Kubernetes (kubectl and the shell): the lab without OVN."""
    return not not_runnable_reason(command) and not no_lab(command) and not needs_ovn(command)


def run_documented(tmp_path, command, setup, lab=None):
    """Run one documented command as written and check what it did; `lab`: an already built lab
    (shared by commands that only read it), else one is built for the command."""
    reason = not_runnable_reason(command)
    if reason:
        pytest.skip("not runnable here: " + reason)
    script = setup + "\n" + command if setup else command
    if no_lab(command):
        from_root, shows = no_lab(command)
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=str(ROOT if from_root else tmp_path),
                              capture_output=True, text=True, timeout=300, check=False,
                              env=ansible_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"}))
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0 and shows(output), output[-3000:]
        return
    prepare, check = scene(command)
    if lab is not None:
        return _run_in(lab, command, script, check)
    with documented_lab(tmp_path, ovn=needs_ovn(command)) as lab:
        if prepare:
            prepare(lab)
        return _run_in(lab, command, script, check)


# `export NAME=value ...`: the variables it sets, printed after it (its effect is on the shell).
EXPORTED = re.compile(r"(?:^export|\s)\s*([A-Z_][A-Z0-9_]*)=")


def exported(command):
    return EXPORTED.findall(command.split(" # ")[0]) if command.startswith("export ") else []


def _run_in(lab, command, script, check):
    """The command in `lab`: a watcher until it showed a migration, anything else to its end."""
    # Paths into the repository are written from its root, as the documents say; the rest runs
    # in a scratch directory (rollout.yml, the *.pem files and the like).
    cwd = ROOT if re.search(r"(^|\s)extensions/", command) else lab["dir"]
    watched = watcher(command)
    if watched:
        event, output = watch_one_migration(lab, script, cwd, *watched)
        assert event, output[-3000:]
        if check:
            assert check(lab, output), "the command did not do what the document says:\n" + output[-3000:]
        if "vmim_events" in command:
            # What docs/rollout.md says each migration shows: source and target node, when the
            # target pod was scheduled, the VM's network_opt.
            assert "'source_node': 'hv1'" in event and "'network_opt': " in event, output[-3000:]
            assert "'target_scheduled_at': None" not in event and "'target_scheduled_at': " in event, event
        return
    names = exported(command)
    if names:
        script += "".join('\nprintf "%%s=%%s\\n" %s "${%s}"' % (name, name) for name in names)
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=lab["env"], cwd=str(cwd),
                          capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    for name in names:    # set, expanded (no "~" or "$(" left), and nothing the lab had
        value = re.search(r"^%s=(.*)$" % name, output, re.M).group(1)
        assert value and "~" not in value and "$" not in value and value != lab["env"].get(name), (name, value)
    if check:
        assert check(lab, output), "the command did not do what the document says:\n" + output[-3000:]
    assert not lab["k8s"].forbidden, "403 by extensions/awx/rbac.yml: %s" % lab["k8s"].forbidden
