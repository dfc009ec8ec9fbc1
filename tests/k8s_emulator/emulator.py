"""K8sEmulator: the store and the HTTP server in a background event-loop thread, plus the
controls tests use (direct store access, deny list, cutting watches, compaction)."""
import asyncio
import base64
import logging
import secrets
import socket
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from aiohttp import web

from . import errors
from .rbac import RbacPolicy, identity
from .resources import Registry
from .server import ApiServer
from .store import Store
from .watch import CUT, FINISH

DEFAULT_USER = "system:serviceaccount:kubeovn:live-migration"

# The identities of extensions/awx/rbac.yml, as the test suite's default emulator (as_deployed) knows them.
RBAC_MANIFEST = Path(__file__).resolve().parents[2] / "extensions" / "awx" / "rbac.yml"
PLAYBOOKS_USER = "system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration"
EVENT_SOURCE_USER = "system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration-events"
ADMIN_USER, ADMIN_GROUP = "system:admin", "system:masters"
PLAYBOOKS_TOKEN = "emulator-token"
EVENT_SOURCE_TOKEN = "emulator-events-token"
ADMIN_TOKEN = "emulator-admin-token"
# ansible-rulebook on an operator's machine (run_playbook): the source and the playbooks it starts
# share one identity, which needs both ClusterRoles, bound as docs/rbac.md shows.
OPERATOR_USER = "kubeovn-live-migration-operator"
OPERATOR_TOKEN = "emulator-operator-token"


def operator_bindings(user=OPERATOR_USER):
    """ClusterRoleBindings of both of rbac.yml's ClusterRoles to `user` (docs/rbac.md, "One identity")."""
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "kubeovn-live-migration:%s:operator" % role},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": "kubeovn-live-migration:" + role},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}
            for role in ("playbooks", "event-source")]


# A group the auth tests impersonate beside the playbooks' ServiceAccount (impersonate_groups).
OPERATORS_GROUP = "kubeovn-live-migration:operators"


def impersonator_policy(subject):
    """A ClusterRole and its binding letting `subject` (an RBAC subject dict) impersonate the playbooks'
    ServiceAccount and the operators group, and nothing else (as docs/rbac.md, "impersonation", grants)."""
    return [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "impersonate-klm"},
             "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"],
                        "resourceNames": ["kubeovn-live-migration"]},
                       {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"],
                        "resourceNames": [OPERATORS_GROUP]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "impersonate-klm"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonate-klm"},
             "subjects": [subject]}]


log = logging.getLogger("k8s_emulator")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def describe(record):
    """One `requests` / `forbidden` record in words."""
    user, verb, group, resource, namespace, name = record[:6]
    return "%s may not %s %s%s%s%s" % (user, verb, resource, " (group %s)" % group if group else "",
                                       " in namespace " + namespace if namespace else "",
                                       " named " + name if name else "")


class K8sEmulator:
    def __init__(self, token=None, history=1000, port=0, host="127.0.0.1", bookmark_interval=1.0,
                 user=DEFAULT_USER, tls=False, tokens=None, basic_users=None):
        self.token = token
        # More bearer tokens: token -> user name, or (user name, [groups]).
        self.tokens = dict(tokens or {})
        self.admin_token = None                  # api_client()'s token when set (as_deployed: system:masters)
        self.events_token = None                 # the event source's token (as_deployed)
        self.operator_token = None               # source and playbooks as one identity (as_deployed)
        self.basic_users = dict(basic_users or {})  # basic auth: user -> password
        self.rbac = None                         # an RbacPolicy once enforce_rbac() is called
        self.requests = []                       # every resource request (see authorize)
        self.forbidden = []                      # the requests RBAC answered 403 (see authorize), in order
        self.impersonations = []                 # (user, groups) of every Impersonate-* request
        self.tls = tls
        self.ca = None                 # CertificateAuthority when serving HTTPS
        self.host = host
        self.port = port or _free_port()
        self.bookmark_interval = bookmark_interval
        self.user = user
        self.registry = Registry()
        self.store = Store(history=history)
        self._denied = []
        self._watches = set()
        self._watch_lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._runner = None

    @classmethod
    def as_deployed(cls, **kwargs):
        """The emulator as the collection meets it when extensions/awx/rbac.yml is applied, enforcing
        that file: `token` (PLAYBOOKS_TOKEN) is the playbooks' ServiceAccount, `events_token` the event
        source's, `operator_token` a user holding both (ansible-rulebook with run_playbook on an
        operator's machine, bound by operator_bindings()), `admin_token` an admin (group
        system:masters) for the test code that plays KubeVirt and seeds objects, and the token
        `api_client()` uses. Any other token gets 401; anything rbac.yml does not grant, 403
        (recorded in `forbidden`)."""
        kwargs.setdefault("token", PLAYBOOKS_TOKEN)
        kwargs.setdefault("user", PLAYBOOKS_USER)
        tokens = dict(kwargs.pop("tokens", None) or {})
        tokens.setdefault(EVENT_SOURCE_TOKEN, EVENT_SOURCE_USER)
        tokens.setdefault(OPERATOR_TOKEN, OPERATOR_USER)
        tokens.setdefault(ADMIN_TOKEN, (ADMIN_USER, [ADMIN_GROUP]))
        emulator = cls(tokens=tokens, **kwargs)
        emulator.events_token, emulator.operator_token = EVENT_SOURCE_TOKEN, OPERATOR_TOKEN
        emulator.admin_token = ADMIN_TOKEN
        emulator.enforce_rbac(RBAC_MANIFEST, *operator_bindings())
        return emulator

    # ---- lifecycle ------------------------------------------------------------------------
    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    @property
    def ca_cert(self):
        """Path of the CA certificate that signed the HTTPS server certificate (tls=True)."""
        return str(self.ca.cert) if self.ca else None

    def client_cert(self, user="system:admin", group="system:masters"):
        """(cert path, key path) of a client certificate the emulator accepts as `user` (tls=True)."""
        if not self.ca:
            raise RuntimeError("client certificates need K8sEmulator(tls=True)")
        return self.ca.issue("client-" + user.replace(":", "-"), user, organization=group)

    def start(self):
        if self._thread:
            return self
        ready = threading.Event()
        failure = []
        ssl_context = None
        if self.tls:
            from .tls import CertificateAuthority
            self.ca = self.ca or CertificateAuthority()
            ssl_context = self._ssl_context = getattr(self, "_ssl_context", None) or self.ca.server_context(self.host)

        def run():
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self._runner = web.AppRunner(ApiServer(self).app, handle_signals=False, access_log=None,
                                             shutdown_timeout=0.5)
                loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=ssl_context)
                loop.run_until_complete(site.start())
            except Exception as exc:   # report to the starting thread, do not die silently
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="k8s-emulator", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self):
        if not self._thread:
            return
        self.cut_watches()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        # A watch that reconnected between the cut and the loop's stop belongs to a dead loop.
        with self._watch_lock:
            self._watches.clear()
        self._thread = self._loop = self._runner = None

    def restart(self):
        """Stop and start on the same port; the store (objects, history, resourceVersion) stays."""
        self.stop()
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- client side ----------------------------------------------------------------------
    def kubeconfig(self, token=None):
        """A kubeconfig dict with context "emulator"; token None = the emulator's, "" = none."""
        token = self.token if token is None else token
        user = {"token": token} if token else {}
        cluster = {"server": self.url}
        if self.ca:
            cluster["certificate-authority"] = self.ca_cert
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "emulator", "cluster": cluster}],
            "users": [{"name": "emulator", "user": user}],
            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator",
                                                          "namespace": "default"}}],
            "current-context": "emulator",
        }

    def write_kubeconfig(self, path, token=None):
        with open(str(path), "w") as handle:
            yaml.safe_dump(self.kubeconfig(token), handle, default_flow_style=False)
        return path

    def api_client(self, token=None):
        """A kubernetes ApiClient; token None = the admin's when there is one, else the emulator's."""
        from kubernetes import client
        token = (self.admin_token or self.token) if token is None else token
        config = client.Configuration()
        config.host = self.url
        if self.ca:
            config.ssl_ca_cert = self.ca_cert
        if token:
            config.api_key = {"authorization": token}
            config.api_key_prefix = {"authorization": "Bearer"}
        return client.ApiClient(config)

    # ---- direct store access (no HTTP, no auth) -------------------------------------------
    def _type(self, kind_plural):
        """A resource type by plural, singular, kind or short name ("vmim", "pods", "Pod")."""
        return self.registry.by_plural(kind_plural)

    def create(self, obj):
        """Create as a controller would, status included (the HTTP API drops it on create)."""
        rtype = self.registry.by_kind(obj.get("apiVersion", "v1"), obj.get("kind"))
        if rtype is None:
            raise ValueError("no resource type for apiVersion %r kind %r" % (obj.get("apiVersion"), obj.get("kind")))
        return self.store.create(rtype, (obj.get("metadata") or {}).get("namespace"), obj, keep_status=True)

    def get(self, kind_plural, namespace, name):
        """The object, or None when it does not exist."""
        try:
            return self.store.get(self._type(kind_plural), namespace, name)
        except errors.ApiError:
            return None

    def list(self, kind_plural, namespace=None, label_selector=None, field_selector=None):
        from .selectors import matcher
        rtype = self._type(kind_plural)
        return self.store.list(rtype, matcher(rtype, namespace, label_selector, field_selector))[0]

    def patch(self, kind_plural, namespace, name, patch, subresource=None):
        """JSON merge patch; a list is a JSON patch. subresource="status" writes status only."""
        from .patches import json_patch, merge_patch
        rtype = self._type(kind_plural)
        apply = (lambda obj: json_patch(obj, patch)) if isinstance(patch, list) else (lambda obj: merge_patch(obj, patch))
        return self.store.patch(rtype, namespace, name, apply, subresource)

    def delete(self, kind_plural, namespace, name):
        return self.store.delete(self._type(kind_plural), namespace, name)

    @property
    def resource_version(self):
        return str(self.store.rv)

    def compact(self):
        """Forget the event history: a watch from any older resourceVersion gets 410 Expired."""
        self.store.compact()

    # ---- authentication -------------------------------------------------------------------
    def _authenticated(self, headers, peercert):
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth[len("Bearer "):]
            if self.token and token == self.token:
                return identity(self.user)
            if token in self.tokens:
                user = self.tokens[token]
                return identity(user) if isinstance(user, str) else identity(user[0], user[1])
        elif auth.startswith("Basic "):
            try:
                user, _sep, password = base64.b64decode(auth[len("Basic "):]).decode("utf-8").partition(":")
            except ValueError:
                user = password = None
            if user in self.basic_users and self.basic_users[user] == password:
                return identity(user)
        if peercert:   # CN is the user, each O a group, as kube-apiserver's x509 authenticator
            subject = dict(pair for rdn in peercert.get("subject", ()) for pair in rdn if pair[0] == "commonName")
            groups = [value for rdn in peercert.get("subject", ()) for key, value in rdn if key == "organizationName"]
            return identity(subject.get("commonName", ""), groups)
        if self.token or self.tokens or self.basic_users:
            raise errors.unauthorized()
        return identity(self.user)

    def issue_token(self, namespace, name, request):
        """TokenRequest (serviceaccounts/<name>/token): a bearer token the emulator accepts from now on
        as that ServiceAccount, in the groups the API server gives it; 404 for a missing account."""
        self.store.get(self.registry.by_plural("serviceaccounts"), namespace, name)
        spec = dict((request or {}).get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or 3600)
        spec.update(expirationSeconds=seconds, audiences=spec.get("audiences") or ["https://kubernetes.default.svc"])
        token = "emulator-sa-" + secrets.token_hex(16)
        self.tokens[token] = ("system:serviceaccount:%s:%s" % (namespace, name),
                              ["system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"])
        expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
                "spec": spec, "status": {"token": token,
                                         "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}

    def authenticate(self, headers, peercert=None):
        """The Identity a request acts as: its credentials, then its Impersonate-* headers."""
        who = self._authenticated(headers, peercert)
        user = headers.get("Impersonate-User")
        groups = headers.getall("Impersonate-Group", []) if hasattr(headers, "getall") else []
        if groups and not user:
            raise errors.bad_request("requested impersonation of groups without impersonating a user")
        if user:
            if self.rbac is not None and not self.rbac.may_impersonate(who, user, groups):
                self._forbidden((who.user, "impersonate", "", "users", None, user, False))
                raise errors.ApiError(403, "Forbidden", 'users "%s" is forbidden: User "%s" cannot impersonate '
                                      'resource "users" in API group "" at the cluster scope' % (user, who.user))
            who = identity(user, groups)
            self.impersonations.append((user, tuple(groups)))
        return who

    def enforce_rbac(self, *manifests):
        """Authorize every resource request by the Roles/ClusterRoles and bindings of `manifests`
        (paths of YAML files, or parsed documents); 403 for anything they do not grant."""
        docs = []
        for manifest in manifests:
            if isinstance(manifest, dict):
                docs.append(manifest)
            else:
                with open(str(manifest)) as handle:
                    docs.extend(yaml.safe_load_all(handle))
        self.rbac = RbacPolicy(docs)
        return self.rbac

    def stop_enforcing_rbac(self):
        self.rbac = None

    # ---- authorization --------------------------------------------------------------------
    def deny(self, verb, resource, namespace=None):
        """Answer 403 for `verb` ("*" = any) on `resource` ("pods", "virtualmachineinstancemigrations/status",
        "*"), in `namespace` only when given."""
        self._denied.append((verb, resource, namespace))

    def allow_all(self):
        self._denied = []

    def _forbidden(self, record):
        self.forbidden.append(record)
        log.warning("403 by RBAC: %s", describe(record))

    def authorize(self, verb, route, who=None):
        """The deny list, then RBAC when enforced. Each request is recorded in `requests` as
        (user, verb, group, resource, namespace, name, allowed); those RBAC refused (not those of
        the deny list, which tests set on purpose) also in `forbidden`, and logged (logger
        "k8s_emulator", WARNING). An impersonation RBAC refuses is recorded there as verb
        "impersonate" on "users"."""
        who = who or identity(self.user)
        resource = route.rtype.plural + ("/" + route.subresource if route.subresource else "")
        allowed = not any(
            d_verb in ("*", verb) and d_resource in ("*", resource, route.rtype.plural + "." + route.rtype.group)
            and d_namespace in (None, route.namespace) for d_verb, d_resource, d_namespace in list(self._denied))
        record_rbac = False
        if allowed and self.rbac is not None:
            allowed = self.rbac.allows(who, verb, route.rtype.group, resource, route.namespace, route.name)
            record_rbac = not allowed
        record = (who.user, verb, route.rtype.group, resource, route.namespace, route.name, allowed)
        self.requests.append(record)
        if record_rbac:
            self._forbidden(record)
        if not allowed:
            raise errors.forbidden(who.user, verb, route.rtype, route.subresource, route.namespace, route.name)

    # ---- watches --------------------------------------------------------------------------
    def watch_opened(self, stream):
        with self._watch_lock:
            self._watches.add(stream)

    def watch_closed(self, stream):
        with self._watch_lock:
            self._watches.discard(stream)

    @property
    def open_watches(self):
        with self._watch_lock:
            return len(self._watches)

    def watch_requests(self):
        """Path and query of every open watch ("/api/v1/namespaces/ns/pods?watch=true&..."), to wait
        for a particular client's watch to be in place."""
        with self._watch_lock:
            return sorted(str(stream.request.rel_url) for stream in self._watches)

    def cut_watches(self, graceful=False):
        """Drop every open watch: abruptly (connection closed mid-stream), or, with graceful=True,
        by ending the HTTP response as the server does when a watch times out."""
        with self._watch_lock:
            streams = list(self._watches)
        for stream in streams:
            stream.push(FINISH if graceful else CUT)
        return len(streams)
