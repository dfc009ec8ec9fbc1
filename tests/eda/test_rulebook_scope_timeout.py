"""live_migration_controller.yml run by the real ansible-rulebook with the rulebook variables
live_migration_scope and live_migration_timeout: a VM that is not opted in launches nothing, and a
migration in flight past its timeout launches the cleanup job template once, asking it to cancel."""
import subprocess
import time

import pytest

from fake_controller import FakeController
from rulebook_process import Rulebook
from ansible_run import VENV_BIN

pytestmark = pytest.mark.timeout(180)

TEMPLATES = ("kubeovn-lm-prepare", "kubeovn-lm-cutover", "kubeovn-lm-cleanup")


class RulebookWithVars(Rulebook):
    """Rulebook started with a --vars file, as an operator passes the rollout settings."""

    def __init__(self, workdir, env, variables, **kwargs):
        super().__init__(workdir, env, **kwargs)
        self.variables = variables

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        inventory = self.workdir / "inventory.yml"
        inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
        variables = self.workdir / "vars.yml"
        variables.write_text("".join("%s: %s\n" % item for item in self.variables.items()))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "ansible-rulebook"), "-i", str(inventory), "-r", self.rulebook,
                 "--vars", str(variables), "-v"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=str(self.workdir), start_new_session=True)
        return self


def test_scope_and_timeout_reach_the_source_and_the_job_templates(k8s_emulator, kubevirt_sim, kubeconfig, tmp_path):
    controller = FakeController(TEMPLATES).start()
    for vmi in ("vm1", "vm2"):
        kubevirt_sim.create_vmi("ns1", vmi, "hv1")
    k8s_emulator.patch("virtualmachineinstances", "ns1", "vm1",
                       {"metadata": {"annotations": {"live-migration.kubeovn.io/enabled": "true"}}})
    env = {"K8S_AUTH_KUBECONFIG": kubeconfig, "EDA_CONTROLLER_URL": controller.url,
           "EDA_CONTROLLER_TOKEN": controller.token, "EDA_CONTROLLER_SSL_VERIFY": "no",
           "EDA_JOB_TEMPLATE_REFRESH_DELAY": "0.5"}
    rulebook = RulebookWithVars(tmp_path, env, {"live_migration_scope": "opted_in", "live_migration_timeout": 3},
                                rulebook="kubeovn.live_migration.live_migration_controller")
    rulebook.start()
    try:
        rulebook.wait_log("following VirtualMachineInstanceMigrations")
        assert "scope opted_in, migration timeout 3 s" in rulebook.log()
        # Not opted in: a whole migration launches nothing.
        kubevirt_sim.migrate("ns1", "vm2", target_node="hv2", name="other")
        kubevirt_sim.wait_phase("ns1", "other", "Succeeded")
        # Opted in, and stuck in Running past its 3 s.
        kubevirt_sim.configure("ns1", "vm1", target_node="hv2", hold_at="Running")
        stuck = kubevirt_sim.migrate("ns1", "vm1", name="stuck")
        deadline = time.monotonic() + 90
        while len(controller.launched()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(4)   # long enough for a second timeout, if one came
        launches = controller.launched()
    finally:
        rulebook.stop()
        controller.stop()
    assert [(name, body["extra_vars"]["vmim"]) for name, body in launches] == [
        ("kubeovn-lm-prepare", "stuck"), ("kubeovn-lm-cleanup", "stuck")], rulebook.log()[-4000:]
    prepare, cleanup = (body["extra_vars"] for _unused, body in launches)
    assert prepare["live_migration_scope"] == "opted_in" and "cancel" not in prepare
    assert (cleanup["vmim_uid"], cleanup["vmi"], cleanup["cancel"], cleanup["timed_out"]) == (
        stuck["metadata"]["uid"], "vm1", True, True)
    assert str(cleanup["migration_timeout"]) == "3" and cleanup["live_migration_scope"] == "opted_in"
    event = cleanup["ansible_eda"]["event"]
    assert (event["type"], event["timeout"], event["network_opt"], event["phase"]) == ("timeout", 3, "in", "Running")
    assert (event["action"], event["cancel"], cleanup["plan_action"]) == ("rollback", True, "rollback")
