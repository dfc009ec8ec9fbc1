"""Identities and RBAC for the emulator: who a request is (bearer token, basic auth, client
certificate, then impersonation headers) and whether Roles/ClusterRoles bound to it allow the call.

Modelled on kube-apiserver: subjects as in pkg/apis/rbac (ServiceAccount -> user
"system:serviceaccount:<ns>:<name>" with groups "system:serviceaccounts" and
"system:serviceaccounts:<ns>"), rule matching as in plugin/pkg/auth/authorizer/rbac
(`RuleAllows`: apiGroups, resources with "/subresource", resourceNames, verbs, "*" wildcards),
RoleBindings scoped to their namespace, impersonation checked as the `impersonate` verb on
users / groups / serviceaccounts (staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go).
Discovery (/api, /apis, /version) is allowed to every authenticated identity, as the
`system:discovery` ClusterRole does; members of the group "system:masters" are allowed
everything before RBAC is asked, as kube-apiserver's privileged-group authorizer does (the tests'
admin). Aggregated ClusterRoles and non-resource rules are not modelled.
"""
from collections import namedtuple

SA_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
MASTERS = "system:masters"

Identity = namedtuple("Identity", "user groups")


def identity(user, groups=()):
    """An Identity with the groups the API server adds (service-account groups, authenticated)."""
    extra = []
    if user.startswith(SA_PREFIX):
        namespace = user[len(SA_PREFIX):].split(":", 1)[0]
        extra = ["system:serviceaccounts", "system:serviceaccounts:" + namespace]
    return Identity(user, tuple(dict.fromkeys(list(groups) + extra + [AUTHENTICATED])))


def _objects(docs):
    for doc in docs:
        if not doc:
            continue
        if doc.get("kind") == "List" or (doc.get("kind") or "").endswith("List"):
            yield from _objects(doc.get("items") or [])
        else:
            yield doc


def _subject_matches(subject, who):
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        return who.user == "%s%s:%s" % (SA_PREFIX, subject.get("namespace"), subject.get("name"))
    if kind == "User":
        return who.user == subject.get("name")
    if kind == "Group":
        return subject.get("name") in who.groups
    return False


def _has(values, wanted):
    return "*" in values or wanted in values


def rule_allows(rule, verb, group, resource, name):
    """One PolicyRule against one request attribute set (resource is "plural" or "plural/sub")."""
    if not _has(rule.get("verbs") or [], verb) or not _has(rule.get("apiGroups") or [], group):
        return False
    resources = rule.get("resources") or []
    plural = resource.split("/", 1)[0]
    if not (_has(resources, resource) or ("/" in resource and plural + "/*" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or name in names


class RbacPolicy:
    """The Roles, ClusterRoles and their bindings of one or more manifests."""

    def __init__(self, docs):
        self.roles = {}            # (namespace or None, name) -> rules
        self.bindings = []         # (namespace or None, roleRef, subjects)
        for obj in _objects(docs):
            kind, meta = obj.get("kind"), obj.get("metadata") or {}
            if kind in ("Role", "ClusterRole"):
                self.roles[(meta.get("namespace") if kind == "Role" else None, meta.get("name"))] = obj.get("rules") or []
            elif kind in ("RoleBinding", "ClusterRoleBinding"):
                namespace = meta.get("namespace") if kind == "RoleBinding" else None
                self.bindings.append((namespace, obj.get("roleRef") or {}, obj.get("subjects") or []))

    def _rules(self, who, namespace):
        for bound_ns, ref, subjects in self.bindings:
            if bound_ns is not None and bound_ns != namespace:
                continue
            if not any(_subject_matches(s, who) for s in subjects):
                continue
            key = (bound_ns if ref.get("kind") == "Role" else None, ref.get("name"))
            yield from self.roles.get(key, [])

    def allows(self, who, verb, group, resource, namespace, name):
        if MASTERS in who.groups:
            return True
        return any(rule_allows(rule, verb, group, resource, name) for rule in self._rules(who, namespace))

    def may_impersonate(self, who, user, groups):
        """The `impersonate` checks kube-apiserver makes before switching to (user, groups)."""
        if user.startswith(SA_PREFIX):
            namespace, _sep, sa = user[len(SA_PREFIX):].partition(":")
            checks = [("serviceaccounts", namespace, sa)]
        else:
            checks = [("users", None, user)]
        checks += [("groups", None, group) for group in groups]
        return all(self.allows(who, "impersonate", "", resource, namespace, name)
                   for resource, namespace, name in checks)
