"""Run the collection's modules and playbooks through the real ansible-playbook.

Tests use this instead of importing modules: the module runs as Ansible runs it (AnsiballZ,
argument spec, check and diff mode), and the test reads the registered result as JSON.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

NO_TRACEBACK = "(traceback unavailable)"
ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def ansible_env(extra=None):
    """The environment scripts/env.sh sets, rebuilt from this interpreter's location."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".venv" / "collections"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PATH": str(VENV_BIN) + os.pathsep + env.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "tests"),
    })
    env.update(extra or {})
    return env


def kill_processes_mentioning(marker):
    """SIGKILL every process (not this one) whose command line holds `marker`: the playbooks
    ansible-runner started in sessions of their own, found by the private data dir they name."""
    marker = str(marker).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            continue   # gone meanwhile, or not ours to read


class PlaybookRun:
    def __init__(self, proc, results):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results = results

    @property
    def output(self):
        return self.stdout + self.stderr


def run_playbook(playbook, extra_vars=None, env=None, args=(), timeout=300):
    """Run a playbook file (or FQCN) and return a PlaybookRun."""
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(env), check=False,
                          timeout=timeout, cwd=str(ROOT))
    return PlaybookRun(proc, None)


def run_tasks(tasks, env=None, verbosity=0, timeout=300):
    """Run several module tasks in one play (one ansible-playbook start); return their results.

    A task is (module, args) or (module, args, keywords) with task keywords such as check_mode
    or diff. A module name without a dot is one of this collection's. Every result is the
    registered dict (a failed module does not stop the play: tests assert on `msg`); a crash that
    Ansible reports as MODULE FAILURE shows as `module_stderr`. Each result also carries
    `_output` (the whole ansible-playbook output) and `_rc` (its exit code).
    """
    with tempfile.TemporaryDirectory(prefix="klm-run-") as tmp:
        out = Path(tmp) / "results.json"
        play_tasks = []
        for i, task in enumerate(tasks):
            module, args, keywords = (tuple(task) + ({},))[:3]
            fqcn = module if "." in module else "kubeovn.live_migration." + module
            play_tasks.append(dict({"check_mode": False, "diff": False}, **keywords,
                                   **{fqcn: args, "register": "r%d" % i, "ignore_errors": True}))
        names = ", ".join("r%d" % i for i in range(len(tasks)))
        play_tasks.append({"ansible.builtin.copy": {"content": "{{ [%s] | to_json }}" % names, "dest": str(out)},
                           "check_mode": False, "diff": False})
        playbook = Path(tmp) / "play.yml"
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": play_tasks}]))
        args = ["-" + "v" * verbosity] if verbosity else []
        run = run_playbook(playbook, env=env, args=args, timeout=timeout)
        if not out.exists():
            raise AssertionError("playbook did not run the tasks:\n" + run.output)
        results = json.loads(out.read_text())
    for result in results:
        result["_output"] = run.output
        result["_rc"] = run.rc
    return results


def run_module(module, module_args, check=False, diff=False, env=None, verbosity=0, timeout=300):
    """Run one module in a one-task play and return its registered result (see run_tasks)."""
    return run_tasks([(module, module_args, {"check_mode": bool(check), "diff": bool(diff)})],
                     env=env, verbosity=verbosity, timeout=timeout)[0]


def assert_ok(result):
    """The module did not fail; returns the result for chaining."""
    assert not result.get("failed"), result.get("msg") or result.get("_output")
    return result


def clean_failure_problem(result, fragments=()):
    """None when `result` is a clean failure whose msg holds every fragment, else what is wrong."""
    if not result.get("failed"):
        return "did not fail"
    # ansible-core 2.19 puts this placeholder on every failed result, fail_json included;
    # a real crash carries the traceback text (and module_stderr) instead.
    if result.get("exception") not in (None, NO_TRACEBACK) or "module_stderr" in result:
        return "crashed: %s" % (result.get("exception") or result.get("module_stderr"))
    msg = result.get("msg", "")
    # ...and words an exception the module did not handle as "Module failed: <text>".
    if msg.startswith(("Module failed:", "Task failed: Module failed:")):
        return "crashed (unhandled exception): %r" % msg
    if not msg or "Traceback" in msg or "Traceback" in result.get("_output", ""):
        return "no clean msg: %r" % msg
    missing = [f for f in fragments if f.lower() not in msg.lower()]
    if missing:
        return "msg %r lacks %r" % (msg, missing)
    return None


def assert_clean_failure(result, *fragments):
    """A failure with a clear msg: no traceback, no crash, and the msg names what it must."""
    problem = clean_failure_problem(result, fragments)
    assert problem is None, (problem, {k: v for k, v in result.items() if k != "_output"})
