"""The cluster the documents' reader types their commands into (test_documented_commands.py).

The emulated API server on HTTPS (kubectl sends its bearer token only there), enforcing
extensions/awx/rbac.yml for the collection's identities while the reader's own kubectl is a cluster
admin (KUBECONFIG), as on a real cluster. What the documents name is there: the VMs (web-1 in prod,
db-0 in vms and vm-canary, old-db in legacy; db-0 in vm-canary and old-db are VirtualMachines, the
others bare VMIs), nodes node-a to node-c besides the hypervisors, Kube-OVN's controller Deployment,
its ovn-nb / ovn-sb Services and TLS Secret in kube-system, the objects of rbac.yml, and a
Deployment controller for `kubectl rollout status`. With `ovn=True` the real OVN sandbox backs the
VMs' ports (commands that run playbooks or ovn-nbctl); commands that only touch Kubernetes get the
lab without it, which starts in a fraction of the time.
"""
import base64
import contextlib
import time
from pathlib import Path

import yaml

from ansible_run import ansible_env

ROOT = Path(__file__).resolve().parents[2]
# (namespace, name, Multus providers, made from a VirtualMachine)
DOCUMENTED_VMS = [("prod", "web-1", (), False), ("vms", "db-0", ("net1",), False),
                  ("vm-canary", "db-0", (), True), ("legacy", "old-db", (), True)]
EXTRA_NODES = ("node-a", "node-b", "node-c")
KUBE_OVN_ARGS = ["/kube-ovn/start-controller.sh", "--default-ls=ovn-default", "--default-cidr=10.16.0.0/16",
                 "--enable-live-migration-optimize=true"]


def kube_system_objects(k8s):
    """Kube-OVN's controller, the OVN databases' Services and the OVN TLS Secret, as Kube-OVN's
    install script lays them out (the Secret holds PEM files: here the emulator's CA and a client pair)."""
    cert, key = k8s.client_cert("ovn-client", "kube-ovn")
    pem = {"cacert": Path(k8s.ca_cert).read_bytes(), "cert": Path(cert).read_bytes(), "key": Path(key).read_bytes()}
    labels = {"app": "kube-ovn-controller"}
    yield {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "kube-ovn-controller", "namespace": "kube-system", "labels": labels},
           "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"containers": [{"name": "kube-ovn-controller",
                                                          "image": "docker.io/kubeovn/kube-ovn:v1.14.0",
                                                          "args": list(KUBE_OVN_ARGS)}]}}}}
    for name, port, ip in (("ovn-nb", 6641, "10.96.100.11"), ("ovn-sb", 6642, "10.96.100.12")):
        yield {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "kube-system"},
               "spec": {"clusterIP": ip, "ports": [{"name": name, "port": port, "protocol": "TCP"}],
                        "selector": {"app": "ovn-central"}}}
    yield {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "kube-ovn-tls", "namespace": "kube-system"},
           "data": {k: base64.b64encode(v).decode() for k, v in pem.items()}}


def rbac_objects():
    return yaml.safe_load((ROOT / "extensions" / "awx" / "rbac.yml").read_text())["items"]


def settled(k8s, timeout=10):
    """Wait until the Deployment controller has written every Deployment's status, as on a cluster the
    reader has not just set up: a `get | replace` racing that write would get 409 Conflict."""
    deadline = time.monotonic() + timeout
    while any((d.get("status") or {}).get("observedGeneration") != d["metadata"].get("generation")
              for d in k8s.list("deployments")):
        if time.monotonic() > deadline:
            raise AssertionError("the lab's Deployments were not rolled out within %ss" % timeout)
        time.sleep(0.05)


@contextlib.contextmanager
def documented_lab(tmp_path, ovn=False):
    from k8s_emulator import K8sEmulator
    from k8s_emulator.deployment_controller import DeploymentController
    from kubevirt_sim import KubevirtSim
    sandbox = None
    if ovn:
        from ovn_sandbox import OvnSandbox
        sandbox = OvnSandbox(tmp_path / "ovn")
        sandbox.start()
    k8s = K8sEmulator.as_deployed(tls=True).start()
    sim = deployments = None
    try:
        # evictionStrategy LiveMigrate cluster-wide, as docs/rollout.md's drain expects (virt-api's webhook).
        sim = KubevirtSim(k8s.api_client(), ovn=sandbox, step_delay=0.2, eviction_strategy="LiveMigrate").start()
        deployments = DeploymentController(k8s.api_client(), delay=0.2).start()
        for node in EXTRA_NODES:
            sim.ensure_node(node)
        namespaces = sorted({vm[0] for vm in DOCUMENTED_VMS} | {"kube-system", "stage2"})
        for obj in ([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces]
                    + list(rbac_objects()) + list(kube_system_objects(k8s))):
            k8s.create(obj)
        ports = {}
        for namespace, vm, providers, as_vm in DOCUMENTED_VMS:
            made = sandbox.create_vm(namespace, vm, providers=providers) if sandbox else None
            nics = [{"name": p["name"], "mac": p["mac"]} for p in made] if made else None
            (sim.create_vm if as_vm else sim.create_vmi)(namespace, vm, "hv1", ports=nics)
            sim.configure(namespace, vm, target_node="hv2")
            ports[(namespace, vm)] = [p["name"] for p in sim.vm_ports(namespace, vm)]
        settled(k8s)
        kubeconfig = str(k8s.write_kubeconfig(tmp_path / "kubeconfig"))
        admin = str(k8s.write_kubeconfig(tmp_path / "kubeconfig-admin", token=k8s.admin_token))
        remotes = {"OVN_NB_DB": sandbox.nb_remote, "OVN_SB_DB": sandbox.sb_remote} if sandbox else {}
        # The reader's home is the lab's: ~/.ovn and kubectl's cache stay in it.
        home = tmp_path / "home"
        home.mkdir()
        env = ansible_env(dict(remotes, K8S_AUTH_KUBECONFIG=kubeconfig, KUBECONFIG=admin, HOME=str(home)))
        # The event source runs as its own ServiceAccount, as rbac.yml deploys it.
        source_env = dict(env, K8S_AUTH_KUBECONFIG=str(k8s.write_kubeconfig(tmp_path / "kubeconfig-events",
                                                                            token=k8s.events_token)))
        # ansible-rulebook on an operator's machine: one identity for the source and the playbooks
        # (both ClusterRoles, docs/rbac.md); its playbooks' private data dirs under the lab's TMPDIR.
        runs = tmp_path / "rulebook-runs"
        runs.mkdir()
        operator_env = dict(env, TMPDIR=str(runs), K8S_AUTH_KUBECONFIG=str(k8s.write_kubeconfig(
            tmp_path / "kubeconfig-operator", token=k8s.operator_token)))
        yield {"ovn": sandbox, "k8s": k8s, "sim": sim, "env": env, "source_env": source_env, "ports": ports,
               "operator_env": operator_env, "home": home,
               "dir": tmp_path}
    finally:
        if deployments:
            deployments.stop()
        if sim:
            sim.stop()
        k8s.stop()
        if sandbox:
            sandbox.stop()
