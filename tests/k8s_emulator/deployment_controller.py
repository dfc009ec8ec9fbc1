"""kube-controller-manager's Deployment controller, reduced to the status `kubectl rollout status`
reads: once a Deployment's generation changes, its new ReplicaSet's pods come up (after `delay`
seconds) and the status says so (observedGeneration, replicas, updatedReplicas, availableReplicas,
the Progressing condition). It talks to the emulator over HTTP like any controller."""
import threading

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException


def rolled_out_status(deployment):
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return {"observedGeneration": deployment["metadata"]["generation"], "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                           {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}


class DeploymentController:
    def __init__(self, api_client, delay=0.5):
        self.apps = client.AppsV1Api(api_client)
        self.delay = delay
        self.stopping = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="deployment-controller", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self):
        while not self.stopping.is_set():
            try:
                for event in watch.Watch().stream(self.apps.list_deployment_for_all_namespaces, timeout_seconds=1):
                    obj = event["raw_object"]
                    status = obj.get("status") or {}
                    if event["type"] != "DELETED" and status.get("observedGeneration") != obj["metadata"]["generation"]:
                        self.stopping.wait(self.delay)     # the new pods starting
                        self._report(obj)
            except (ApiException, OSError, ValueError):
                self.stopping.wait(0.2)

    def _report(self, obj):
        meta = obj["metadata"]
        try:
            self.apps.patch_namespaced_deployment_status(meta["name"], meta["namespace"],
                                                         {"status": rolled_out_status(obj)})
        except ApiException:
            pass     # deleted meanwhile, or a newer generation: the next event says
