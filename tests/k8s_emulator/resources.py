"""The resource types the emulator serves: what discovery announces and what routing accepts."""
from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str              # "" for the core group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    status: bool = True     # has a status subresource
    short_names: tuple = ()
    # Field selectors the real API accepts for this resource, besides metadata.name/namespace.
    field_labels: tuple = ()
    crd: bool = False       # custom resources: no strategic merge patch, no extra field labels
    subresources: tuple = field(default=())

    @property
    def api_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def list_kind(self):
        return self.kind + "List"


POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")
RBAC = "rbac.authorization.k8s.io"
# The kind a subresource takes and answers with (discovery announces it), and its apiVersion.
SUBRESOURCE_KINDS = {"binding": ("v1", "Binding"), "token": ("authentication.k8s.io/v1", "TokenRequest"),
                     "eviction": ("policy/v1", "Eviction")}
EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type")

DEFAULT_RESOURCES = (
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", namespaced=False, short_names=("ns",),
                 field_labels=("status.phase",)),
    ResourceType("", "v1", "nodes", "node", "Node", namespaced=False, short_names=("no",),
                 field_labels=("spec.unschedulable",)),
    ResourceType("", "v1", "pods", "pod", "Pod", short_names=("po",), field_labels=POD_FIELDS,
                 subresources=("binding", "eviction")),
    ResourceType("", "v1", "events", "event", "Event", status=False, short_names=("ev",), field_labels=EVENT_FIELDS),
    ResourceType("", "v1", "services", "service", "Service", short_names=("svc",)),
    ResourceType("", "v1", "secrets", "secret", "Secret", status=False, field_labels=("type",)),
    ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", status=False, short_names=("sa",),
                 subresources=("token",)),
    ResourceType("apps", "v1", "deployments", "deployment", "Deployment", short_names=("deploy",)),
    ResourceType("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget",
                 short_names=("pdb",)),
    ResourceType("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                 "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", namespaced=False, status=False),
    ResourceType(RBAC, "v1", "clusterroles", "clusterrole", "ClusterRole", namespaced=False, status=False),
    ResourceType(RBAC, "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", namespaced=False,
                 status=False),
    ResourceType(RBAC, "v1", "roles", "role", "Role", status=False),
    ResourceType(RBAC, "v1", "rolebindings", "rolebinding", "RoleBinding", status=False),
    ResourceType("kubevirt.io", "v1", "virtualmachines", "virtualmachine", "VirtualMachine",
                 short_names=("vm", "vms"), crd=True),
    ResourceType("kubevirt.io", "v1", "virtualmachineinstances", "virtualmachineinstance", "VirtualMachineInstance",
                 short_names=("vmi", "vmis"), crd=True),
    ResourceType("kubevirt.io", "v1", "virtualmachineinstancemigrations", "virtualmachineinstancemigration",
                 "VirtualMachineInstanceMigration", short_names=("vmim", "vmims"), crd=True),
)


class Registry:
    """Resource types by (group, version, plural), in announcement order."""

    def __init__(self, types=DEFAULT_RESOURCES):
        self.types = list(types)

    def find(self, group, version, plural):
        for rtype in self.types:
            if (rtype.group, rtype.version, rtype.plural) == (group, version, plural):
                return rtype
        return None

    def by_plural(self, plural):
        """First type with that plural, or whose kind matches (case-insensitive): for test controls."""
        for rtype in self.types:
            if plural in (rtype.plural, rtype.kind, rtype.singular) or plural in rtype.short_names:
                return rtype
        raise KeyError("unknown resource %r" % plural)

    def by_kind(self, api_version, kind):
        for rtype in self.types:
            if rtype.api_version == api_version and rtype.kind == kind:
                return rtype
        return None

    def groups(self):
        """{group: [versions]} for the named groups (the core group is served at /api)."""
        found = {}
        for rtype in self.types:
            if rtype.group:
                versions = found.setdefault(rtype.group, [])
                if rtype.version not in versions:
                    versions.append(rtype.version)
        return found

    def in_group_version(self, group, version):
        return [t for t in self.types if t.group == group and t.version == version]
