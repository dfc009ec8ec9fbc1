# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one Kubernetes client of the collection, on the official `kubernetes` package.

Auth follows kubernetes.core (so AWX's Kubernetes credential, which sets K8S_AUTH_*, works), with
one rule stricter: `host` with `api_key`, with `username`+`password`, or with `client_cert`+`client_key`
loads nothing else (so no kubeconfig's or pod's token is ever sent to the host named); else
`kubeconfig`/`context` are loaded; else the in-cluster service account; else the default kubeconfig
(KUBECONFIG or ~/.kube/config). Explicit options then override what was loaded. The decision is
`credential_source()` in auth_options.py.

Calls are plain REST (no DynamicClient: discovery costs a round trip) with `_preload_content=False`,
so every object is the API server's JSON as a dict, whatever the client version. Every failure
becomes KubernetesError in `_translate`, with a message that names what went wrong and never
carries a secret (`secret_values()` are scrubbed from every message).

No Ansible imports at module level: the EDA event source reuses this file.
"""

import json
import os
import traceback

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import KubernetesError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.auth_options import (
    AUTH_OPTIONS, basic_auth_header, credential_source, given, pairing_error, secret_values,
)

try:
    from kubernetes.client import ApiClient, Configuration, CoreV1Api, CustomObjectsApi
    from kubernetes.client.rest import ApiException
    from kubernetes.client.rest import RESTClientObject
    from kubernetes.config import ConfigException, load_incluster_config, load_kube_config, load_kube_config_from_dict
    import urllib3
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

# Our option name -> kubernetes.client.Configuration attribute.
CONFIGURATION_ATTRS = {
    "validate_certs": "verify_ssl",
    "ca_cert": "ssl_ca_cert",
    "client_cert": "cert_file",
    "client_key": "key_file",
    "proxy": "proxy",
    "no_proxy": "no_proxy",
}

# (connect, read) seconds for ordinary calls; a watch's read timeout is its own duration plus this.
REQUEST_TIMEOUT = (10, 30)
WATCH_READ_GRACE = 10


class Resource(object):
    """One API resource: enough to build URLs and to name it in messages."""

    def __init__(self, group, version, plural, kind):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version


VMIM = Resource("kubevirt.io", "v1", "virtualmachineinstancemigrations", "VirtualMachineInstanceMigration")
VMI = Resource("kubevirt.io", "v1", "virtualmachineinstances", "VirtualMachineInstance")
POD = Resource("", "v1", "pods", "Pod")
EVENT = Resource("", "v1", "events", "Event")


class WatchExpired(KubernetesError):
    """410 Gone: the resourceVersion a watch started from was compacted away; re-list."""


class ConnectionLost(KubernetesError):
    """The API server could not be reached, or a stream broke off."""


def missing_library_msg():
    """The message for a missing `kubernetes` package, in Ansible's wording when Ansible is there."""
    msg = "the kubernetes Python library is required by this module: pip install kubernetes"
    try:
        from ansible.module_utils.basic import missing_required_lib
    except ImportError:
        return msg
    return msg + ". " + missing_required_lib("kubernetes")


def require_kubernetes():
    if KUBERNETES_IMPORT_ERROR is not None:
        raise KubernetesError(missing_library_msg(), exception=KUBERNETES_IMPORT_ERROR)


def _load_kubeconfig(configuration, auth):
    """Load a kubeconfig path or dict (or the default one) into `configuration`."""
    kubeconfig = auth.get("kubeconfig")
    kwargs = dict(context=auth.get("context") or None, client_configuration=configuration,
                  persist_config=bool(auth.get("persist_config")))
    if isinstance(kubeconfig, dict):
        source = "the kubeconfig given as a dict"
    elif kubeconfig:
        source = "kubeconfig " + str(kubeconfig)
    else:
        source = "the default kubeconfig (KUBECONFIG or ~/.kube/config)"
    try:
        if isinstance(kubeconfig, dict):
            load_kube_config_from_dict(config_dict=kubeconfig, **kwargs)
        else:
            if kubeconfig:
                path = os.path.expanduser(str(kubeconfig))
                if not os.path.exists(path):
                    raise KubernetesError("cannot load %s: no such file" % source)
            else:
                # Read KUBECONFIG now, not when the kubernetes package was imported (long-lived callers).
                path = os.pathsep.join(os.path.expanduser(p) for p in
                                       (os.environ.get("KUBECONFIG") or "~/.kube/config").split(os.pathsep))
            load_kube_config(config_file=path, **kwargs)
    except KubernetesError:
        raise
    except ConfigException as err:
        if not kubeconfig:
            raise KubernetesError(
                "no Kubernetes configuration found: set kubeconfig, or host and api_key "
                "(or K8S_AUTH_KUBECONFIG / K8S_AUTH_HOST and K8S_AUTH_API_KEY), or run inside a cluster (%s)" % err)
        raise KubernetesError("cannot load %s: %s" % (source, err))
    except Exception as err:  # a malformed file: YAML errors, missing keys, unreadable paths
        raise KubernetesError("cannot load %s: %s: %s" % (source, type(err).__name__, err))


# Options naming files: checked up front so the message names the file, not an errno.
FILE_OPTIONS = ("ca_cert", "client_cert", "client_key")


def _check_files(auth):
    for option in FILE_OPTIONS:
        path = auth.get(option)
        if path and not os.access(path, os.R_OK):
            raise KubernetesError("%s %s: %s" % (option, path, "not readable" if os.path.exists(path) else "no such file"))


def scrub(text, secrets):
    """`text` with every secret replaced by ********."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def _scrubbed(err, secrets):
    """The same KubernetesError with the secrets scrubbed from its message."""
    if secrets and isinstance(err, KubernetesError):
        err.msg = scrub(err.msg, secrets)
        err.args = (err.msg,)
    return err


def _proxy_headers(value):
    headers = dict((k, v) for k, v in (value or {}).items() if v not in (None, ""))
    return urllib3.util.make_headers(**headers) if headers else None


def _explicit(auth):
    """Options set by the user (None, "" and an all-empty dict mean "not set")."""
    return dict((k, v) for k, v in auth.items() if k in AUTH_OPTIONS and given(auth, k))


def build_configuration(auth):
    """A kubernetes.client.Configuration from auth options (kubernetes.core precedence)."""
    require_kubernetes()
    auth = _explicit(auth)
    secrets = secret_values(auth)
    try:
        return _build_configuration(auth)
    except KubernetesError as err:
        raise _scrubbed(err, secrets)


def _build_configuration(auth):
    problem = pairing_error(auth)
    if problem:
        raise KubernetesError(problem)
    _check_files(auth)
    configuration = Configuration()
    source = credential_source(auth)
    if source == "kubeconfig":
        _load_kubeconfig(configuration, auth)
    elif source == "ambient":
        try:
            load_incluster_config(client_configuration=configuration)
        except ConfigException:
            _load_kubeconfig(configuration, auth)
    overrides = {}
    if given(auth, "host"):
        overrides["host"] = auth["host"].rstrip("/")
    for option, attr in CONFIGURATION_ATTRS.items():
        if option in auth:
            overrides[attr] = auth[option]
    if "proxy_headers" in auth:
        overrides["proxy_headers"] = _proxy_headers(auth["proxy_headers"])
    credential = None
    if given(auth, "api_key"):
        credential = "Bearer " + auth["api_key"]
    elif given(auth, "username"):
        credential = basic_auth_header(auth["username"] + ":" + auth["password"])
    elif source == "explicit":
        credential = ""     # a client certificate alone: no token of any kind
    if credential is not None:
        configuration.api_key = {"authorization": credential} if credential else {}
        configuration.api_key_prefix = {}
        configuration.refresh_api_key_hook = None
    for attr, value in overrides.items():
        setattr(configuration, attr, value)
    loaded_hook = configuration.refresh_api_key_hook
    if loaded_hook is not None and overrides:
        # A kubeconfig token's refresh hook copies the kubeconfig's server and TLS settings back
        # before every request: re-apply ours after it.
        def refresh(config):
            loaded_hook(config)
            for attr, value in overrides.items():
                setattr(config, attr, value)
        configuration.refresh_api_key_hook = refresh
    return configuration


def impersonation_headers(auth):
    """[(header, value)] for impersonate_user / impersonate_groups (one Impersonate-Group per group)."""
    headers = []
    if given(auth, "impersonate_user"):
        headers.append(("Impersonate-User", auth["impersonate_user"]))
        for group in auth.get("impersonate_groups") or ():
            headers.append(("Impersonate-Group", group))
    return headers


def connect(auth):
    """A K8sClient from auth options (module params, or auth_from_env() for non-Ansible callers)."""
    configuration = build_configuration(auth)
    return K8sClient(configuration, impersonation_headers(auth), secret_values(_explicit(auth)))


def _status_of(err):
    """The Status object the API server sent with an error, or {}."""
    try:
        body = json.loads(err.body) if err.body else {}
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def describe(resource, namespace=None, name=None):
    """'VirtualMachineInstanceMigration ns/name' or 'virtualmachineinstancemigrations in namespace ns'."""
    if name:
        return "%s %s" % (resource.kind, "%s/%s" % (namespace, name) if namespace else name)
    return "%s %s" % (resource.plural, 'in namespace "%s"' % namespace if namespace else "cluster-wide")


def api_error(host, verb, resource, namespace, name, status, reason, message):
    """The KubernetesError for an HTTP error status (pure: unit-tested without a server)."""
    what = describe(resource, namespace, name)
    group = resource.group or "core"
    said = (": the API server said: " + message) if message else ""
    if status == 401:
        return KubernetesError(
            "authentication to the Kubernetes API at %s failed (401 Unauthorized): check api_key/kubeconfig "
            "(the token may be wrong or expired)" % host, api_status=status)
    if status == 403:
        scope = 'in namespace "%s"' % namespace if namespace else "at cluster scope"
        return KubernetesError(
            'forbidden: the credentials may not %s resource "%s" in API group "%s" %s: grant that verb to the '
            "user or ServiceAccount in a Role or ClusterRole%s" % (verb, resource.plural, group, scope, said),
            api_status=status)
    if status == 404:
        if name:
            return KubernetesError("%s not found%s" % (what, said), api_status=status)
        return KubernetesError(
            "the API server at %s does not serve %s.%s/%s (is KubeVirt installed, or does the namespace exist?)%s"
            % (host, resource.plural, group, resource.version, said), api_status=status)
    if status == 410:
        return WatchExpired("the watch on %s expired (410 Gone)%s" % (what, said), api_status=status)
    if status == 409:
        return KubernetesError("cannot %s %s: conflict%s" % (verb, what, said), api_status=status)
    return KubernetesError("cannot %s %s: HTTP %s %s%s" % (verb, what, status, reason or "", said), api_status=status)


def _translate(err, host, verb, resource, namespace=None, name=None):
    """Any exception from a call -> KubernetesError. The one place errors are worded."""
    if isinstance(err, KubernetesError):
        return err
    if isinstance(err, ApiException):
        if not err.status:  # raised by the REST layer itself, e.g. TLS failures
            return ConnectionLost(
                "cannot talk to the Kubernetes API at %s: %s (for a TLS error: give ca_cert the CA that signed "
                "the API server's certificate)"
                % (host, str(err.reason).replace("\n", ": ")))
        status = _status_of(err)
        return api_error(host, verb, resource, namespace, name, err.status, err.reason, status.get("message"))
    if isinstance(err, urllib3.exceptions.HTTPError):
        reason = getattr(err, "reason", None) or err
        return ConnectionLost("cannot reach the Kubernetes API at %s: %s" % (host, reason))
    if isinstance(err, (OSError, ValueError)):
        return ConnectionLost("cannot reach the Kubernetes API at %s: %s: %s" % (host, type(err).__name__, err))
    return KubernetesError("unexpected error on %s %s at %s: %s: %s"
                           % (verb, describe(resource, namespace, name), host, type(err).__name__, err))


def _read_json(response):
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()


def _rest_client_with_headers(configuration, extra_headers):
    """The generated client's REST layer, adding `extra_headers` to every request. A header may
    repeat (Impersonate-Group, once per group), which the generated client's header dict cannot."""
    from urllib3._collections import HTTPHeaderDict

    class RestClientWithHeaders(RESTClientObject):
        def request(self, method, url, *args, **kwargs):
            headers = HTTPHeaderDict(kwargs.get("headers") or {})
            for name, value in extra_headers:
                headers.add(name, value)
            kwargs["headers"] = headers
            return super(RestClientWithHeaders, self).request(method, url, *args, **kwargs)

    return RestClientWithHeaders(configuration)


class K8sClient(object):
    """Typed REST calls on raw dicts. Object-level calls return None where the object is missing."""

    def __init__(self, configuration, extra_headers=(), secrets=()):
        self.configuration = configuration
        self.host = configuration.host
        self.secrets = set(secrets)
        self.api_client = ApiClient(configuration)
        if extra_headers:
            self.api_client.rest_client = _rest_client_with_headers(configuration, list(extra_headers))
        self.custom = CustomObjectsApi(self.api_client)
        self.core = CoreV1Api(self.api_client)

    def close(self):
        self.api_client.close()

    def _call(self, verb, resource, namespace, name, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as err:
            raise _scrubbed(_translate(err, self.host, verb, resource, namespace, name), self.secrets)

    def _list_func(self, resource, namespace):
        """The generated list function and its leading arguments for this resource and scope."""
        if resource.group:
            if namespace:
                return self.custom.list_namespaced_custom_object, (
                    resource.group, resource.version, namespace, resource.plural)
            return self.custom.list_cluster_custom_object, (resource.group, resource.version, resource.plural)
        if resource is POD:
            if namespace:
                return self.core.list_namespaced_pod, (namespace,)
            return self.core.list_pod_for_all_namespaces, ()
        if resource is EVENT:
            if namespace:
                return self.core.list_namespaced_event, (namespace,)
            return self.core.list_event_for_all_namespaces, ()
        raise ValueError("unsupported resource " + resource.plural)

    def list(self, resource, namespace=None, label_selector=None, field_selector=None):
        """(items, resourceVersion of the list)."""
        func, args = self._list_func(resource, namespace)
        kwargs = dict(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        body = self._call("list", resource, namespace, None, lambda: _read_json(func(*args, **kwargs)))
        return body.get("items") or [], (body.get("metadata") or {}).get("resourceVersion")

    def get(self, resource, namespace, name):
        """The object, or None when it does not exist."""
        try:
            return self._call("get", resource, namespace, name, self._get, resource, namespace, name)
        except KubernetesError as err:
            if err.details.get("api_status") == 404:
                return None
            raise

    def _get(self, resource, namespace, name):
        kwargs = dict(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        if resource is POD:
            return _read_json(self.core.read_namespaced_pod(name, namespace, **kwargs))
        if resource is EVENT:
            return _read_json(self.core.read_namespaced_event(name, namespace, **kwargs))
        return _read_json(self.custom.get_namespaced_custom_object(
            resource.group, resource.version, namespace, resource.plural, name, **kwargs))

    def create(self, resource, namespace, body):
        name = (body.get("metadata") or {}).get("name")
        kwargs = dict(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        if resource is EVENT:
            return self._call("create", resource, namespace, name, lambda: _read_json(
                self.core.create_namespaced_event(namespace, body, **kwargs)))
        return self._call("create", resource, namespace, name, lambda: _read_json(
            self.custom.create_namespaced_custom_object(
                resource.group, resource.version, namespace, resource.plural, body, **kwargs)))

    def json_patch(self, resource, namespace, name, operations):
        """Apply an RFC 6902 JSON patch; returns the patched object.

        A list body is sent as application/json-patch+json by every client version we support
        (older ones pick it for lists, newer ones by default), so no content type is forced.
        An `add` of metadata.resourceVersion makes the write conditional: 409 if it moved on."""
        if resource is not EVENT:
            raise ValueError("unsupported resource " + resource.plural)
        return self._call("patch", resource, namespace, name, lambda: _read_json(
            self.core.patch_namespaced_event(name, namespace, list(operations), _preload_content=False,
                                             _request_timeout=REQUEST_TIMEOUT)))

    def delete(self, resource, namespace, name):
        """True if this call deleted it (or started its deletion), False if it was already gone."""
        try:
            self._call("delete", resource, namespace, name, lambda: _read_json(
                self.custom.delete_namespaced_custom_object(
                    resource.group, resource.version, namespace, resource.plural, name,
                    _preload_content=False, _request_timeout=REQUEST_TIMEOUT)))
        except KubernetesError as err:
            if err.details.get("api_status") == 404:
                return False
            raise
        return True

    def watch(self, resource, namespace, resource_version, label_selector=None, field_selector=None,
              timeout_seconds=60):
        """An open WatchStream from `resource_version` (iterate it for (type, object) events)."""
        func, args = self._list_func(resource, namespace)
        kwargs = dict(watch=True, allow_watch_bookmarks=True, timeout_seconds=int(timeout_seconds),
                      _preload_content=False,
                      _request_timeout=(REQUEST_TIMEOUT[0], int(timeout_seconds) + WATCH_READ_GRACE))
        if resource_version:
            kwargs["resource_version"] = resource_version
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        response = self._call("watch", resource, namespace, None, func, *args, **kwargs)
        return WatchStream(self, response, resource, namespace)


class WatchStream(object):
    """One watch response, read line by line. Raises WatchExpired on 410 and ConnectionLost when
    the stream breaks off; ends quietly when the server closes it (its timeout)."""

    def __init__(self, client, response, resource, namespace):
        self.client = client
        self.response = response
        self.resource = resource
        self.namespace = namespace

    def __iter__(self):
        try:
            for line in self._lines():
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    raise api_error(self.client.host, "watch", self.resource, self.namespace, None,
                                    obj.get("code"), obj.get("reason"), obj.get("message"))
                yield event.get("type"), obj
        except KubernetesError as err:
            raise _scrubbed(err, self.client.secrets)
        except ValueError as err:
            raise ConnectionLost("the watch on %s from %s sent a malformed event: %s"
                                 % (describe(self.resource, self.namespace), self.client.host, err))
        except Exception as err:
            raise _scrubbed(_translate(err, self.client.host, "watch", self.resource, self.namespace),
                            self.client.secrets)
        finally:
            self.close()

    def _lines(self):
        pending = b""
        for chunk in self.response.stream(amt=None, decode_content=False):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip():
                    yield line
        if pending.strip():
            yield pending

    def close(self):
        """Safe from another thread: shutting the socket down unblocks a pending read."""
        shutdown = getattr(self.response, "shutdown", None)
        try:
            if shutdown is not None:
                shutdown()
            self.response.close()
            self.response.release_conn()
        except Exception:
            pass
