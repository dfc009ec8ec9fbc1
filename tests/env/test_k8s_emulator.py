"""The Kubernetes API emulator, seen through the official `kubernetes` client over HTTP."""
import json
import threading
import urllib.error
import urllib.request

import pytest
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

GROUP, VERSION = "kubevirt.io", "v1"
VMIMS = "virtualmachineinstancemigrations"


def pod(name=None, labels=None, node=None, generate=None):
    meta = {"labels": labels or {}}
    if generate:
        meta["generateName"] = generate
    else:
        meta["name"] = name
    spec = {"containers": [{"name": "compute", "image": "virt-launcher"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def vmim(name, vmi="vm1"):
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"name": name}, "spec": {"vmiName": vmi}}


@pytest.fixture
def core(k8s_emulator):
    return client.CoreV1Api(k8s_emulator.api_client())


@pytest.fixture
def custom(k8s_emulator):
    return client.CustomObjectsApi(k8s_emulator.api_client())


def events(stream, count):
    got = []
    for event in stream:
        got.append((event["type"], event["raw_object"]["metadata"].get("name"), event["raw_object"]))
        if len(got) == count:
            break
    return got


def test_create_fills_metadata_and_answers_201(core, k8s_emulator):
    data, status, _unused = core.create_namespaced_pod_with_http_info("ns1", pod(generate="virt-launcher-vm1-"))
    assert status == 201
    meta = data.metadata
    assert meta.name.startswith("virt-launcher-vm1-") and len(meta.name) == len("virt-launcher-vm1-") + 5
    assert meta.uid and meta.creation_timestamp and meta.generation == 1
    assert meta.resource_version == k8s_emulator.resource_version
    assert data.status.phase == "Pending"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod("ns1", pod(meta.name))
    assert exc.value.status == 409 and "AlreadyExists" in exc.value.body


def test_get_list_and_selectors(core):
    core.create_namespaced_pod("ns1", pod("a", {"app": "x", "tier": "web"}, node="hv1"))
    core.create_namespaced_pod("ns1", pod("b", {"app": "y"}, node="hv2"))
    core.create_namespaced_pod("ns2", pod("c", {"app": "x"}))
    assert core.read_namespaced_pod("a", "ns1").spec.node_name == "hv1"

    def names(**kw):
        return sorted(p.metadata.name for p in core.list_pod_for_all_namespaces(**kw).items)
    assert names() == ["a", "b", "c"]
    assert [p.metadata.name for p in core.list_namespaced_pod("ns1").items] == ["a", "b"]
    assert names(label_selector="app=x") == ["a", "c"]
    assert names(label_selector="app==x,tier") == ["a"]
    assert names(label_selector="app!=x") == ["b"]
    assert names(label_selector="app in (y, z)") == ["b"]
    assert names(label_selector="app notin (y)") == ["a", "c"]
    assert names(label_selector="!tier") == ["b", "c"]
    assert names(field_selector="spec.nodeName=hv2") == ["b"]
    assert names(field_selector="metadata.namespace=ns2") == ["c"]
    assert names(field_selector="metadata.name!=a,status.phase=Pending") == ["b", "c"]
    body = json.loads(core.list_namespaced_pod("ns1", _preload_content=False).data)
    assert body["kind"] == "PodList" and body["metadata"]["resourceVersion"] == "3"
    assert body["items"][0]["apiVersion"] == "v1"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_pod("missing", "ns1")
    assert exc.value.status == 404 and json.loads(exc.value.body)["message"] == 'pods "missing" not found'


def test_custom_objects_status_subresource_is_kept_apart(custom):
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS,
                                                     dict(vmim("m1"), status={"phase": "Succeeded"}))
    assert "status" not in created, "status is dropped on create for a kind with the subresource"
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS)
    assert listed["kind"] == "VirtualMachineInstanceMigrationList"
    assert listed["items"][0]["apiVersion"] == "kubevirt.io/v1"
    done = custom.patch_namespaced_custom_object_status(GROUP, VERSION, "ns1", VMIMS, "m1",
                                                        {"status": {"phase": "Pending"}, "spec": {"vmiName": "other"}})
    assert done["status"] == {"phase": "Pending"} and done["spec"]["vmiName"] == "vm1"
    assert done["metadata"]["generation"] == 1
    main = custom.patch_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1",
                                                 {"status": {"phase": "Failed"}, "spec": {"vmiName": "vm2"}})
    assert main["status"] == {"phase": "Pending"} and main["spec"]["vmiName"] == "vm2"
    assert main["metadata"]["generation"] == 2
    same = custom.patch_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1", {"spec": {"vmiName": "vm2"}})
    assert same["metadata"]["resourceVersion"] == main["metadata"]["resourceVersion"], "a no-op write is not a write"


def test_merge_json_and_strategic_patches(core, custom):
    core.create_namespaced_pod("ns1", pod("a", {"keep": "1", "drop": "1"}))
    merged = core.patch_namespaced_pod("a", "ns1", {"metadata": {"labels": {"drop": None, "new": "2"}}})
    assert merged.metadata.labels == {"keep": "1", "new": "2"}
    patched = core.patch_namespaced_pod("a", "ns1", [
        {"op": "add", "path": "/metadata/annotations", "value": {"x": "y"}},
        {"op": "replace", "path": "/metadata/labels/keep", "value": "3"},
        {"op": "remove", "path": "/metadata/labels/new"}])
    assert patched.metadata.labels == {"keep": "3"} and patched.metadata.annotations == {"x": "y"}
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod("a", "ns1", [{"op": "test", "path": "/metadata/labels/keep", "value": "9"}])
    assert exc.value.status == 422
    custom.create_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, vmim("m1"))
    with pytest.raises(ApiException) as exc:       # CRDs refuse strategic merge, as the API does
        custom.patch_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1", {"metadata": {"labels": {"a": "b"}}},
                                              _content_type="application/strategic-merge-patch+json")
    assert exc.value.status == 415
    jp = custom.patch_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1",
                                               [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}],
                                               _content_type="application/json-patch+json")
    assert jp["metadata"]["labels"] == {"a": "b"}


def test_replace_conflicts_on_stale_resource_version(core):
    first = core.create_namespaced_pod("ns1", pod("a"))
    core.patch_namespaced_pod("a", "ns1", {"metadata": {"labels": {"v": "2"}}})
    stale = client.ApiClient().sanitize_for_serialization(first)
    stale["metadata"]["labels"] = {"v": "stale"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_pod("a", "ns1", stale)
    assert exc.value.status == 409 and "the object has been modified" in exc.value.body
    current = client.ApiClient().sanitize_for_serialization(core.read_namespaced_pod("a", "ns1"))
    current["metadata"]["labels"] = {"v": "3"}
    assert core.replace_namespaced_pod("a", "ns1", current).metadata.labels == {"v": "3"}


def test_pod_scheduling_goes_through_binding(core):
    core.create_namespaced_pod("ns1", pod("a"))
    with pytest.raises(ApiException) as exc:
        core.patch_namespaced_pod("a", "ns1", {"spec": {"nodeName": "hv1"}})
    assert exc.value.status == 422 and "pod updates may not change fields" in exc.value.body
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"}, "target": {"kind": "Node", "name": "hv1"}}
    response = core.create_namespaced_pod_binding("a", "ns1", binding, _preload_content=False)
    assert response.status == 201
    assert core.read_namespaced_pod("a", "ns1").spec.node_name == "hv1"
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod_binding("a", "ns1", dict(binding, target={"name": "hv2"}), _preload_content=False)
    assert exc.value.status == 409


def test_delete_returns_object_then_404(core):
    core.create_namespaced_pod("ns1", pod("a"))
    deleted = core.delete_namespaced_pod("a", "ns1")
    assert deleted.metadata.name == "a"
    with pytest.raises(ApiException) as exc:
        core.delete_namespaced_pod("a", "ns1")
    assert exc.value.status == 404
    body = exc.value.body
    assert '"kind": "Status"' in body and '"reason": "NotFound"' in body


def test_finalizer_delays_deletion(custom):
    custom.create_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS,
                                           dict(vmim("m1"), metadata={"name": "m1", "finalizers": ["x/y"]}))
    marked = custom.delete_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1")
    assert marked["metadata"]["deletionTimestamp"]
    assert custom.get_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1")
    custom.patch_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as exc:
        custom.get_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1")
    assert exc.value.status == 404


def test_watch_replays_exactly_the_events_after_a_resource_version(core):
    core.create_namespaced_pod("ns1", pod("a"))
    mark = core.list_namespaced_pod("ns1").metadata.resource_version
    core.patch_namespaced_pod("a", "ns1", {"metadata": {"labels": {"step": "1"}}})
    core.create_namespaced_pod("ns1", pod("b"))
    core.create_namespaced_pod("ns2", pod("other"))
    core.delete_namespaced_pod("a", "ns1")
    got = events(watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version=mark, timeout_seconds=1), 3)
    assert [(t, n) for t, n, _unused in got] == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert got[0][2]["metadata"]["labels"] == {"step": "1"}, "the object as it was at that version"
    rvs = [int(o["metadata"]["resourceVersion"]) for _unused, _unused, o in got]
    assert rvs == sorted(rvs) and rvs[0] == int(mark) + 1


def test_watch_from_zero_lists_then_streams_live(core, k8s_emulator):
    core.create_namespaced_pod("ns1", pod("a"))
    stream = watch.Watch().stream(core.list_namespaced_pod, "ns1", timeout_seconds=5)
    assert events(stream, 1)[0][:2] == ("ADDED", "a")
    threading.Timer(0.1, lambda: k8s_emulator.patch("pods", "ns1", "a", {"metadata": {"labels": {"x": "1"}}})).start()
    assert events(stream, 1)[0][:2] == ("MODIFIED", "a")


def test_watch_list_marks_the_end_of_initial_events(core):
    core.create_namespaced_pod("ns1", pod("a"))
    stream = watch.Watch().stream(core.list_namespaced_pod, "ns1", send_initial_events=True, allow_watch_bookmarks=True,
                                  resource_version_match="NotOlderThan", resource_version="", timeout_seconds=2)
    got = events(stream, 2)
    assert got[0][:2] == ("ADDED", "a")
    assert got[1][0] == "BOOKMARK" and got[1][2]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_filters_and_object_leaving_selector_is_deleted(core):
    core.create_namespaced_pod("ns1", pod("a", {"app": "x"}))
    mark = core.list_namespaced_pod("ns1").metadata.resource_version
    core.patch_namespaced_pod("a", "ns1", {"metadata": {"labels": {"app": "y"}}})
    core.create_namespaced_pod("ns1", pod("b", {"app": "x"}))
    got = events(watch.Watch().stream(core.list_namespaced_pod, "ns1", label_selector="app=x",
                                      resource_version=mark, timeout_seconds=1), 2)
    assert [(t, n) for t, n, _unused in got] == [("DELETED", "a"), ("ADDED", "b")]


def test_watch_timeout_ends_the_stream(core):
    stream = watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version="0", timeout_seconds=1)
    assert list(stream) == []


def test_watch_bookmarks(k8s_emulator, core):
    k8s_emulator.bookmark_interval = 0.1
    core.create_namespaced_pod("ns1", pod("a"))
    rv = k8s_emulator.resource_version
    stream = watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version=rv,
                                  allow_watch_bookmarks=True, timeout_seconds=5)
    event = next(iter(stream))
    assert event["type"] == "BOOKMARK" and event["raw_object"]["metadata"]["resourceVersion"] == rv


def test_watch_gone_after_compact(core, k8s_emulator):
    core.create_namespaced_pod("ns1", pod("a"))
    old = core.list_namespaced_pod("ns1").metadata.resource_version
    core.create_namespaced_pod("ns1", pod("b"))
    k8s_emulator.compact()
    with pytest.raises(ApiException) as exc:
        list(watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version=old, timeout_seconds=2))
    assert exc.value.status == 410 and "Expired" in exc.value.reason
    current = k8s_emulator.resource_version
    assert list(watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version=current, timeout_seconds=1)) == []


def test_watch_gone_when_history_is_bounded():
    from k8s_emulator import K8sEmulator
    with K8sEmulator(history=2) as emu:
        core = client.CoreV1Api(emu.api_client())
        for name in "abcd":
            core.create_namespaced_pod("ns1", pod(name))
        with pytest.raises(ApiException) as exc:
            list(watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version="1", timeout_seconds=1))
        assert exc.value.status == 410
        got = events(watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version="2", timeout_seconds=1), 2)
        assert [n for _unused, n, _unused in got] == ["c", "d"]


def test_cut_watches_ends_an_open_stream(core, k8s_emulator):
    outcome = []

    def consume():
        try:
            for _unused in watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version="0", timeout_seconds=30):
                pass
            outcome.append("ended")
        except Exception as exc:  # an abrupt cut surfaces as a connection error in the client
            outcome.append(type(exc).__name__)
    reader = threading.Thread(target=consume)
    reader.start()
    for _unused in range(1000):
        if k8s_emulator.open_watches:
            break
        threading.Event().wait(0.01)
    [opened] = k8s_emulator.watch_requests()
    assert opened.startswith("/api/v1/namespaces/ns1/pods?") and "watch=true" in opened
    assert k8s_emulator.cut_watches() == 1
    reader.join(10)
    assert not reader.is_alive() and outcome and outcome[0] != "ended"


def test_unauthorized_without_token(k8s_emulator):
    anonymous = client.CoreV1Api(k8s_emulator.api_client(token=""))
    with pytest.raises(ApiException) as exc:
        anonymous.list_namespaced_pod("ns1")
    assert exc.value.status == 401 and '"reason": "Unauthorized"' in exc.value.body
    wrong = client.CoreV1Api(k8s_emulator.api_client(token="wrong"))
    with pytest.raises(ApiException) as exc:
        wrong.list_namespaced_pod("ns1")
    assert exc.value.status == 401


def test_forbidden_names_verb_resource_group_namespace(k8s_emulator, custom):
    k8s_emulator.deny("list", VMIMS, namespace="ns1")
    with pytest.raises(ApiException) as exc:
        custom.list_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS)
    assert exc.value.status == 403
    assert ('virtualmachineinstancemigrations.kubevirt.io is forbidden: User '
            '"system:admin" cannot list resource '
            '"virtualmachineinstancemigrations" in API group "kubevirt.io" in the namespace "ns1"') == json.loads(exc.value.body)["message"]
    assert custom.list_namespaced_custom_object(GROUP, VERSION, "ns2", VMIMS)["items"] == []
    k8s_emulator.allow_all()
    assert custom.list_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS)["items"] == []


def test_restart_keeps_state_and_port(k8s_emulator, core):
    core.create_namespaced_pod("ns1", pod("a"))
    url, rv = k8s_emulator.url, k8s_emulator.resource_version
    k8s_emulator.restart()
    assert k8s_emulator.url == url
    assert core.read_namespaced_pod("a", "ns1").metadata.resource_version == rv
    got = events(watch.Watch().stream(core.list_namespaced_pod, "ns1", resource_version="0", timeout_seconds=1), 1)
    assert got[0][:2] == ("ADDED", "a")


def test_kubeconfig_file_and_dynamic_client_discovery(k8s_emulator, kubeconfig):
    api = config.new_client_from_config(config_file=kubeconfig, context="emulator")
    dyn = dynamic.DynamicClient(api)
    vmims = dyn.resources.get(api_version="kubevirt.io/v1", kind="VirtualMachineInstanceMigration")
    assert vmims.namespaced and vmims.name == VMIMS and "vmim" in vmims.short_names
    assert "status" in vmims.subresources
    created = vmims.create(body=vmim("m1"), namespace="ns1")
    assert created.metadata.uid
    assert [i.metadata.name for i in vmims.get(namespace="ns1").items] == ["m1"]
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    assert pods.name == "pods"
    request = urllib.request.Request(k8s_emulator.url + "/openapi/v3",
                                     headers={"Authorization": "Bearer " + k8s_emulator.token})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request)
    assert exc.value.code == 404 and json.loads(exc.value.read())["kind"] == "Status"


def test_https_with_ca_and_client_certificate():
    from k8s_emulator import K8sEmulator
    with K8sEmulator(token="secret", tls=True) as emu:
        assert emu.url.startswith("https://")
        assert client.CoreV1Api(emu.api_client()).list_namespaced_pod("ns1").items == []
        unverified = client.Configuration()
        unverified.host = emu.url
        unverified.api_key = {"authorization": "secret"}
        unverified.api_key_prefix = {"authorization": "Bearer"}
        unverified.retries = False
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            client.CoreV1Api(client.ApiClient(unverified)).list_namespaced_pod("ns1")
        cert, key = emu.client_cert()
        by_cert = client.Configuration()
        by_cert.host, by_cert.ssl_ca_cert, by_cert.cert_file, by_cert.key_file = emu.url, emu.ca_cert, cert, key
        assert client.CoreV1Api(client.ApiClient(by_cert)).list_namespaced_pod("ns1").items == []
        anonymous = client.Configuration()
        anonymous.host, anonymous.ssl_ca_cert = emu.url, emu.ca_cert
        with pytest.raises(ApiException) as exc:
            client.CoreV1Api(client.ApiClient(anonymous)).list_namespaced_pod("ns1")
        assert exc.value.status == 401
