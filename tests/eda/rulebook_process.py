"""The real ansible-rulebook, started as an operator would (collection rulebook by FQCN, a local
inventory), in a session of its own so that stop() ends it and the playbooks it started."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from ansible_run import VENV_BIN, ansible_env, kill_processes_mentioning

INVENTORY = "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"


class Rulebook:
    def __init__(self, workdir, env, rulebook="kubeovn.live_migration.live_migration", name="rulebook", verbosity=1,
                 variables=None):
        self.verbosity = verbosity
        self.variables = variables or {}
        self.workdir = Path(workdir)
        self.env = ansible_env(env)
        self.rulebook = rulebook
        self.log_path = self.workdir / (name + ".log")
        # ansible-runner's private data dirs (one per action) go here, through TMPDIR: the
        # playbooks it starts run in sessions of their own, and stop() finds them by this path.
        self.runs = self.workdir / (name + "-runs")
        self.env["TMPDIR"] = str(self.runs)
        self.proc = None

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.runs.mkdir(exist_ok=True)
        inventory = self.workdir / "inventory.yml"
        inventory.write_text(INVENTORY)
        command = [str(VENV_BIN / "ansible-rulebook"), "-i", str(inventory), "-r", self.rulebook, "-" + "v" * self.verbosity]
        if self.variables:
            # Rulebook variables, as an operator passes them (--vars FILE).
            variables = self.workdir / "vars.json"
            variables.write_text(json.dumps(self.variables))
            command += ["--vars", str(variables)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                command,
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=str(self.workdir), start_new_session=True)
        return self

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError("ansible-rulebook exited (%s):\n%s" % (self.proc.returncode, self.log()[-4000:]))
            if time.monotonic() > deadline:
                raise AssertionError("%r not in the rulebook log after %ss:\n%s" % (text, timeout, self.log()[-4000:]))
            time.sleep(0.1)

    def stop(self):
        """SIGTERM to its session, SIGKILL if it lingers; then the playbooks it started, which
        ansible-runner puts in sessions of their own (left running, they outlive the test)."""
        try:
            self._stop_session()
        finally:
            self._kill_playbooks()

    def _kill_playbooks(self):
        kill_processes_mentioning(self.runs)

    def _stop_session(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def rulebook_lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path, cni_timeout, pinned_start=True):
    """Generator for a pytest fixture: (simulated KubeVirt on `ovn_sandbox`, rulebook(name) that
    starts the collection's rulebook against them); everything stopped afterwards.

    pinned_start: VMs start with their ports pinned, as the rulebook's pin rule leaves them. The
    simulated target pod is plugged 0.1 s after the VMIM is created, sooner than any Ansible run can
    pin (a real virt-launcher pod takes seconds to reach its CNI): tests of the prepare path start
    pinned so the target's CNI wait needs the prepare; test_rulebook_pin.py starts unpinned, as
    Kube-OVN does, and holds the migration before the target pod is scheduled."""
    from kubevirt_sim import KubevirtSim
    sim = KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05, cni_timeout=cni_timeout,
                      pinned_start=pinned_start)
    sim.start()
    if k8s_emulator.operator_token:
        # run_playbook: the source and the playbooks share ansible-rulebook's identity, an operator's
        # holding both of rbac.yml's ClusterRoles (docs/rbac.md, "One identity").
        kubeconfig = str(k8s_emulator.write_kubeconfig(tmp_path / "operator-kubeconfig", k8s_emulator.operator_token))
    env = {"K8S_AUTH_KUBECONFIG": kubeconfig, "OVN_NB_DB": ovn_sandbox.nb_remote,
           "OVN_SB_DB": ovn_sandbox.sb_remote}
    rulebooks = []

    def rulebook(name="rulebook"):
        run = Rulebook(tmp_path, env, name=name).start()
        rulebooks.append(run)
        return run

    try:
        yield sim, rulebook
    finally:
        for run in rulebooks:
            run.stop()
        sim.stop()


def vm_started_on_hv1(sim, ovn_vm):
    """A VM with two NICs running on hv1: ovn_vm's {namespace, vm, ports (name, mac, ip)}."""
    vm = ovn_vm(providers=("net1",), hv="hv1")
    sim.create_vmi(vm["namespace"], vm["vm"], "hv1", ports=vm["ports"])
    return vm


def vm_on_hv1(sim, ovn_vm):
    """A VM with two NICs running on hv1: (namespace, vmi, port names)."""
    vm = vm_started_on_hv1(sim, ovn_vm)
    return vm["namespace"], vm["vm"], [p["name"] for p in vm["ports"]]
