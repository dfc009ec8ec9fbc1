"""HTTP front of the emulator: routing, authentication, authorization, verbs, content types."""
import json

import yaml
from aiohttp import web

from . import discovery, errors, eviction, protobuf
from .patches import PatchError, json_patch, merge_patch
from .selectors import matcher
from .watch import WatchStream

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
OPENAPI_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _json(body, status=200):
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _truthy(value):
    return value is not None and value.lower() in ("true", "1")


class Route:
    """What a resource URL names: type, namespace, name, subresource."""

    def __init__(self, rtype, namespace, name, subresource):
        self.rtype, self.namespace, self.name, self.subresource = rtype, namespace, name, subresource


class ApiServer:
    def __init__(self, state):
        self.state = state            # the K8sEmulator: store, registry, token, deny list, watches
        self.app = web.Application(client_max_size=16 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request):
        try:
            who = self.state.authenticate(request.headers, self._client_cert(request))
            return await self._dispatch(request, who)
        except errors.ApiError as exc:
            return _json(exc.status(), exc.code)

    @staticmethod
    def _client_cert(request):
        """The client certificate the TLS handshake verified against the emulator's CA, or None."""
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        return (ssl_object.getpeercert() or None) if ssl_object else None

    # ---- routing -------------------------------------------------------------------------
    async def _dispatch(self, request, who):
        parts = [p for p in request.path.split("/") if p]
        if request.method == "GET" and parts == ["openapi", "v2"]:
            # No schemas: kubectl's client-side validation finds none for a kind and lets the object
            # through (as for a CRD without one); the store checks what it needs itself.
            return web.Response(body=protobuf.openapi_v2(discovery.VERSION["gitVersion"]), content_type=OPENAPI_PROTOBUF)
        if request.method == "GET":
            doc = self._discovery(parts, request)
            if doc is not None:
                return _json(doc)
        route = self._route(parts)
        if route is None:
            raise errors.path_not_found()
        return await self._resource(request, route, who)

    def _discovery(self, parts, request):
        registry = self.state.registry
        if parts == ["version"]:
            return discovery.VERSION

        if parts == ["api"]:
            return discovery.api_versions(request.host)
        if parts == ["apis"]:
            return discovery.api_group_list(registry)
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(registry, "", parts[1])
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(registry, parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(registry, parts[1], parts[2])
        return None

    def _route(self, parts):
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return None
        rtype = self.state.registry.find(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            return None
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if name and rtype.namespaced and namespace is None:
            return None
        if subresource and not ((subresource == "status" and rtype.status) or subresource in rtype.subresources):
            return None
        return Route(rtype, namespace, name, subresource)

    # ---- verbs ---------------------------------------------------------------------------
    def _verb(self, request, route):
        method, query = request.method, request.query
        if method == "GET":
            if _truthy(query.get("watch")):
                return "watch"
            return "get" if route.name else "list"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if route.name else "deletecollection"
        raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    async def _resource(self, request, route, who):
        verb = self._verb(request, route)
        self.state.authorize(verb, route, who)
        if request.query.get("dryRun"):
            raise errors.bad_request("dryRun is not supported by this emulator")
        rtype, store = route.rtype, self.state.store
        if verb in ("list", "watch", "deletecollection"):
            if route.name and verb != "watch":
                raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            field_selector = request.query.get("fieldSelector", "")
            if route.name:     # the old-style watch of one object
                field_selector = ",".join(filter(None, [field_selector, "metadata.name=" + route.name]))
            matches = matcher(rtype, route.namespace, request.query.get("labelSelector"), field_selector)
            if verb == "watch":
                return await self._watch(request, route, matches)
            items, rv = store.list(rtype, matches)
            if verb == "deletecollection":
                items = [store.delete(rtype, o["metadata"].get("namespace"), o["metadata"]["name"]) for o in items]
                rv = str(store.rv)
            return _json({"kind": rtype.list_kind, "apiVersion": rtype.api_version,
                          "metadata": {"resourceVersion": rv}, "items": items})
        if verb == "create":
            body = await self._body(request)
            if route.subresource == "binding":
                target = (body.get("target") or {}) if isinstance(body, dict) else {}
                if not target.get("name"):
                    raise errors.invalid(rtype, route.name, "target.name: Required value")
                store.bind(rtype, route.namespace, route.name, target["name"])
                return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)
            if route.subresource == "token":
                return _json(self.state.issue_token(route.namespace, route.name, body), 201)
            if route.subresource == "eviction":
                return _json(await eviction.evict(self.state, route, body, who), 201)
            if route.name:
                raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return _json(store.create(rtype, route.namespace, body), 201)
        if route.subresource in ("binding", "token", "eviction") or not route.name:
            raise errors.ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if verb == "get":
            return _json(store.get(rtype, route.namespace, route.name))
        if verb == "update":
            body = await self._body(request)
            return _json(store.update(rtype, route.namespace, route.name, body, route.subresource))
        if verb == "patch":
            return await self._patch(request, route)
        if verb == "delete":
            body = await self._body(request, required=False) or {}
            return _json(store.delete(rtype, route.namespace, route.name, body.get("preconditions")))
        raise errors.path_not_found()

    async def _body(self, request, required=True):
        if request.content_type == PROTOBUF:     # kubectl's typed clients (see protobuf.py)
            try:
                return protobuf.decode(await request.read())
            except (protobuf.ProtobufError, UnicodeDecodeError) as exc:
                raise errors.ApiError(415, "UnsupportedMediaType", str(exc))
        text = await request.text()
        if not text.strip():
            if required:
                raise errors.bad_request("the body of the request is empty")
            return None
        try:
            if request.content_type.endswith("yaml"):
                return yaml.safe_load(text)
            return json.loads(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request("the body of the request could not be decoded: %s" % exc)

    async def _patch(self, request, route):
        rtype, store = route.rtype, self.state.store
        kind = request.content_type
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([] if rtype.crd else [STRATEGIC_PATCH])
        if kind not in accepted:
            raise errors.unsupported_media(accepted)
        body = await self._body(request)
        if kind == JSON_PATCH:
            if not isinstance(body, list):
                raise errors.bad_request("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")

            def apply(obj):
                try:
                    return json_patch(obj, body)
                except PatchError as exc:
                    raise errors.invalid(rtype, route.name, str(exc))
        else:
            if not isinstance(body, dict):
                raise errors.bad_request("the body of a %s patch must be an object" % kind)
            if kind == APPLY_PATCH:
                if not request.query.get("fieldManager"):
                    raise errors.invalid(rtype, route.name, "fieldManager: Required value: is required for apply patch")
                try:
                    store.get(rtype, route.namespace, route.name)
                except errors.ApiError:
                    return _json(store.create(rtype, route.namespace, dict(body, metadata=dict(
                        body.get("metadata") or {}, name=route.name))), 201)

            def apply(obj):
                # Strategic merge is served as a JSON merge patch: equal for the fields we use.
                return merge_patch(obj, body)
        return _json(store.patch(rtype, route.namespace, route.name, apply, route.subresource))

    async def _watch(self, request, route, matches):
        query = request.query
        since = query.get("resourceVersion")
        send_initial_events = _truthy(query.get("sendInitialEvents"))
        if since in (None, "", "0") or send_initial_events:
            since = None
        else:
            try:
                since = int(since)
            except ValueError:
                raise errors.bad_request("invalid resource version: %s" % since)
        try:
            timeout = int(query.get("timeoutSeconds") or 0)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds")
        stream = WatchStream(request, route.rtype, _truthy(query.get("allowWatchBookmarks")),
                             self.state.bookmark_interval)
        self.state.watch_opened(stream)
        try:
            return await stream.serve(self.state.store, matches, since, timeout, send_initial_events)
        finally:
            self.state.watch_closed(stream)
