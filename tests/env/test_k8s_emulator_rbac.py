"""The emulator's identities and RBAC, through the real kubernetes client: tokens map to
ServiceAccounts, ClusterRoleBindings grant everywhere, RoleBindings only in their namespace,
subresources and resourceNames must be named, impersonation needs the impersonate verb and then
acts as the impersonated identity; 403 carries kube-apiserver's wording."""
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from k8s_emulator import K8sEmulator
from k8s_emulator.rbac import RbacPolicy, identity, rule_allows

SA = "system:serviceaccount:tools:reader"


def role(kind, name, rules, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules}


def bind(kind, name, role_kind, subjects, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name}, "subjects": subjects}


def test_rule_matching():
    rule = {"apiGroups": ["kubevirt.io"], "resources": ["virtualmachineinstances", "pods/log"], "verbs": ["get"],
            "resourceNames": ["db-0"]}
    assert rule_allows(rule, "get", "kubevirt.io", "virtualmachineinstances", "db-0")
    assert not rule_allows(rule, "get", "kubevirt.io", "virtualmachineinstances", "db-1")
    assert not rule_allows(rule, "get", "kubevirt.io", "virtualmachineinstances/status", "db-0")
    assert not rule_allows(rule, "list", "kubevirt.io", "virtualmachineinstances", None)
    assert not rule_allows(rule, "get", "", "virtualmachineinstances", "db-0")
    assert rule_allows({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, "delete", "x", "y/z", None)


def test_bindings_and_subjects():
    sa = {"kind": "ServiceAccount", "name": "reader", "namespace": "tools"}
    policy = RbacPolicy([{"kind": "List", "items": [
        role("ClusterRole", "read-pods", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
        bind("RoleBinding", "read-pods", "ClusterRole", [sa], namespace="vms"),
        role("Role", "events", [{"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}], namespace="vms"),
        bind("RoleBinding", "events", "Role", [{"kind": "Group", "name": "system:serviceaccounts:tools"}], namespace="vms"),
    ]}])
    who = identity(SA)
    assert "system:serviceaccounts:tools" in who.groups and "system:authenticated" in who.groups
    assert policy.allows(who, "list", "", "pods", "vms", None)
    assert not policy.allows(who, "list", "", "pods", "other", None)      # a RoleBinding stays in its namespace
    assert not policy.allows(who, "list", "", "pods", None, None)         # ...and never grants cluster-wide
    assert policy.allows(who, "create", "", "events", "vms", None)        # through the group
    assert not policy.allows(identity("system:serviceaccount:x:reader"), "list", "", "pods", "vms", None)


@pytest.fixture
def emulator():
    emu = K8sEmulator(tokens={"reader-token": SA, "admin-token": "admin"}).start()
    emu.enforce_rbac(
        role("ClusterRole", "read-pods", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
        bind("ClusterRoleBinding", "read-pods", "ClusterRole",
             [{"kind": "ServiceAccount", "name": "reader", "namespace": "tools"}]),
        role("ClusterRole", "impersonate", [{"apiGroups": [""], "resources": ["serviceaccounts"],
                                             "verbs": ["impersonate"], "resourceNames": ["reader"]}]),
        bind("ClusterRoleBinding", "impersonate", "ClusterRole", [{"kind": "User", "name": "admin"}]))
    try:
        yield emu
    finally:
        emu.stop()


def core(emu, token, impersonate=None):
    api = emu.api_client(token=token)
    if impersonate:
        api.set_default_header("Impersonate-User", impersonate)
    return client.CoreV1Api(api)


def test_http_enforcement_and_impersonation(emulator):
    assert core(emulator, "reader-token").list_namespaced_pod("vms").items == []
    with pytest.raises(ApiException) as denied:
        core(emulator, "reader-token").list_namespaced_event("vms")
    assert denied.value.status == 403
    assert json.loads(denied.value.body)["message"] == (
        'events is forbidden: User "%s" cannot list resource "events" in API group "" in the namespace "vms"' % SA)
    with pytest.raises(ApiException) as unauthenticated:
        core(emulator, "nobody").list_namespaced_pod("vms")
    assert unauthenticated.value.status == 401
    # admin has no pod rights of its own, but may act as the reader.
    with pytest.raises(ApiException):
        core(emulator, "admin-token").list_namespaced_pod("vms")
    assert core(emulator, "admin-token", impersonate=SA).list_namespaced_pod("vms").items == []
    with pytest.raises(ApiException) as refused:
        core(emulator, "admin-token", impersonate="system:serviceaccount:tools:other").list_namespaced_pod("vms")
    assert refused.value.status == 403 and "impersonate" in refused.value.body
    assert (SA, ()) in emulator.impersonations
    assert [r[0] for r in emulator.requests if r[-1]] == [SA, SA]
