"""Helpers of the fault tests (this file holds no tests): many module calls in one ansible-playbook
run, a VM made in any sandbox, NB snapshots to prove that nothing was written, and for the
concurrency tests: playbooks in the background, a run paused between two tasks, another writer
of the same options maps, a recorder of every state a VM's ports went through, and a count of the
NB transactions that conflicted."""
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path

import ansible_run
from ovn_sandbox.daemons import SandboxError
from ovn_sandbox.ovsdb_json import rows

OWNED = ("requested-chassis", "activation-strategy")


def run_tasks(tasks, env=None, verbosity=0, timeout=600):
    """ansible_run.run_tasks (one play, one ansible-playbook start), returning (results, output)."""
    results = ansible_run.run_tasks(tasks, env=env, verbosity=verbosity, timeout=timeout)
    return results, (results[0]["_output"] if results else "")


def run_tasks_parallel(tasks, chunks=3, **kwargs):
    """run_tasks over `chunks` ansible-playbook processes at once; results in task order."""
    size = -(-len(tasks) // chunks)
    parts = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    outcome = [None] * len(parts)

    def work(index):
        outcome[index] = run_tasks(parts[index], **kwargs)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(parts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if any(o is None for o in outcome):
        raise AssertionError("a chunk of the batch did not run")
    return [r for part in outcome for r in part[0]], "".join(part[1] for part in outcome)


def change(sandbox, vm, state, source="hv1", target="hv2", **extra):
    """ovn_lsp arguments that move every port of `vm` to `state`, waiting for the hypervisors."""
    args = dict(vmi=vm["vm"], namespace=vm["namespace"], state=state, source_chassis=source,
                target_chassis=target, wait="hv", wait_timeout=20)
    args.update(extra)
    return sandbox.module_args(**args)


def make_vm(sandbox, hv="hv1", providers=("net1",), timeout=10):
    """A VM with a primary port and one attachment port per provider, bound on `hv` within `timeout` s."""
    suffix = uuid.uuid4().hex[:6]
    namespace, vm = "ns-" + suffix, "vm-" + suffix
    ports = sandbox.create_vm(namespace, vm, providers=providers)
    chassis = sandbox.chassis_name(hv)
    for port in ports:
        sandbox.add_vm_port(hv, port["name"])
    for port in ports:
        sandbox.wait_for(lambda: (sandbox.port_binding(port["name"]) or {}).get("chassis") == chassis,
                         timeout=timeout, what="%s bound on %s" % (port["name"], hv))
    return {"namespace": namespace, "vm": vm, "ports": [p["name"] for p in ports]}


def owned_options(sandbox, names):
    """{port: (requested-chassis, activation-strategy)} as the NB holds them now."""
    found = rows(sandbox.nbctl("--format=json", "--columns=name,options", "list", "Logical_Switch_Port"))
    by_name = {r["name"]: r["options"] for r in found}
    return {n: tuple(by_name.get(n, {}).get(k) for k in OWNED) for n in names}


def nb_snapshot(sandbox):
    """Every LSP's options and external_ids, and NB_Global nb_cfg: equal before and after = nothing written."""
    ports = rows(sandbox.nbctl("--format=json", "--columns=name,options,external_ids,type", "list", "Logical_Switch_Port"))
    nb_cfg = sandbox.nbctl("get", "NB_Global", ".", "nb_cfg").strip()
    return sorted(json.dumps(p, sort_keys=True) for p in ports), nb_cfg


def expected_options(state, source="hv1", target="hv2"):
    return {"prepared": ("%s,%s" % (source, target), "rarp"), "cutover": (target, None),
            "rolled_back": (source, None), "absent": (None, None)}[state]


def ports_seen_differing(sandbox, ports, worker, pause=0.0):
    """Poll the owned options of a VM's ports until `worker` (a thread) ends; then join it and
    return every snapshot in which the ports disagreed (a VM's ports change in one transaction)."""
    mixed = []
    while worker.is_alive():
        try:
            seen = owned_options(sandbox, ports)
        except SandboxError:          # no NB leader for ovn-nbctl at this instant
            continue
        if len(set(seen.values())) != 1:
            mixed.append(seen)
        if pause:
            time.sleep(pause)
    worker.join()
    return mixed


# ---- concurrency: runs in the background, paused runs, another writer, NB transaction counts ----

class Background(threading.Thread):
    """ansible_run.run_playbook in a thread: start(), then result(timeout) gives the PlaybookRun."""

    def __init__(self, playbook, extra_vars=None, env=None, timeout=300):
        super().__init__(daemon=True)
        self.args = (playbook, extra_vars, env, timeout)
        self.run_result = None
        self.error = None

    def run(self):
        playbook, extra_vars, env, timeout = self.args
        try:
            self.run_result = ansible_run.run_playbook(playbook, extra_vars=extra_vars, env=env, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - handed to the test thread by result()
            self.error = exc

    def result(self, timeout=300):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError("ansible-playbook %s still running after %ss" % (self.args[0], timeout))
        if self.error is not None:
            raise self.error
        return self.run_result


# A callback plugin that holds the play just before a task whose name holds KLM_GATE_TASK starts,
# until the file <KLM_GATE_DIR>/open exists: a real run paused between two of its tasks, the way a
# busy controller pauses it, so that another run can land in between on purpose.
GATE_CALLBACK = '''
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "klm_gate"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.done = False

    def v2_playbook_on_task_start(self, task, is_conditional):
        if self.done or os.environ.get("KLM_GATE_TASK", "") not in task.get_name():
            return
        self.done = True
        gate = os.environ["KLM_GATE_DIR"]
        with open(os.path.join(gate, "reached"), "w") as handle:
            handle.write(task.get_name())
        deadline = time.monotonic() + float(os.environ.get("KLM_GATE_TIMEOUT", "300"))
        while not os.path.exists(os.path.join(gate, "open")) and time.monotonic() < deadline:
            time.sleep(0.02)
'''


class TaskGate:
    """Pause one ansible-playbook run just before its first task named like `task_name`.

    env() goes to the run; wait_reached() blocks until the run sits at the gate (the tasks before
    it have run), open() lets it go on."""

    def __init__(self, workdir, task_name):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "klm_gate.py").write_text(GATE_CALLBACK)
        self.task_name = task_name

    def env(self):
        return {"ANSIBLE_CALLBACK_PLUGINS": str(self.dir), "ANSIBLE_CALLBACKS_ENABLED": "klm_gate",
                "KLM_GATE_TASK": self.task_name, "KLM_GATE_DIR": str(self.dir)}

    @property
    def reached(self):
        return (self.dir / "reached").exists()

    def wait_reached(self, worker, timeout=120):
        """Until the run waits at the gate; AssertionError (with the run's output) if it ended first."""
        deadline = time.monotonic() + timeout
        while not self.reached:
            if not worker.is_alive():
                run = worker.result(1)
                raise AssertionError("the run ended before task %r (renamed?), rc=%s:\n%s"
                                     % (self.task_name, run.rc, run.output[-4000:]))
            if time.monotonic() > deadline:
                raise AssertionError("the run did not reach task %r within %ss" % (self.task_name, timeout))
            time.sleep(0.05)

    def open(self):
        (self.dir / "open").write_text("")


class OptionsWriter(threading.Thread):
    """Another writer of the same `options` maps (as Kube-OVN is): sets options:<key>=<n> on every
    port in one ovn-nbctl transaction, n = 1, 2, ... until stop(). `last` is the last n written."""

    def __init__(self, sandbox, ports, key="foo", pause=0.1):
        super().__init__(daemon=True)
        self.sandbox, self.ports, self.key, self.pause = sandbox, list(ports), key, pause
        self.last = 0
        self.failures = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            value = self.last + 1
            args = []
            for port in self.ports:
                args += ["--", "set", "Logical_Switch_Port", port, "options:%s=%d" % (self.key, value)]
            try:
                self.sandbox.nbctl(*args[1:])
                self.last = value
            except SandboxError as exc:
                self.failures.append(str(exc))
            self.stopping.wait(self.pause)

    def stop(self):
        self.stopping.set()
        self.join(30)
        return self.last

    def lost(self):
        """Ports whose options no longer hold the last value written (a change lost)."""
        found = rows(self.sandbox.nbctl("--format=json", "--columns=name,options", "list", "Logical_Switch_Port"))
        by_name = {r["name"]: r["options"] for r in found}
        return {p: by_name.get(p, {}).get(self.key) for p in self.ports
                if by_name.get(p, {}).get(self.key) != str(self.last)}


class OwnedOptionsRecorder(threading.Thread):
    """Polls our two keys on a set of VMs' ports until stop(): keeps (time, {port: keys}) for
    every change seen, and every snapshot in which one VM's ports disagreed (a mix)."""

    def __init__(self, sandbox, vms, pause=0.05):
        super().__init__(daemon=True)
        self.sandbox, self.vms, self.pause = sandbox, {k: list(v) for k, v in vms.items()}, pause
        self.history = []
        self.mixed = []
        self.stopped_at = None
        self.stopping = threading.Event()

    def run(self):
        names = [p for ports in self.vms.values() for p in ports]
        last = None
        while not self.stopping.is_set():
            try:
                seen = owned_options(self.sandbox, names)
            except SandboxError:
                continue
            if seen != last:
                self.history.append((time.monotonic(), seen))
                last = seen
            for vm, ports in self.vms.items():
                if len(set(seen[p] for p in ports)) != 1:
                    self.mixed.append((vm, {p: seen[p] for p in ports}))
            self.stopping.wait(self.pause)

    def stop(self):
        self.stopping.set()
        self.join(30)
        self.stopped_at = time.monotonic()
        return self

    def states_since(self, since, ports):
        """The states `ports` went through from monotonic time `since` on, in order, starting with
        the one they were in at `since`."""
        states = []
        for stamp, seen in self.history:
            state = tuple(seen[p] for p in ports)
            if stamp < since:
                states = [state]
            elif not states or states[-1] != state:
                states.append(state)
        return states


class NbTransactionLog:
    """Counts, from the NB ovsdb-server's own JSON-RPC log, the transactions the modules sent over
    TCP that changed Logical_Switch_Port options, and those refused because a `wait` found the
    options changed since they were read (a conflict the module then re-reads and retries).
    Standalone sandbox only; the test's own ovn-nbctl and ovn-northd use unix sockets."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.ctl = str(sandbox.workdir / "ovn-nb" / "ovsdb-server.ctl")
        self.log = sandbox.workdir / "ovn-nb" / "ovsdb-server.log"
        self.offset = 0
        self.attempts = self.conflicts = 0

    def _appctl(self, *args):
        subprocess.run(["ovs-appctl", "-t", self.ctl] + list(args), check=True, capture_output=True, timeout=30)

    def __enter__(self):
        self.offset = self.log.stat().st_size
        self._appctl("vlog/disable-rate-limit", "jsonrpc")
        self._appctl("vlog/set", "jsonrpc:file:dbg")
        return self

    def __exit__(self, *exc):
        self._appctl("vlog/set", "jsonrpc:file:info")
        with open(self.log, "rb") as handle:
            handle.seek(self.offset)
            text = handle.read().decode(errors="replace")
        for line in text.splitlines():
            if "|jsonrpc|DBG|tcp:" not in line:
                continue
            if 'received request, method="transact"' in line and '"op":"mutate"' in line \
                    and '"Logical_Switch_Port"' in line and "requested-chassis" in line:
                self.attempts += 1
            elif "send reply" in line and '"error":"timed out"' in line:
                self.conflicts += 1


def bound_only_on_now(sandbox, ports, chassis):
    """Every port's SB Port_Binding has `chassis` as main chassis and no additional one."""
    for port in ports:
        binding = sandbox.port_binding(port) or {}
        if binding.get("chassis") != chassis or binding.get("additional_chassis") \
                or binding.get("requested_additional_chassis"):
            return False
    return True


def bound_only_on(sandbox, ports, chassis, timeout=30):
    """Wait until bound_only_on_now holds."""
    sandbox.wait_for(lambda: bound_only_on_now(sandbox, ports, chassis), timeout=timeout,
                     what="%s bound on %s only" % (ports, chassis))
