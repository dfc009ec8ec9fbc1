"""Discovery documents (/version, /api, /apis, /apis/<group>, /apis/<group>/<version>)."""
from .resources import ALL_VERBS, SUBRESOURCE_KINDS

VERSION = {
    "major": "1", "minor": "30", "gitVersion": "v1.30.0-emulator", "gitCommit": "0" * 40,
    "gitTreeState": "clean", "buildDate": "2024-04-17T00:00:00Z", "goVersion": "go1.22.2",
    "compiler": "gc", "platform": "linux/amd64",
}


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name, versions):
    listed = [{"groupVersion": "%s/%s" % (name, v), "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def api_group_list(registry):
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in registry.groups().items()]}


def api_group(registry, name):
    versions = registry.groups().get(name)
    if not versions:
        return None
    return dict(_group(name, versions), kind="APIGroup", apiVersion="v1")


def resource_list(registry, group, version):
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources = []
    for rtype in types:
        main = {"name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
                "kind": rtype.kind, "verbs": list(ALL_VERBS)}
        if rtype.short_names:
            main["shortNames"] = list(rtype.short_names)
        if rtype.crd:
            main["categories"] = ["all"]
            main["storageVersionHash"] = ""
        resources.append(main)
        if rtype.status:
            resources.append({"name": rtype.plural + "/status", "singularName": "", "namespaced": rtype.namespaced,
                              "kind": rtype.kind, "verbs": ["get", "patch", "update"]})
        for sub in rtype.subresources:
            api_version, kind = SUBRESOURCE_KINDS[sub]
            entry = {"name": "%s/%s" % (rtype.plural, sub), "singularName": "", "namespaced": rtype.namespaced,
                     "kind": kind, "verbs": ["create"]}
            if "/" in api_version:    # a kind of another group (pods/eviction: policy/v1), as the API names it
                entry["group"], entry["version"] = api_version.split("/")
            resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "%s/%s" % (group, version) if group else version, "resources": resources}
