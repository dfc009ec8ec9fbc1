"""The emulator's state: objects, one global resourceVersion, a bounded event history, watchers.

Thread-safe: the HTTP server (its own event loop thread) and test code (direct store access)
both mutate it. Watchers get events through a callback run under the store lock, so every
watcher sees events in resourceVersion order with no gap between its replay and live part.
"""
import copy
import random
import re
import threading
import uuid
from collections import deque
from datetime import datetime, timezone

from . import errors
from .events import admit
from .resources import RBAC

NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet the API server uses for generateName


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _body_without(obj, *keys):
    return {k: v for k, v in obj.items() if k not in keys}


class Event:
    __slots__ = ("rv", "type", "rtype", "old", "new")

    def __init__(self, rv, type_, rtype, old, new):
        self.rv, self.type, self.rtype, self.old, self.new = rv, type_, rtype, old, new

    def as_seen_by(self, matches):
        """The event a watcher with this filter receives (objects entering or leaving it become
        ADDED/DELETED, as the API server does), or None."""
        was, now_in = matches(self.old), matches(self.new)
        if self.type == "DELETED":
            return ("DELETED", self.new) if was else None
        if was and now_in:
            return ("MODIFIED", self.new)
        if now_in:
            return ("ADDED", self.new)
        if was:
            return ("DELETED", self.new)
        return None


class Watcher:
    def __init__(self, rtype, matches, sink):
        self.rtype, self.matches, self.sink = rtype, matches, sink


class Store:
    def __init__(self, history=1000):
        self.lock = threading.RLock()
        self.rv = 0
        self.objects = {}          # (group, plural, namespace, name) -> object dict
        self.history = deque()
        self.history_limit = history
        self.floor = 0             # events with rv <= floor are forgotten
        self.watchers = set()

    # ---- internals -------------------------------------------------------------------------
    @staticmethod
    def _key(rtype, namespace, name):
        return (rtype.group, rtype.plural, namespace if rtype.namespaced else None, name)

    def _bump(self):
        self.rv += 1
        return str(self.rv)

    def _record(self, type_, rtype, old, new):
        event = Event(int(new["metadata"]["resourceVersion"]), type_, rtype, copy.deepcopy(old), copy.deepcopy(new))
        self.history.append(event)
        while len(self.history) > self.history_limit:
            self.floor = self.history.popleft().rv
        for watcher in list(self.watchers):
            if watcher.rtype is rtype:
                # Unmatched events still advance the watcher's position (for its bookmarks).
                seen = event.as_seen_by(watcher.matches)
                if seen:
                    watcher.sink(seen[0], copy.deepcopy(seen[1]), event.rv)
                else:
                    watcher.sink(None, None, event.rv)

    def _existing(self, rtype, namespace, name):
        obj = self.objects.get(self._key(rtype, namespace, name))
        if obj is None:
            raise errors.not_found(rtype, name)
        return obj

    # ---- reads -----------------------------------------------------------------------------
    def get(self, rtype, namespace, name):
        with self.lock:
            return copy.deepcopy(self._existing(rtype, namespace, name))

    def list(self, rtype, matches):
        with self.lock:
            items = [copy.deepcopy(obj) for key, obj in self.objects.items()
                     if key[:2] == (rtype.group, rtype.plural) and matches(obj)]
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            return items, str(self.rv)

    # ---- writes ----------------------------------------------------------------------------
    def create(self, rtype, namespace, obj, keep_status=False):
        if not isinstance(obj, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {}) or {}
        obj["metadata"] = meta
        if obj.get("apiVersion", rtype.api_version) != rtype.api_version or obj.get("kind", rtype.kind) != rtype.kind:
            raise errors.bad_request("the API version in the data (%s) does not match the expected API version (%s)"
                                     % (obj.get("apiVersion"), rtype.api_version) if obj.get("kind", rtype.kind) == rtype.kind
                                     else "the kind in the data (%s) does not match the expected kind (%s)"
                                     % (obj.get("kind"), rtype.kind))
        if rtype.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            namespace = namespace or meta.get("namespace")
            if not namespace:
                raise errors.bad_request("an empty namespace may not be set during creation")
        with self.lock:
            name = meta.get("name")
            if not name:
                if not meta.get("generateName"):
                    raise errors.invalid(rtype, "", "metadata.name: Required value: name or generateName is required")
                for _unused in range(100):
                    name = meta["generateName"] + "".join(random.choice(SUFFIX_CHARS) for _unused in range(5))
                    if self._key(rtype, namespace, name) not in self.objects:
                        break
            if rtype.group == RBAC:   # RBAC names are path segments ("kubeovn-live-migration:playbooks")
                if name in (".", "..") or re.search(r"[/%]", name):
                    raise errors.invalid(rtype, name, 'metadata.name: Invalid value: "%s": may not contain "/" '
                                         'or "%%", and may not be "." or ".."' % name)
            elif len(name) > 253 or not NAME_RE.match(name):
                raise errors.invalid(rtype, name, 'metadata.name: Invalid value: "%s": a lowercase RFC 1123 subdomain '
                                     "must consist of lower case alphanumeric characters, '-' or '.', and must start "
                                     "and end with an alphanumeric character" % name)
            key = self._key(rtype, namespace, name)
            if key in self.objects:
                raise errors.already_exists(rtype, name)
            obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
            meta["name"] = name
            if rtype.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(field, None)
            admit(rtype, obj)
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1, resourceVersion=self._bump())
            self._defaults(rtype, obj, keep_status)
            self.objects[key] = obj
            self._record("ADDED", rtype, None, obj)
            return copy.deepcopy(obj)

    @staticmethod
    def _defaults(rtype, obj, keep_status):
        if rtype.status and not keep_status:
            obj.pop("status", None)
        if rtype.kind == "Pod" and not keep_status:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        if rtype.kind == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}

    def update(self, rtype, namespace, name, new, subresource=None, check_body=True):
        """PUT semantics: `new` is the whole object; resourceVersion, when set, must be current."""
        if not isinstance(new, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        with self.lock:
            old = self._existing(rtype, namespace, name)
            meta = new.get("metadata") or {}
            if check_body:
                if meta.get("name") and meta["name"] != name:
                    raise errors.bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                             % (meta["name"], name))
                if rtype.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
                    raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            given_rv = meta.get("resourceVersion")
            if given_rv and given_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            if subresource == "status":
                result = copy.deepcopy(old)
                if "status" in new:
                    result["status"] = copy.deepcopy(new["status"])
                else:
                    result.pop("status", None)
            else:
                result = copy.deepcopy(new)
                result["metadata"] = copy.deepcopy(meta)
                if rtype.status:
                    if "status" in old:
                        result["status"] = copy.deepcopy(old["status"])
                    else:
                        result.pop("status", None)
            return self._store_update(rtype, old, result)

    @staticmethod
    def _check_pod_spec(rtype, old, result):
        """The API refuses pod spec changes beyond images, deadline and added tolerations
        (scheduling goes through pods/binding)."""
        if rtype.kind != "Pod":
            return

        def mutable_stripped(spec):
            spec = copy.deepcopy(spec or {})
            for key in ("activeDeadlineSeconds", "tolerations"):
                spec.pop(key, None)
            for key in ("containers", "initContainers"):
                for container in spec.get(key) or []:
                    container.pop("image", None)
            return spec
        if mutable_stripped(old.get("spec")) != mutable_stripped(result.get("spec")):
            raise errors.invalid(rtype, old["metadata"]["name"], "spec: Forbidden: pod updates may not change fields "
                                 "other than `spec.containers[*].image`, `spec.initContainers[*].image`, "
                                 "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing "
                                 "tolerations) or `spec.terminationGracePeriodSeconds`")

    def _store_update(self, rtype, old, result, check_spec=True):
        if check_spec:
            self._check_pod_spec(rtype, old, result)
        meta = result.setdefault("metadata", {})
        for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        result["apiVersion"], result["kind"] = rtype.api_version, rtype.kind
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if _body_without(result, "metadata", "status") != _body_without(old, "metadata", "status"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        for field in ("labels", "annotations", "finalizers", "ownerReferences"):
            if field in meta and not meta[field]:
                del meta[field]
        admit(rtype, result)
        if result == old:
            return copy.deepcopy(old)          # a no-op write: no new resourceVersion, no event
        meta["resourceVersion"] = self._bump()
        key = self._key(rtype, meta.get("namespace"), meta["name"])
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self.objects[key]
            self._record("DELETED", rtype, old, result)
            return copy.deepcopy(result)
        self.objects[key] = result
        self._record("MODIFIED", rtype, old, result)
        return copy.deepcopy(result)

    def patch(self, rtype, namespace, name, apply, subresource=None):
        """`apply(obj) -> obj` computes the patched object; the update rules of PUT then apply."""
        with self.lock:
            old = self._existing(rtype, namespace, name)
            patched = apply(copy.deepcopy(old))
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            meta = patched.get("metadata") or {}
            if meta.get("resourceVersion") != old["metadata"]["resourceVersion"] and meta.get("resourceVersion"):
                raise errors.conflict(rtype, name)
            for field in ("name", "namespace"):
                if rtype.namespaced or field == "name":
                    if meta.get(field) != old["metadata"].get(field):
                        raise errors.invalid(rtype, name, "metadata.%s: Invalid value: field is immutable" % field)
            return self.update(rtype, namespace, name, patched, subresource, check_body=False)

    def delete(self, rtype, namespace, name, preconditions=None):
        with self.lock:
            old = self._existing(rtype, namespace, name)
            preconditions = preconditions or {}
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                if preconditions.get(field) and preconditions[field] != old["metadata"].get(field):
                    raise errors.conflict(rtype, name, "the %s in the precondition (%s) does not match the %s in record "
                                          "(%s). The object might have been deleted and then recreated"
                                          % (label, preconditions[field], label, old["metadata"].get(field)))
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old)
                result = copy.deepcopy(old)
                result["metadata"].update(deletionTimestamp=now(), deletionGracePeriodSeconds=0,
                                          resourceVersion=self._bump())
                self.objects[self._key(rtype, namespace, name)] = result
                self._record("MODIFIED", rtype, old, result)
                return copy.deepcopy(result)
            result = copy.deepcopy(old)
            result["metadata"]["resourceVersion"] = self._bump()
            del self.objects[self._key(rtype, namespace, name)]
            self._record("DELETED", rtype, old, result)
            return copy.deepcopy(result)

    def bind(self, rtype, namespace, name, node):
        """pods/binding: sets spec.nodeName once, as the scheduler does."""
        with self.lock:
            old = self._existing(rtype, namespace, name)
            current = (old.get("spec") or {}).get("nodeName")
            if current:
                raise errors.conflict(rtype, name, "pod %s is already assigned to node \"%s\"" % (name, current))
            result = copy.deepcopy(old)
            result.setdefault("spec", {})["nodeName"] = node
            conditions = result.setdefault("status", {}).setdefault("conditions", [])
            conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": now()})
            self._store_update(rtype, old, result, check_spec=False)

    # ---- watch -----------------------------------------------------------------------------
    def watch(self, rtype, matches, since, sink):
        """Register a watcher; return (events to send first, watcher, resourceVersion they reach).

        since None: synthetic ADDED for every current object; else the recorded events after
        `since` (410 Expired when they are no longer all kept)."""
        with self.lock:
            if since is None:
                first, _unused = self.list(rtype, matches)
                first.sort(key=lambda o: int(o["metadata"]["resourceVersion"]))
                initial = [("ADDED", obj) for obj in first]
            else:
                if since < self.floor:
                    raise errors.expired("too old resource version: %d (%d)" % (since, self.floor + 1))
                initial = []
                for event in self.history:
                    if event.rv > since and event.rtype is rtype:
                        seen = event.as_seen_by(matches)
                        if seen:
                            initial.append((seen[0], copy.deepcopy(seen[1])))
            watcher = Watcher(rtype, matches, sink)
            self.watchers.add(watcher)
            return initial, watcher, self.rv

    def unwatch(self, watcher):
        with self.lock:
            self.watchers.discard(watcher)

    def compact(self):
        with self.lock:
            self.floor = self.rv
            self.history.clear()
