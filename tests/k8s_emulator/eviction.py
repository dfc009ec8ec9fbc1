"""pods/<name>/eviction (policy/v1 Eviction), as kube-apiserver serves it: validating webhooks
first (KubeVirt's virt-api refuses a virt-launcher's eviction there and evacuates the VMI), then
the PodDisruptionBudgets selecting the pod, then the pod is deleted.

A budget's allowance is computed at the request from the pods it selects that are Running (the
disruption controller's currentHealthy - desiredHealthy), not read from its status; a pod that
has ended (Succeeded or Failed) is deleted without consulting any budget, as the API does.
"""
import math

from . import admission, errors
from .selectors import label_selector_matches

EVICTION_KIND = {"group": "policy", "version": "v1", "kind": "Eviction"}
BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


def _count(value, expected):
    """minAvailable / maxUnavailable: an integer or a percentage of the selected pods (rounded up)."""
    if isinstance(value, str) and value.endswith("%"):
        return int(math.ceil(int(value[:-1]) * expected / 100.0))
    return int(value)


def _check_budgets(state, namespace, pod):
    labels = pod["metadata"].get("labels") or {}
    budgets = [b for b in state.list("poddisruptionbudgets", namespace)
               if label_selector_matches((b.get("spec") or {}).get("selector"), labels)]
    if len(budgets) > 1:
        raise errors.ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the "
                              "eviction subresource does not support.")
    for budget in budgets:
        spec = budget.get("spec") or {}
        selected = [p for p in state.list("pods", namespace)
                    if label_selector_matches(spec.get("selector"), p["metadata"].get("labels"))]
        healthy = sum(1 for p in selected if (p.get("status") or {}).get("phase") == "Running")
        if spec.get("maxUnavailable") is not None:
            desired = len(selected) - _count(spec["maxUnavailable"], len(selected))
        else:
            desired = _count(spec.get("minAvailable", 1), len(selected))
        if healthy - desired < 1:
            cause = "The disruption budget %s needs %d healthy pods and has %d currently" % (
                budget["metadata"]["name"], desired, healthy)
            raise errors.ApiError(429, "TooManyRequests", BUDGET_MESSAGE,
                                  {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


async def evict(state, route, eviction, who):
    """Evict the pod `route` names; returns the Status the API answers (201)."""
    pod = state.store.get(route.rtype, route.namespace, route.name)
    named = ((eviction or {}).get("metadata") or {}).get("name")
    if named and named != route.name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    await admission.validate(state, "CREATE", EVICTION_KIND, ("", "v1", "pods/eviction"), route, eviction, who)
    if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
        _check_budgets(state, route.namespace, pod)
    state.store.delete(route.rtype, route.namespace, route.name)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
