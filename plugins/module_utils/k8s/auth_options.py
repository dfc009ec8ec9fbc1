# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubernetes.core's auth options, the one table the modules' argspec (module_utils/argspec.py), the
EDA source's K8S_AUTH_* fallbacks and the client (k8s/client.py) are all derived from.

No imports: the EDA source reads it outside Ansible."""

# option: (type, aliases, no_log, K8S_AUTH_* variables read in this order)
AUTH_OPTIONS = {
    "kubeconfig": ("raw", (), False, ("K8S_AUTH_KUBECONFIG",)),
    "context": ("str", (), False, ("K8S_AUTH_CONTEXT",)),
    "host": ("str", (), False, ("K8S_AUTH_HOST",)),
    "api_key": ("str", (), True, ("K8S_AUTH_API_KEY",)),
    "validate_certs": ("bool", ("verify_ssl",), False, ("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL")),
    "ca_cert": ("path", ("ssl_ca_cert",), False, ("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT")),
    "client_cert": ("path", ("cert_file",), False, ("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE")),
    "client_key": ("path", ("key_file",), False, ("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE")),
    "proxy": ("str", (), False, ("K8S_AUTH_PROXY",)),
    "persist_config": ("bool", (), False, ("K8S_AUTH_PERSIST_CONFIG",)),
}

# Option names and the environment variables read for each, in order.
AUTH_ENV = dict((name, spec[3]) for name, spec in AUTH_OPTIONS.items())
BOOL_OPTIONS = tuple(name for name, spec in AUTH_OPTIONS.items() if spec[0] == "bool")
