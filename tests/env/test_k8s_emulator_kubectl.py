"""What the emulator serves for kubectl beyond the collection's own calls: protobuf request bodies,
the OpenAPI v2 document, TokenRequest, RBAC object names, the Deployment controller's status, and
kubectl itself (the machine's) against it on HTTPS."""
import shutil
import subprocess
import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from k8s_emulator import K8sEmulator, protobuf
from k8s_emulator.deployment_controller import DeploymentController


field = protobuf.length_delimited


def binding_body(name, user, role):
    meta = field(1, name) + field(3, "")     # an empty namespace, as Go encodes it
    subject = field(1, "User") + field(2, "rbac.authorization.k8s.io") + field(3, user)
    role_ref = field(1, "rbac.authorization.k8s.io") + field(2, "ClusterRole") + field(3, role)
    raw = field(1, meta) + field(2, subject) + field(3, role_ref) + bytes([4 << 3, 7])   # + an unknown varint field
    type_meta = field(1, "rbac.authorization.k8s.io/v1") + field(2, "ClusterRoleBinding")
    return protobuf.MAGIC + field(1, type_meta) + field(2, raw)


def test_protobuf_body_decodes_as_its_json():
    obj = protobuf.decode(binding_body("x:jane", "jane", "viewer"))
    assert obj == {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "x:jane"},
                   "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}],
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "viewer"}}


def test_protobuf_of_an_unknown_kind_or_without_magic_is_refused():
    with pytest.raises(protobuf.ProtobufError, match="does not read v1 Pod"):
        protobuf.decode(protobuf.MAGIC + field(1, field(1, "v1") + field(2, "Pod")))
    with pytest.raises(protobuf.ProtobufError, match="magic"):
        protobuf.decode(b'{"kind": "Pod"}')


@pytest.fixture
def emulator():
    with K8sEmulator(token="t") as emu:
        yield emu


def test_protobuf_post_creates_and_unknown_protobuf_gets_415(emulator):
    import urllib.error
    import urllib.request

    def post(body):
        request = urllib.request.Request(emulator.url + "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                                         data=body, method="POST",
                                         headers={"Authorization": "Bearer t",
                                                  "Content-Type": "application/vnd.kubernetes.protobuf"})
        return urllib.request.urlopen(request)

    assert post(binding_body("kubeovn-live-migration:playbooks:jane", "jane", "viewer")).status == 201
    stored = emulator.get("clusterrolebindings", None, "kubeovn-live-migration:playbooks:jane")
    assert stored["subjects"][0]["name"] == "jane" and "namespace" not in stored["metadata"]
    with pytest.raises(urllib.error.HTTPError) as exc:
        post(protobuf.MAGIC + field(1, field(1, "v1") + field(2, "Pod")))
    assert exc.value.code == 415


def test_rbac_names_are_path_segments_others_dns_subdomains(emulator):
    rbac = client.RbacAuthorizationV1Api(emulator.api_client())
    rbac.create_cluster_role({"metadata": {"name": "kubeovn-live-migration:playbooks"}, "rules": []})
    with pytest.raises(ApiException) as exc:
        rbac.create_cluster_role({"metadata": {"name": "a/b"}, "rules": []})
    assert exc.value.status == 422
    with pytest.raises(ApiException) as exc:
        client.CoreV1Api(emulator.api_client()).create_namespace({"metadata": {"name": "a:b"}})
    assert exc.value.status == 422


def test_token_request_mints_a_token_that_acts_as_the_service_account():
    with K8sEmulator.as_deployed() as emu:
        core = client.CoreV1Api(emu.api_client())
        with pytest.raises(ApiException) as exc:
            core.create_namespaced_service_account_token("missing", "nowhere", {"spec": {}})
        assert exc.value.status == 404
        core.create_namespace({"metadata": {"name": "kubeovn-live-migration"}})
        core.create_namespaced_service_account("kubeovn-live-migration", {"metadata": {"name": "kubeovn-live-migration"}})
        answer = core.create_namespaced_service_account_token(
            "kubeovn-live-migration", "kubeovn-live-migration", {"spec": {"expirationSeconds": 86400}})
        assert answer.spec.expiration_seconds == 86400 and answer.status.token
        as_account = client.CustomObjectsApi(emu.api_client(token=answer.status.token))
        as_account.list_cluster_custom_object("kubevirt.io", "v1", "virtualmachineinstancemigrations")  # granted
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(emu.api_client(token=answer.status.token)).list_secret_for_all_namespaces()
        assert exc.value.status == 403     # rbac.yml grants the playbooks' account no Secrets


def test_deployment_controller_reports_each_generation(emulator):
    apps = client.AppsV1Api(emulator.api_client())
    controller = DeploymentController(emulator.api_client(), delay=0.1).start()
    try:
        labels = {"app": "x"}
        apps.create_namespaced_deployment("kube-system", {
            "metadata": {"name": "x"}, "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                                                "template": {"metadata": {"labels": labels},
                                                             "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
        apps.patch_namespaced_deployment("x", "kube-system", {"spec": {"template": {"metadata": {"annotations": {"a": "b"}}}}})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            deployment = apps.read_namespaced_deployment("x", "kube-system")
            if deployment.status and deployment.status.observed_generation == deployment.metadata.generation == 2:
                break
            time.sleep(0.1)
        assert deployment.status.observed_generation == 2 and deployment.status.updated_replicas == 2
    finally:
        controller.stop()


@pytest.mark.skipif(not shutil.which("kubectl"), reason="no kubectl on this machine")
def test_kubectl_over_https(tmp_path):
    with K8sEmulator.as_deployed(tls=True) as emu:
        kubeconfig = str(emu.write_kubeconfig(tmp_path / "admin", token=emu.admin_token))

        def kubectl(*args):
            proc = subprocess.run(["kubectl", "--kubeconfig", kubeconfig] + list(args), capture_output=True,
                                  text=True, timeout=60, check=False)
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        kubectl("create", "namespace", "kubeovn-live-migration")
        kubectl("create", "clusterrolebinding", "kubeovn-live-migration:playbooks:jane",
                "--clusterrole=kubeovn-live-migration:playbooks", "--user=jane")
        assert "jane" in kubectl("get", "clusterrolebinding", "kubeovn-live-migration:playbooks:jane", "-o", "yaml")
        kubectl("-n", "kubeovn-live-migration", "create", "serviceaccount", "sa")
        token = kubectl("-n", "kubeovn-live-migration", "create", "token", "sa", "--duration=1h").strip()
        assert emu.tokens[token][0] == "system:serviceaccount:kubeovn-live-migration:sa"
