"""Where the documents' reader is when they type a command, and what it must have changed.

One scene per documented command (or family of commands): a pattern, what to put in place first
(the lab as the reader finds it at that point of the document), and what to read afterwards from
the NB or the API server (beyond the command's exit status). A command with no scene is held to
its exit status only.
"""
import re
import subprocess

from faults.fault_helpers import owned_options

VM_DB = "vms", "db-0"
CANARY = "vm-canary", "db-0"
MIGRATION = "db-0-migration-x7k2q"   # the VMIM name docs/real-cluster.md uses
ENABLED, TIMEOUT = "live-migration.kubeovn.io/enabled", "live-migration.kubeovn.io/timeout"
ROLLOUT_LABEL = "live-migration.kubeovn.io/rollout"
VMIS, VMS = "virtualmachineinstances", "virtualmachines"
# Commands that only read the Events the collection posted for db-0's migrations.
READERS_OF_EVENTS = r"^kubectl (events|get events|.*describe vmi)|^uid=\$\(kubectl -n vms get vmim "


# ---- reading the lab --------------------------------------------------------------------------
def vmi_annotations(lab, namespace, name):
    return lab["k8s"].get(VMIS, namespace, name)["metadata"].get("annotations") or {}


def template_annotations(lab, namespace, name):
    vm = lab["k8s"].get(VMS, namespace, name)
    return ((vm["spec"]["template"].get("metadata") or {}).get("annotations")) or {}


def owned(lab):
    return set(owned_options(lab["ovn"], lab["ports"][VM_DB]).values())


def kube_ovn_args(lab):
    deployment = lab["k8s"].get("deployments", "kube-system", "kube-ovn-controller")
    return deployment["spec"]["template"]["spec"]["containers"][0]["args"]


# ---- putting the lab in place -------------------------------------------------------------------
def held_migration(lab):
    """db-0's migration, running (after prepare, before cutover)."""
    sim = lab["sim"]
    sim.configure(*VM_DB, target_node="hv2", hold_at="Running")
    sim.migrate(*VM_DB, name=MIGRATION)
    sim.wait_phase(VM_DB[0], MIGRATION, ["Running"])


def finished_migration(lab, namespace=VM_DB[0]):
    lab["sim"].migrate(namespace, "db-0", name=MIGRATION)
    lab["sim"].wait_phase(namespace, MIGRATION, ["Succeeded"], timeout=60)


def recorded_migrations(lab):
    """Finished migrations of db-0 in vms and vm-canary the collection handled (its cutover
    playbook run, as docs/real-cluster.md shows), so that its Events are there to read."""
    for namespace in (VM_DB[0], CANARY[0]):
        finished_migration(lab, namespace)
        proc = subprocess.run(["ansible-playbook", "kubeovn.live_migration.cutover", "-e", "vmim=" + MIGRATION,
                               "-e", "namespace=" + namespace], env=lab["env"], cwd=str(lab["dir"]),
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]


def half_migrated(lab):
    """A half-migrated VM for the sweep and the rollback to put right."""
    lab["ovn"].nbctl("set", "Logical_Switch_Port", lab["ports"][VM_DB][0],
                     "options:requested-chassis=hv1,hv3", "options:activation-strategy=rarp")


def annotate(lab, namespace, name, annotations, vm=False):
    lab["k8s"].patch(VMIS, namespace, name, {"metadata": {"annotations": annotations}})
    if vm:
        lab["k8s"].patch(VMS, namespace, name, {"spec": {"template": {"metadata": {"annotations": annotations}}}})


def vmi_on_node_a(lab):
    """Nodes labelled for the rollout's second stage, one VM running on node-a."""
    for node in ("node-a", "node-b", "node-c"):
        lab["k8s"].patch("nodes", None, node, {"metadata": {"labels": {ROLLOUT_LABEL: "stage2"}}})
    lab["sim"].create_vmi("stage2", "app-0", "node-a")


def drained_by_migration(lab, out):
    """kubectl drain as on a KubeVirt cluster: virt-api refused the eviction (429) and marked the VMI,
    virt-controller migrated it off the cordoned node, the drain ended once the old pod was evicted."""
    k8s = lab["k8s"]
    evacuations = [m for m in k8s.list("vmim", "stage2") if m["metadata"]["name"].startswith("kubevirt-evacuation-")
                   and (m["metadata"].get("annotations") or {}).get("kubevirt.io/evacuationMigration") == "node-a"]
    vmi = k8s.get("vmi", "stage2", "app-0")
    return ('Eviction triggered evacuation of VMI "stage2/app-0"' in out and "node/node-a drained" in out
            and k8s.get("nodes", None, "node-a")["spec"].get("unschedulable") is True
            and [(m.get("status") or {}).get("phase") for m in evacuations] == ["Succeeded"]
            and vmi["status"]["nodeName"] != "node-a" and not vmi["status"].get("evacuationNodeName")
            and not k8s.list("pods", field_selector="spec.nodeName=node-a"))


def new_kube_ovn_generation(lab):
    lab["k8s"].patch("deployments", "kube-system", "kube-ovn-controller",
                     {"spec": {"template": {"metadata": {"annotations": {"restartedAt": "now"}}}}})


# ---- the scenes --------------------------------------------------------------------------------
def _playbook_scenes():
    yield (r"\.prepare -e vmim=" + MIGRATION, held_migration,
           lambda lab, out: owned(lab) == {("hv1,hv2", "rarp")})
    yield (r"\.cutover -e vmim=" + MIGRATION, finished_migration, lambda lab, out: owned(lab) == {("hv2", None)})
    yield (r"\.live_migrate -e vmi=db-0 -e namespace=vms\b", None, lambda lab, out: owned(lab) == {("hv2", None)})
    yield (r"\.(reconcile|cleanup)\b.*(--check|opted_in)", half_migrated, None)
    yield (r"\.(reconcile|cleanup)\b", half_migrated, lambda lab, out: owned(lab) == {("hv1", None)})
    yield (r"^ansible-doc ", None, lambda lab, out: "OPTIONS" in out)
    yield (r"^ovn-(nb|sb)ctl", None, lambda lab, out: "db-0.vms" in out)


def canary_cut_over(lab, _out):
    return set(owned_options(lab["ovn"], lab["ports"][CANARY]).values()) == {("hv2", None)}


def _rulebook_scenes():
    # The rulebook, shown db-0's migration in vm-canary (documented_commands.WATCHERS): cut over to hv2.
    # docs/rollout.md starts it in scope opted_in on vm-canary, after stage 1 opted the canary VMs in.
    yield (r"ansible-rulebook -i .*--vars rollout\.yml", lambda lab: annotate(lab, *CANARY, {ENABLED: "true"}),
           canary_cut_over)
    yield (r"ansible-rulebook -i ", None, canary_cut_over)


def _kubectl_scenes():
    # Reading the collection's Events (docs/events-and-report.md, docs/rollout.md).
    # Reading the collection's Events, in the lab recorded_migrations() prepared once. The emulator
    # serves no server-side Table, so `kubectl get` prints names (db-0.<hash>) where a real cluster
    # prints reasons; -o yaml, describe and kubectl events print the reasons.
    yield (r"kubectl get events -A --field-selector reportingComponent=kubeovn-live-migration$", None,
           lambda lab, out: re.search(r"^vms\s+db-0\.[0-9a-f]+\s", out, re.M))
    yield (r"^uid=\$\(kubectl -n vms get vmim " + MIGRATION, None, None)
    yield (READERS_OF_EVENTS, None, lambda lab, out: "NetworkCutover" in out)
    # Opting VMs in and out, the timeout annotation (docs/rollout.md).
    yield (r"-n vm-canary annotate vmi db-0 %s=true" % ENABLED, None,
           lambda lab, out: vmi_annotations(lab, *CANARY).get(ENABLED) == "true")
    yield (r"-n vm-canary patch vm db-0 --type merge .*enabled\":\"true", None,
           lambda lab, out: template_annotations(lab, *CANARY).get(ENABLED) == "true")
    yield (r"-n vm-canary annotate vmi db-0 %s=900" % TIMEOUT, None,
           lambda lab, out: vmi_annotations(lab, *CANARY).get(TIMEOUT) == "900")
    yield (r"-n vm-canary patch vm db-0 --type merge .*timeout\":\"900", None,
           lambda lab, out: template_annotations(lab, *CANARY).get(TIMEOUT) == "900")
    yield (r"-n vm-canary annotate vmi db-0 %s-" % TIMEOUT, lambda lab: annotate(lab, *CANARY, {TIMEOUT: "900"}),
           lambda lab, out: TIMEOUT not in vmi_annotations(lab, *CANARY))
    yield (r"-n vm-canary patch vm db-0 --type json .*remove",
           lambda lab: annotate(lab, *CANARY, {TIMEOUT: "900"}, vm=True),
           lambda lab, out: TIMEOUT not in template_annotations(lab, *CANARY))
    yield (r"-n legacy annotate vmi old-db %s=false" % ENABLED, None,
           lambda lab, out: vmi_annotations(lab, "legacy", "old-db").get(ENABLED) == "false")
    yield (r"-n legacy patch vm old-db --type merge", None,
           lambda lab, out: template_annotations(lab, "legacy", "old-db").get(ENABLED) == "false")
    yield (r"custom-columns=.*ENABLED:", lambda lab: annotate(lab, *CANARY, {ENABLED: "true"}),
           lambda lab, out: re.search(r"^vm-canary\s+db-0\s+hv1\s+true\s", out, re.M))
    yield (r"for name in .*opt_in vm-canary", None,
           lambda lab, out: vmi_annotations(lab, *CANARY).get(ENABLED) == "true"
           and template_annotations(lab, *CANARY).get(ENABLED) == "true" and "db-0" in out)
    yield (r"for node in .*%s=stage2" % ROLLOUT_LABEL, vmi_on_node_a,
           lambda lab, out: vmi_annotations(lab, "stage2", "app-0").get(ENABLED) == "true"
           and ENABLED not in vmi_annotations(lab, *VM_DB))
    yield (r"for ns in .*annotate vmi --all %s-" % ENABLED,
           lambda lab: [annotate(lab, ns, name, {ENABLED: "true", TIMEOUT: "900"}) for ns, name in (CANARY, VM_DB)],
           lambda lab, out: not any({ENABLED, TIMEOUT} & set(vmi_annotations(lab, ns, name))
                                    for ns, name in (CANARY, VM_DB)))
    yield (r"get vmim -A --no-headers", held_migration, lambda lab, out: MIGRATION in out)
    # Nodes (docs/rollout.md).
    yield (r"kubectl label node node-a node-b node-c", None,
           lambda lab, out: all(lab["k8s"].get("nodes", None, n)["metadata"]["labels"].get(ROLLOUT_LABEL) == "stage2"
                                for n in ("node-a", "node-b", "node-c")))
    yield (r"kubectl drain node-a ", vmi_on_node_a, drained_by_migration)
    yield (r"kubectl uncordon node-a",
           lambda lab: lab["k8s"].patch("nodes", None, "node-a", {"spec": {"unschedulable": True}}),
           lambda lab, out: not lab["k8s"].get("nodes", None, "node-a")["spec"].get("unschedulable"))
    # Kube-OVN's own live-migration handling (docs/rollout.md, docs/real-cluster.md).
    yield (r"kubectl replace -f -", None,
           lambda lab, out: [a for a in kube_ovn_args(lab) if "live-migration" in a]
           == ["--enable-live-migration-optimize=false"])
    yield (r"rollout status deploy kube-ovn-controller", new_kube_ovn_generation,
           lambda lab, out: "successfully rolled out" in out)
    yield (r"get deploy kube-ovn-controller .*grep live-migration", None,
           lambda lab, out: "--enable-live-migration-optimize=true" in out)
    # Pointing the shell at the cluster's OVN databases through their Services (docs/real-cluster.md).
    for db, port in (("nb", 6641), ("sb", 6642)):
        yield (r"^export OVN_%s_DB=tcp:\$\(kubectl" % db.upper(), None,
               lambda lab, out, db=db, port=port: "OVN_%s_DB=tcp:%s:%d\n" % (
                   db.upper(), lab["k8s"].get("services", "kube-system", "ovn-" + db)["spec"]["clusterIP"], port) in out)
    # The OVN TLS files: a directory of the reader's, then the key made private (docs/real-cluster.md).
    yield (r"^mkdir -p ~/\.ovn && cd ~/\.ovn$", None, lambda lab, out: (lab["home"] / ".ovn").is_dir())
    yield (r"^chmod 600 key\.pem$", lambda lab: (lab["dir"] / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n"),
           lambda lab, out: (lab["dir"] / "key.pem").stat().st_mode & 0o777 == 0o600)
    yield (r"get secret kube-ovn-tls", None,
           lambda lab, out: all((lab["dir"] / (k + ".pem")).read_text().startswith("-----BEGIN")
                                for k in ("cacert", "cert", "key")))
    # RBAC (docs/rbac.md, docs/awx.md).
    yield (r"kubectl apply -f extensions/awx/rbac.yml", None,
           lambda lab, out: "kubectl.kubernetes.io/last-applied-configuration" in
           lab["k8s"].get("clusterroles", None, "kubeovn-live-migration:playbooks")["metadata"]["annotations"])
    yield (r"create token kubeovn-live-migration", None,
           lambda lab, out: lab["k8s"].tokens.get(out.strip(), [None])[0]
           == "system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration")
    yield (r"create clusterrolebinding (\S+)", None,
           lambda lab, out: any(s["name"] == "jane" for binding in lab["k8s"].list("clusterrolebindings")
                                if binding["metadata"]["name"].endswith(":jane") for s in binding["subjects"]))


SCENES = list(_playbook_scenes()) + list(_rulebook_scenes()) + list(_kubectl_scenes())


def scene(command):
    """(prepare, check) of the first scene whose pattern the command matches, or (None, None)."""
    for pattern, prepare, check in SCENES:
        if re.search(pattern, command, re.M | re.S):
            return prepare, check
    return None, None


def needs_ovn(command):
    """The commands that run the collection (or read the NB) get the lab with the OVN sandbox; an
    `export` only sets the reader's shell variables."""
    return not command.startswith("export ") and bool(re.search(r"\bansible|ovn-nbctl|ovn-sbctl|OVN_|" + READERS_OF_EVENTS, command))
