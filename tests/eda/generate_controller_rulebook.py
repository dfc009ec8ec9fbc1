"""Build extensions/eda/rulebooks/live_migration_controller.yml from live_migration.yml: the same source
and rules, each run_playbook turned into the run_job_template of AWX / Automation Controller.

    python tests/eda/generate_controller_rulebook.py          # writes the controller rulebook
    python tests/eda/generate_controller_rulebook.py --check  # exit 1 when the committed one differs

test_rulebooks.py fails when the committed file is not what this script writes.
"""
import sys
from pathlib import Path

import yaml

RULEBOOKS = Path(__file__).resolve().parents[2] / "extensions" / "eda" / "rulebooks"
MAIN = RULEBOOKS / "live_migration.yml"
CONTROLLER = RULEBOOKS / "live_migration_controller.yml"

# Playbook -> (rulebook variable naming its job template, default job template name).
JOB_TEMPLATES = {
    "kubeovn.live_migration.pin": ("klm_pin_job_template", "kubeovn-lm-pin"),
    "kubeovn.live_migration.prepare": ("klm_prepare_job_template", "kubeovn-lm-prepare"),
    "kubeovn.live_migration.cutover": ("klm_cutover_job_template", "kubeovn-lm-cutover"),
    "kubeovn.live_migration.cleanup": ("klm_cleanup_job_template", "kubeovn-lm-cleanup"),
}
# A batch of prepares runs the prepare job template unless klm_prepare_batch_job_template names another
# (it ran the former prepare_batch playbook).
BATCH_CONDITION = 'event.type == "prepare_batch"'
BATCH_TEMPLATE = "klm_prepare_batch_job_template"
ORGANIZATION = "{{ klm_organization | default('Default') }}"

HEADER = """---
# GENERATED from live_migration.yml by tests/eda/generate_controller_rulebook.py: edit that file and
# run the script (a test fails when this file differs from what it writes).
#
# The rules of live_migration.yml for a rulebook activation in AWX / Automation Controller (EDA
# controller): each action launches a job template instead of a local playbook.
#
# Job templates (names and organization are rulebook variables: klm_prepare_job_template,
# klm_cutover_job_template, klm_cleanup_job_template, default kubeovn-lm-prepare, kubeovn-lm-cutover,
# kubeovn-lm-cleanup; klm_organization, default Default) run the collection's playbooks
# kubeovn.live_migration.prepare / cutover / cleanup from a project that installs the collection, with
# "Prompt on launch" for extra variables, the OVN credential and the Kubernetes (OpenShift or
# Kubernetes API Bearer Token) credential. The activation itself needs a Kubernetes credential for the
# source (K8S_AUTH_* injected) and the controller's credential.
#
# The rules test the event's `action` (the collection's planner, decided in the event source): prepare,
# cutover, rollback. The job templates get the event's fields as extra vars (vmim, vmim_uid, vmi,
# namespace, phase, source_node, target_node, migration_state_matches, action, reason,
# live_migration_scope) and the whole event as ansible_eda.event; a rollback also gets cancel,
# timed_out and migration_timeout. A batch of prepares (gathered while others ran, a burst; see
# live_migration_prepare_batch_window) launches klm_prepare_batch_job_template, default: the prepare
# job template, with `migrations`.
# Rulebook variables as in live_migration.yml: vmim_namespaces, vmim_label_selector,
# live_migration_scope, live_migration_timeout, live_migration_prepare_batch_window,
# live_migration_reassert (default true: with OVN_NB_DB in the activation's environment, the source
# watches the NB ports of the migrating VMs and the prepare rule restores keys that vanished).
"""


class _Dumper(yaml.SafeDumper):
    """Block style, no anchors (the loaded rulebook shares its event vars between rules)."""

    def ignore_aliases(self, data):
        return True

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _string(dumper, value):
    # "{{ x | default('all') }}" as written in the main rulebook, rather than '{{ ... default(''all'') }}'.
    style = '"' if ('{{' in value or "'" in value) and '"' not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def _job_template(rule):
    playbook = rule["action"]["run_playbook"]
    variable, default = JOB_TEMPLATES[playbook["name"]]
    name = "%s | default('%s')" % (variable, default)
    if BATCH_CONDITION in rule["condition"]:
        name = "%s | default(%s)" % (BATCH_TEMPLATE, name)
    action = {"name": "{{ %s }}" % name, "organization": ORGANIZATION}
    if "lock" in playbook:
        action["lock"] = playbook["lock"]
    action["job_args"] = {"extra_vars": playbook.get("extra_vars") or {}}
    return {"run_job_template": action}


def controller_rulebook(main_text):
    """The controller rulebook's text, from the main rulebook's."""
    rulesets = yaml.safe_load(main_text)
    out = []
    for ruleset in rulesets:
        controller = dict(ruleset, name=ruleset["name"] + " (AWX / Automation Controller)", hosts="all")
        controller["rules"] = [dict(rule, action=_job_template(rule)) for rule in ruleset["rules"]]
        out.append(controller)
    body = yaml.dump(out, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)
    return HEADER + body


def main(argv):
    text = controller_rulebook(MAIN.read_text())
    if "--check" in argv:
        if CONTROLLER.read_text() != text:
            sys.stderr.write("%s differs from what %s writes: run it\n" % (CONTROLLER, __file__))
            return 1
        return 0
    CONTROLLER.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
