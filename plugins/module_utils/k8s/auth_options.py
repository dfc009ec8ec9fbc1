# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubernetes.core's auth options: the one table the modules' argspec (module_utils/argspec.py),
the doc fragment (doc_fragments/k8s_auth.py, checked against doc_fragment_options() by a unit
test), the EDA source's K8S_AUTH_* fallbacks (auth_from_env) and the client (k8s/client.py) come from.

Names, aliases, types and variables are kubernetes.core's: an option's variables are
K8S_AUTH_<OPTION> then K8S_AUTH_<kubernetes client attribute>, a boolean variable is false for
0/false/no, impersonate_groups is comma-separated, proxy_headers' keys each have their own variable.

No imports beyond the standard library: the EDA source reads it outside Ansible."""

import base64
import os

from urllib.parse import urlsplit

# option -> spec. Keys: type, aliases, env (variables in the order read), no_log (secret: masked in
# every output), elements (list type), suboptions (dict type), version_added (ours, when newer than
# 0.1.0), description (the doc fragment's lines, before the generated "If not set" line).
AUTH_OPTIONS = {
    "kubeconfig": {
        "type": "raw", "env": ("K8S_AUTH_KUBECONFIG",),
        "description": (
            "Path to a kubeconfig file, or the kubeconfig itself as a dictionary.",
            "A dictionary is treated as a secret (its tokens and keys are masked in every output).",
            "Without O(kubeconfig), O(context) and enough to authenticate with O(host), the in-cluster "
            "service account is used when running in a pod, else the default kubeconfig "
            "(E(KUBECONFIG) or C(~/.kube/config)).",
            "Only kubeconfigs without C(exec) or C(auth-provider) users are tested by this collection.",
        ),
    },
    "context": {
        "type": "str", "env": ("K8S_AUTH_CONTEXT",),
        "description": ("The kubeconfig context to use. Defaults to the kubeconfig's current context.",),
    },
    "host": {
        "type": "str", "env": ("K8S_AUTH_HOST",),
        "description": (
            "URL of the Kubernetes API server, for example V(https://k8s.example.com:6443).",
            "With O(api_key), with O(username) and O(password), or with O(client_cert) and O(client_key), "
            "nothing is loaded from a kubeconfig or the pod's service account; otherwise it overrides the "
            "server loaded from them.",
        ),
    },
    "api_key": {
        "type": "str", "no_log": True, "env": ("K8S_AUTH_API_KEY",),
        "description": (
            "Bearer token to authenticate with, for example a bound ServiceAccount token from "
            "C(kubectl create token --duration).",
        ),
    },
    "username": {
        "type": "str", "env": ("K8S_AUTH_USERNAME",), "version_added": "0.2.0",
        "description": (
            "User name for HTTP basic authentication, with O(password).",
            "Only for API servers set up for basic authentication (most are not).",
        ),
    },
    "password": {
        "type": "str", "no_log": True, "env": ("K8S_AUTH_PASSWORD",), "version_added": "0.2.0",
        "description": ("Password for HTTP basic authentication, with O(username).",),
    },
    "validate_certs": {
        "type": "bool", "aliases": ("verify_ssl",), "env": ("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
        "description": (
            "Whether to verify the API server's TLS certificate. Keep it on: give O(ca_cert) instead.",
        ),
    },
    "ca_cert": {
        "type": "path", "aliases": ("ssl_ca_cert",), "env": ("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
        "description": (
            "Path to the CA certificate (the full chain) that signed the API server's certificate.",
        ),
    },
    "client_cert": {
        "type": "path", "aliases": ("cert_file",), "env": ("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
        "description": ("Path to a client certificate to authenticate with (mutual TLS), with O(client_key).",),
    },
    "client_key": {
        "type": "path", "aliases": ("key_file",), "env": ("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
        "description": ("Path to the private key of O(client_cert). Its content is never read into any output.",),
    },
    "proxy": {
        "type": "str", "env": ("K8S_AUTH_PROXY",),
        "description": (
            "URL of an HTTP proxy to reach the API server through.",
            "E(HTTP_PROXY) and E(HTTPS_PROXY) are not read. A password in the URL is masked in every output.",
        ),
    },
    "no_proxy": {
        "type": "str", "env": ("K8S_AUTH_NO_PROXY",), "version_added": "0.2.0",
        "description": (
            "Comma-separated hosts, domains, IP addresses or CIDRs reached without O(proxy), "
            "for example V(localhost,.cluster.local,10.0.0.0/8).",
            "E(NO_PROXY) is not read.",
        ),
    },
    "proxy_headers": {
        "type": "dict", "version_added": "0.2.0",
        "description": ("Headers sent to O(proxy).",),
        "suboptions": {
            "proxy_basic_auth": {
                "type": "str", "no_log": True, "env": ("K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH",),
                "description": ("C(user:password) for the proxy's basic authentication.",),
            },
            "basic_auth": {
                "type": "str", "no_log": True, "env": ("K8S_AUTH_PROXY_HEADERS_BASIC_AUTH",),
                "description": ("C(user:password) for a basic authentication header.",),
            },
            "user_agent": {
                "type": "str", "env": ("K8S_AUTH_PROXY_HEADERS_USER_AGENT",),
                "description": ("The User-Agent header, for example V(kubeovn-live-migration/0.2).",),
            },
        },
    },
    "persist_config": {
        "type": "bool", "env": ("K8S_AUTH_PERSIST_CONFIG",),
        "description": ("Whether to write refreshed tokens (for example from an OIDC provider) back to the kubeconfig file.",),
    },
    "impersonate_user": {
        "type": "str", "env": ("K8S_AUTH_IMPERSONATE_USER",), "version_added": "0.2.0",
        "description": (
            "User to act as (the C(Impersonate-User) header), for example "
            "V(system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration) (the playbooks' "
            "ServiceAccount of extensions/awx/rbac.yml).",
            "The authenticated identity needs the C(impersonate) verb on that user.",
        ),
    },
    "impersonate_groups": {
        "type": "list", "elements": "str", "env": ("K8S_AUTH_IMPERSONATE_GROUPS",), "version_added": "0.2.0",
        "description": (
            "Groups to act as (one C(Impersonate-Group) header each), with O(impersonate_user).",
            "The variable holds them comma-separated, for example V(group1,group2).",
        ),
    },
}

# Typed options, for the EDA source's schema (source_options.py), which checks values outside Ansible.
BOOL_OPTIONS = tuple(name for name, spec in AUTH_OPTIONS.items() if spec["type"] == "bool")
LIST_OPTIONS = tuple(name for name, spec in AUTH_OPTIONS.items() if spec["type"] == "list")
# Option names and the environment variables read for each, in order (dict options: per key).
AUTH_ENV = dict((name, spec.get("env", ())) for name, spec in AUTH_OPTIONS.items())
SUBOPTION_ENV = dict((name, dict((sub, subspec["env"]) for sub, subspec in spec["suboptions"].items()))
                     for name, spec in AUTH_OPTIONS.items() if spec.get("suboptions"))

# Combinations that authenticate on their own: with one of them nothing else is loaded, so no
# kubeconfig's or pod's credentials are ever sent to the host the user named.
SELF_SUFFICIENT = (("host", "api_key"), ("host", "username", "password"), ("host", "client_cert", "client_key"))
# Options that are only meaningful together.
PAIRS = (("username", "password"), ("client_cert", "client_key"))


def env_bool(value):
    """kubernetes.core's reading of a boolean variable."""
    return value.strip().lower() not in ("0", "false", "no")


def env_value(option, text):
    """One variable's text as the option's value."""
    kind = AUTH_OPTIONS[option]["type"]
    if kind == "bool":
        return env_bool(text)
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def auth_from_env(environ=None):
    """K8S_AUTH_* variables as auth options, for callers without an Ansible argspec (EDA)."""
    environ = os.environ if environ is None else environ
    auth = {}
    for option, names in AUTH_ENV.items():
        for name in names:
            if environ.get(name):
                auth[option] = env_value(option, environ[name])
                break
    for option, subs in SUBOPTION_ENV.items():
        values = dict((sub, environ[names[0]]) for sub, names in subs.items() if environ.get(names[0]))
        if values:
            auth[option] = values
    return auth


def given(auth, option):
    value = auth.get(option)
    if isinstance(value, dict):
        return any(v not in (None, "") for v in value.values())
    return value not in (None, "", [])


def credential_source(auth):
    """Where the credentials come from: "explicit" (one of SELF_SUFFICIENT: load nothing),
    "kubeconfig" (kubeconfig or context given), or "ambient" (in-cluster, else the default kubeconfig)."""
    if any(all(given(auth, o) for o in combo) for combo in SELF_SUFFICIENT):
        return "explicit"
    if given(auth, "kubeconfig") or given(auth, "context"):
        return "kubeconfig"
    return "ambient"


def pairing_error(auth):
    """The message for an option given without its partner, or None."""
    for first, second in PAIRS:
        if given(auth, first) != given(auth, second):
            have, lack = (first, second) if given(auth, first) else (second, first)
            return "%s needs %s: set both or neither" % (have, lack)
    if given(auth, "impersonate_groups") and not given(auth, "impersonate_user"):
        return "impersonate_groups needs impersonate_user (the API server refuses groups without a user)"
    return None


def basic_auth_header(user_password):
    """'Basic <base64>' for 'user:password'."""
    return "Basic " + base64.b64encode(user_password.encode("utf-8")).decode("ascii")


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str) and value:
        yield value


def secret_values(auth):
    """Every secret in the auth options and every value derived from one (headers, encodings), to
    be masked in module output and scrubbed from messages. A kubeconfig given as a dict is secret
    whole (its tokens, keys, passwords); a path is not."""
    secrets = set()
    for name, spec in AUTH_OPTIONS.items():
        value = auth.get(name)
        if value in (None, ""):
            continue
        if spec.get("no_log") or (name == "kubeconfig" and isinstance(value, dict)):
            secrets.update(_strings(value))
        for sub, subspec in spec.get("suboptions", {}).items():
            if subspec.get("no_log") and isinstance(value, dict) and value.get(sub):
                secrets.add(value[sub])
                secrets.add(basic_auth_header(value[sub]).split(" ", 1)[1])
    if given(auth, "api_key"):
        secrets.add("Bearer " + auth["api_key"])
    if given(auth, "username") and given(auth, "password"):
        secrets.add(basic_auth_header(auth["username"] + ":" + auth["password"]).split(" ", 1)[1])
    proxy = auth.get("proxy")
    if isinstance(proxy, str) and "@" in proxy:
        parts = urlsplit(proxy)
        if parts.password:
            secrets.add(parts.password)
    # Short values (a "1", a "no") would mask unrelated text everywhere; no real secret is that short.
    return set(s for s in secrets if isinstance(s, str) and len(s) >= 4)


def _doc_option(spec):
    doc = {"description": list(spec["description"]), "type": spec["type"]}
    env = spec.get("env")
    if env:
        doc["description"].append("If not set, the %s environment variable is used." % " or ".join(
            "E(%s)" % name for name in env))
    for key in ("elements", "version_added"):
        if spec.get(key):
            doc[key] = spec[key]
    if spec.get("aliases"):
        doc["aliases"] = list(spec["aliases"])
    if spec.get("suboptions"):
        doc["suboptions"] = dict((sub, _doc_option(subspec)) for sub, subspec in spec["suboptions"].items())
    return doc


def doc_fragment_options():
    """The `options` of the k8s_auth doc fragment, as the table says they must read."""
    return dict((name, _doc_option(spec)) for name, spec in AUTH_OPTIONS.items())
