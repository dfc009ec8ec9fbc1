"""The bench's world: a real OVN sandbox (hv1, hv2), the Kubernetes emulator, and the collection's
rulebook under the real ansible-rulebook. KubeVirt's writes are made straight in the emulator's
store so that the instant of the change is known exactly."""
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for extra in (ROOT / "tests", ROOT / "tests" / "eda"):   # the sandbox, the emulator, the rulebook runner
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from k8s_emulator import K8sEmulator  # noqa: E402
from ovn_sandbox import OvnSandbox  # noqa: E402
from rulebook_process import Rulebook  # noqa: E402

MIGRATION_JOB_LABEL = "kubevirt.io/migrationJobUID"


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class Lab:
    def __init__(self, workdir=None, max_concurrent_actions=None, verbosity=1,
                 rulebook="kubeovn.live_migration.live_migration", batch_window=None):
        self.verbosity = verbosity
        self.batch_window = batch_window
        self.rulebook_name = rulebook
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-eda-") if workdir is None else None
        self.workdir = Path(workdir or self.tmp.name)
        self.max_concurrent_actions = max_concurrent_actions
        self.sandbox = self.emulator = self.rulebook = None

    def __enter__(self):
        log("starting OVN sandbox, Kubernetes emulator and ansible-rulebook in %s" % self.workdir)
        self.sandbox = OvnSandbox(self.workdir / "ovn", hypervisors=("hv1", "hv2"))
        self.sandbox.start()
        self.emulator = K8sEmulator(token="bench").start()
        kubeconfig = self.emulator.write_kubeconfig(self.workdir / "kubeconfig")
        env = {"K8S_AUTH_KUBECONFIG": str(kubeconfig), "OVN_NB_DB": self.sandbox.nb_remote,
               "OVN_SB_DB": self.sandbox.sb_remote}
        if self.max_concurrent_actions:
            env["EDA_MAX_CONCURRENT_ACTIONS"] = str(self.max_concurrent_actions)
        # None: the rulebook's default (adaptive batching); a number, 0 included, overrides it.
        variables = None if self.batch_window is None else {"live_migration_prepare_batch_window": self.batch_window}
        self.rulebook = Rulebook(self.workdir, env, rulebook=self.rulebook_name, verbosity=self.verbosity,
                                 variables=variables).start()
        self.rulebook.wait_log("following VirtualMachineInstanceMigrations", timeout=120)
        self.rulebook.wait_log("Waiting for events", timeout=120)
        return self

    def __exit__(self, *exc):
        for part in (self.rulebook, self.emulator, self.sandbox):
            if part is not None:
                part.stop()
        if self.tmp is not None:
            self.tmp.cleanup()

    # ---- KubeVirt's side, written in the store -------------------------------------------------
    def vm(self, prefix="vm"):
        """A running VM on hv1: its Kube-OVN port plugged and bound there, its VMI. Returns (ns, vm, lsp)."""
        suffix = uuid.uuid4().hex[:6]
        namespace, name = "bench-" + suffix, "%s-%s" % (prefix, suffix)
        lsp = self.sandbox.create_vm(namespace, name)[0]["name"]
        self.sandbox.add_vm_port("hv1", lsp)
        self.emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                              "metadata": {"namespace": namespace, "name": name}, "spec": {},
                              "status": {"phase": "Running", "nodeName": "hv1"}})
        return namespace, name, lsp

    def wait_bound(self, lsps, chassis="hv1", timeout=60):
        self.sandbox.wait_for(lambda: all((self.sandbox.port_binding(p) or {}).get("chassis") == chassis
                                          for p in lsps), timeout=timeout, what="ports bound on " + chassis)

    def pending_migration(self, namespace, vmi):
        return self.emulator.create({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"namespace": namespace, "name": vmi + "-mig"}, "spec": {"vmiName": vmi},
            "status": {"phase": "Pending"}})

    def target_scheduled(self, vmim, node="hv2"):
        """What KubeVirt and the scheduler write when the target is chosen: the target pod, bound to
        `node`, and the VMIM's phase Scheduling -> Scheduled."""
        namespace = vmim["metadata"]["namespace"]
        self.emulator.create({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": namespace, "name": vmim["metadata"]["name"] + "-target",
                         "labels": {MIGRATION_JOB_LABEL: vmim["metadata"]["uid"]}},
            "spec": {"nodeName": node, "containers": [{"name": "compute", "image": "virt-launcher"}]}})
        self.emulator.patch("virtualmachineinstancemigrations", namespace, vmim["metadata"]["name"],
                            {"status": {"phase": "Scheduled"}}, subresource="status")

    def plug_target(self, lsp, node="hv2"):
        """The target pod's CNI plugs the VM's port on the target (untimed: after t0)."""
        self.sandbox.add_vm_port(node, lsp)

    def playbooks_done(self):
        """How many actions (playbooks or modules) ansible-runner has finished (logged with -vv)."""
        return self.rulebook.log().count("Ansible runner rc:")

    def playbooks_running(self):
        """How many ansible-playbook processes the rulebook runs now (its descendants in /proc; other
        sessions' runs on the machine do not count, and no log level is needed)."""
        parents, commands = {}, {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                commands[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        root = self.rulebook.proc.pid

        def under_rulebook(pid):
            while pid > 1:
                pid = parents.get(pid, 0)
                if pid == root:
                    return True
            return False
        return sum(1 for pid, command in commands.items()
                   if b"ansible-playbook" in command and under_rulebook(pid))

    def succeeded(self, vmim, lsp, node="hv2", unplug=True):
        """The switchover: the VMI is on `node`, the source pod's port goes, the VMIM succeeded.
        unplug=False leaves the source port to unplug_source() (a burst writes the API first)."""
        namespace, vmi = vmim["metadata"]["namespace"], vmim["spec"]["vmiName"]
        self.emulator.patch("virtualmachineinstances", namespace, vmi, {"status": {"nodeName": node, "migrationState": {
            "migrationUid": vmim["metadata"]["uid"], "sourceNode": "hv1", "targetNode": node, "completed": True}}},
            subresource="status")
        if unplug:
            self.unplug_source(lsp)
        self.emulator.patch("virtualmachineinstancemigrations", namespace, vmim["metadata"]["name"],
                            {"status": {"phase": "Succeeded"}}, subresource="status")

    def unplug_source(self, lsp, node="hv1"):
        """The source pod goes: its port leaves `node`."""
        self.sandbox.remove_vm_port(node, lsp)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)
