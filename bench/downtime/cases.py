"""The three ways a migration's ports are handled, each a driver(lab, namespace, vmi) that
migrates the VMI from hv1 to hv2 and returns once the migration has ended.

unprepared           the port stays pinned to the source (requested-chassis=hv1, which the sim,
                     playing Kube-OVN, set when the VM started) until the VMIM is Succeeded; then one
                     cutover to hv2, written the moment a watch sees Succeeded, by one OVSDB mutate
                     on an open connection: the best such a network can do.
collection/playbook  `ansible-playbook kubeovn.live_migration.live_migrate` creates the VMIM and
                     drives every phase.
collection/eda       the collection's rulebook under the real ansible-rulebook (started once for
                     the case) reacts to the VMIM that `virtctl migrate` (the sim) creates.
"""
import json
import subprocess
import threading
import time

from kubernetes import client, watch

from .lab import CNI_TIMEOUT, ROOT, TARGET, MigrationFailed  # first: puts tests/ and tests/eda on sys.path
from rulebook_process import Rulebook  # noqa: E402  pylint: disable=wrong-import-order

VENV_BIN = ROOT / ".venv" / "bin"
GROUP, VERSION, VMIMS = "kubevirt.io", "v1", "virtualmachineinstancemigrations"
PLAYBOOK_TIMEOUT = 180


def nb_client(lab):
    """An open NB connection through the collection's OVSDB client (a plain JSON-RPC transport)."""
    import os
    import sys
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep)[0] or str(ROOT / ".venv" / "collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb
    return ovsdb.connect(lab.sandbox.nb_remote, "OVN_Northbound")


class Unprepared:
    name = "unprepared"
    cni_timeout = None          # the port is never bound on the target before the end: nothing to wait for

    def __init__(self, lab):
        self.nb = None

    def __call__(self, lab, namespace, vmi):
        # Connected per run: an idle OVSDB session is dropped after its inactivity probe.
        self.nb = nb_client(lab)
        custom = client.CustomObjectsApi(lab.emulator.api_client())
        listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, VMIMS)
        stream = watch.Watch()
        ended = {}
        lsps = lab.sandbox.vm_ports(namespace, vmi)

        def follow():
            for event in stream.stream(custom.list_namespaced_custom_object, GROUP, VERSION, namespace, VMIMS,
                                       resource_version=listed["metadata"]["resourceVersion"], timeout_seconds=120):
                phase = (event["raw_object"].get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    if phase == "Succeeded":
                        self.cutover(lsps)
                    ended["phase"] = phase
                    stream.stop()
        thread = threading.Thread(target=follow, name="unprepared-cutover", daemon=True)
        thread.start()
        lab.sim.migrate(namespace, vmi, target_node=TARGET)
        thread.join(120)
        self.close()
        if ended.get("phase") != "Succeeded":
            raise RuntimeError("unprepared migration of %s/%s ended %s" % (namespace, vmi, ended.get("phase")))

    def cutover(self, lsps):
        ops = [{"op": "mutate", "table": "Logical_Switch_Port", "where": [["name", "==", lsp]],
                "mutations": [["options", "delete", ["set", ["requested-chassis", "activation-strategy"]]],
                              ["options", "insert", ["map", [["requested-chassis", TARGET]]]]]} for lsp in lsps]
        self.nb.transact(ops)

    def close(self):
        if self.nb is not None:
            self.nb.close()
            self.nb = None


class Playbook:
    name = "collection/playbook"
    cni_timeout = CNI_TIMEOUT

    def __init__(self, lab):
        from ansible_run import ansible_env
        self.env = ansible_env(lab.env)

    def __call__(self, lab, namespace, vmi):
        lab.sim.configure(namespace, vmi, target_node=TARGET)
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
               "kubeovn.live_migration.live_migrate",
               "-e", json.dumps({"vmi": vmi, "namespace": namespace, "target_node": TARGET})]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=str(ROOT),
                              timeout=PLAYBOOK_TIMEOUT, check=False)
        failed = [line.strip() for line in proc.stdout.splitlines() if "ended Failed" in line]
        if proc.returncode != 0 and failed:
            raise MigrationFailed("live_migrate: %s" % failed[-1])
        if proc.returncode != 0:
            raise RuntimeError("live_migrate failed (exit %d):\n%s" % (proc.returncode, (proc.stdout + proc.stderr)[-3000:]))

    def close(self):
        pass


class Eda:
    name = "collection/eda"
    cni_timeout = CNI_TIMEOUT

    def __init__(self, lab):
        lab.forget_migrations()
        self.rulebook = Rulebook(lab.workdir / "rulebook", lab.env).start()
        try:
            self.rulebook.wait_log("Waiting for events", timeout=180)
        except BaseException:
            self.rulebook.stop()
            raise

    # The play of the run that ends each migration: the cutover rule's, or the rollback rule's.
    LAST_PLAY = {"Succeeded": "PLAY [Cut migrated VMIs", "Failed": "PLAY [Roll a VMI's ports back"}

    def __call__(self, lab, namespace, vmi):
        log = self.rulebook.log()
        ended = dict((phase, log.count(play)) for phase, play in self.LAST_PLAY.items())
        vmim = lab.sim.migrate(namespace, vmi, target_node=TARGET)["metadata"]["name"]
        phase = lab.sim.wait_phase(namespace, vmim, ["Succeeded", "Failed"], timeout=120)["status"]["phase"]
        # The runs of one VM go one at a time (pin, prepare, cutover or rollback): the one the migration's
        # end started comes last. Then the next migration starts with the rulebook idle.
        self.wait_playbooks(self.LAST_PLAY[phase], ended[phase] + 1)
        if phase != "Succeeded":
            raise MigrationFailed("migration %s/%s ended %s: %s" % (namespace, vmim, phase, self.reason(lab, namespace, vmim)))

    @staticmethod
    def reason(lab, namespace, vmim):
        events = lab.emulator.list("events", namespace)
        return "; ".join(e.get("message", "") for e in events if (e.get("involvedObject") or {}).get("name") == vmim)

    def wait_playbooks(self, play, count):
        """Until `count` plays starting with `play` are in the log and every play started has ended."""
        deadline = time.monotonic() + 120
        while True:
            log = self.rulebook.log()
            if log.count(play) >= count and log.count("PLAY RECAP") >= log.count("PLAY ["):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the rulebook's playbooks did not finish:\n%s" % log[-3000:])
            time.sleep(0.05)

    def close(self):
        self.rulebook.stop()


CASES = (Unprepared, Playbook, Eda)
NAMES = tuple(c.name for c in CASES)
