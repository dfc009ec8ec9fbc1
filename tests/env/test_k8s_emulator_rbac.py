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


def test_the_suites_default_emulator_enforces_rbac_yml_and_records_its_403s(caplog):
    """K8sEmulator.as_deployed() (the k8s_emulator fixture): each token is one of rbac.yml's identities,
    the admin (system:masters) is never refused, and only the 403s RBAC answers land in `forbidden`
    and the log, not those of the deny list a test sets on purpose."""
    from k8s_emulator.emulator import EVENT_SOURCE_USER, PLAYBOOKS_USER
    with K8sEmulator.as_deployed() as emu:
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "virt-launcher-db-0"},
               "spec": {"containers": [{"name": "compute", "image": "virt-launcher"}]}}
        client.CoreV1Api(emu.api_client()).create_namespaced_pod("vms", pod)           # the admin
        assert core(emu, emu.token).list_namespaced_pod("vms").items                   # the playbooks
        assert core(emu, emu.operator_token).list_namespaced_pod("vms").items
        assert client.CustomObjectsApi(emu.api_client(token=emu.events_token)).list_cluster_custom_object(
            "kubevirt.io", "v1", "virtualmachineinstances")["items"] == []             # the event source
        assert emu.forbidden == []
        emu.deny("list", "pods")
        with pytest.raises(ApiException):
            core(emu, emu.token).list_namespaced_pod("vms")
        assert emu.forbidden == []                                                     # the deny list's own
        emu.allow_all()
        for token, user in ((emu.token, PLAYBOOKS_USER), (emu.events_token, EVENT_SOURCE_USER)):
            with pytest.raises(ApiException) as denied:
                core(emu, token).delete_namespaced_pod("virt-launcher-db-0", "vms")
            assert denied.value.status == 403
        assert emu.forbidden == [(user, "delete", "", "pods", "vms", "virt-launcher-db-0", False)
                                 for user in (PLAYBOOKS_USER, EVENT_SOURCE_USER)]
    assert "403 by RBAC: %s may not delete pods" % PLAYBOOKS_USER in caplog.text
