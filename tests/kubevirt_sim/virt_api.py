"""virt-api's pod eviction webhook: what makes `kubectl drain` live-migrate a VM.

Modelled on KubeVirt's pod-eviction admitter (pkg/virt-api/webhooks/validating-webhook/admitters):
an eviction of a running virt-launcher pod whose VMI has an eviction strategy is refused with 429;
the first refusal marks the VMI (`status.evacuationNodeName` = the pod's node), and virt-controller's
evacuation controller (simulator.py) then migrates it. Later refusals say the evacuation is in
progress; once the migration ends the old pod is Succeeded and its eviction is allowed. Registered
as KubeVirt registers it: ValidatingWebhookConfiguration `virt-api-validator`, webhook
`virt-launcher-eviction-interceptor.kubevirt.io` on `pods/eviction`, failurePolicy Ignore (the
PodDisruptionBudget virt-controller gives each such VMI still protects the pod when virt-api is
down). Served over HTTPS with its own CA in `caBundle`, at a URL rather than a Service.
"""
import base64
import json
import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from k8s_emulator.tls import CertificateAuthority

from .objects import GROUP, VERSION, VMIS

LOG = logging.getLogger(__name__)
CONFIGURATION = "virt-api-validator"
WEBHOOK = "virt-launcher-eviction-interceptor.kubevirt.io"
PATH = "/launcher-eviction-validate"
JSON_PATCH = "application/json-patch+json"
EVICTION = 'Eviction triggered evacuation of VMI "%s/%s"'


def migratable(vmi):
    return any(c.get("type") == "LiveMigratable" and c.get("status") == "True"
               for c in (vmi.get("status") or {}).get("conditions") or [])


def allowed():
    return {"allowed": True}


def denied(message):
    return {"allowed": False, "status": {"message": message, "code": 429}}


class VirtApi:
    def __init__(self, api_client, eviction_strategy):
        """eviction_strategy: the cluster-wide default (KubeVirt CR spec.configuration.evictionStrategy)
        for VMIs whose spec sets none."""
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.admission = client.AdmissionregistrationV1Api(api_client)
        self.eviction_strategy = eviction_strategy
        self.reviews = []          # (pod namespace/name, allowed, message) of every eviction reviewed
        self._server = self._thread = None

    # ---- the admitter -----------------------------------------------------------------------
    def admit(self, request):
        """The AdmissionResponse (without uid) for one pods/eviction request."""
        namespace, name = request.get("namespace"), request.get("name")
        try:
            pod = self.core.read_namespaced_pod(name, namespace).to_dict()
        except ApiException:
            return allowed()
        labels = pod["metadata"].get("labels") or {}
        if labels.get("kubevirt.io") != "virt-launcher" or pod["status"].get("phase") in ("Succeeded", "Failed"):
            return allowed()
        vmi_name = (pod["metadata"].get("annotations") or {}).get("kubevirt.io/domain")
        if not vmi_name:
            return allowed()
        try:
            vmi = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, VMIS, vmi_name)
        except ApiException as exc:
            return denied("kubevirt failed getting the vmi: %s" % exc.reason)
        strategy = (vmi.get("spec") or {}).get("evictionStrategy") or self.eviction_strategy
        if strategy == "LiveMigrate" and not migratable(vmi):
            return denied("VMI %s is configured with an eviction strategy but is not live-migratable" % vmi_name)
        if strategy not in ("LiveMigrate", "External") and not (strategy == "LiveMigrateIfPossible" and migratable(vmi)):
            return allowed()
        status = vmi.get("status") or {}
        if status.get("evacuationNodeName"):
            return denied("Evacuation in progress: " + EVICTION % (namespace, vmi_name))
        if status.get("nodeName") != pod["spec"].get("node_name"):
            return denied("Eviction request for target Pod")
        if not request.get("dryRun"):
            try:
                self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, VMIS, vmi_name,
                    [{"op": "add", "path": "/status/evacuationNodeName", "value": pod["spec"]["node_name"]}],
                    _content_type=JSON_PATCH)
            except ApiException as exc:
                return denied("kubevirt failed marking the vmi for eviction: %s" % exc.reason)
        return denied(EVICTION % (namespace, vmi_name))

    # ---- serving and registration -----------------------------------------------------------
    def start(self):
        ca = CertificateAuthority()
        cert, key = ca.issue("virt-api", "virt-api.kubevirt.svc", server_names=("IP:127.0.0.1",))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                request = review.get("request") or {}
                response = api.admit(request) if self.path == PATH else allowed()
                api.reviews.append(("%s/%s" % (request.get("namespace"), request.get("name")), response["allowed"],
                                    (response.get("status") or {}).get("message")))
                body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": dict(response, uid=request.get("uid"))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                LOG.debug("virt-api: " + args[0], *args[1:])

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sim-virt-api", daemon=True)
        self._thread.start()
        self._register(ca)
        return self

    def _register(self, ca):
        url = "https://127.0.0.1:%d%s" % (self._server.server_address[1], PATH)
        body = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": CONFIGURATION, "labels": {"kubevirt.io": CONFIGURATION}},
                "webhooks": [{"name": WEBHOOK, "admissionReviewVersions": ["v1", "v1beta1"],
                              "failurePolicy": "Ignore", "timeoutSeconds": 10, "sideEffects": "NoneOnDryRun",
                              "rules": [{"operations": ["*"], "apiGroups": [""], "apiVersions": ["v1"],
                                         "resources": ["pods/eviction"], "scope": "*"}],
                              "clientConfig": {"url": url,
                                               "caBundle": base64.b64encode(ca.cert.read_bytes()).decode()}}]}
        try:
            self.admission.create_validating_webhook_configuration(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self.admission.replace_validating_webhook_configuration(CONFIGURATION, body)

    def stop(self):
        if self._server:
            try:
                self.admission.delete_validating_webhook_configuration(CONFIGURATION)
            except (ApiException, OSError):
                pass
            self._server.shutdown()
            self._server.server_close()
            self._server = self._thread = None
