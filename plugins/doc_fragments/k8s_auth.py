# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):

    # Pairs with K8S_AUTH_ARGSPEC in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, or the kubeconfig itself as a dictionary.
      - If not set, the E(K8S_AUTH_KUBECONFIG) environment variable is used.
      - Without O(kubeconfig), O(context), O(host) and O(api_key), the in-cluster service account is
        used when running in a pod, else the default kubeconfig (E(KUBECONFIG) or C(~/.kube/config)).
    type: raw
  context:
    description:
      - The kubeconfig context to use. Defaults to the kubeconfig's current context.
      - If not set, the E(K8S_AUTH_CONTEXT) environment variable is used.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example V(https://k8s.example.com:6443).
      - With O(api_key), nothing is loaded from a kubeconfig; otherwise it overrides the loaded server.
      - If not set, the E(K8S_AUTH_HOST) environment variable is used.
    type: str
  api_key:
    description:
      - Bearer token to authenticate with, for example a ServiceAccount token.
      - If not set, the E(K8S_AUTH_API_KEY) environment variable is used.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - If not set, the E(K8S_AUTH_VALIDATE_CERTS) or E(K8S_AUTH_VERIFY_SSL) environment variable is used.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path to a CA certificate that signed the API server's certificate.
      - If not set, the E(K8S_AUTH_CA_CERT) or E(K8S_AUTH_SSL_CA_CERT) environment variable is used.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate for mutual TLS.
      - If not set, the E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE) environment variable is used.
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - If not set, the E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE) environment variable is used.
    type: path
    aliases: [key_file]
  proxy:
    description:
      - URL of an HTTP proxy to reach the API server through.
      - If not set, the E(K8S_AUTH_PROXY) environment variable is used.
    type: str
  persist_config:
    description:
      - Whether to write refreshed tokens (for example from an OIDC provider) back to the kubeconfig file.
      - If not set, the E(K8S_AUTH_PERSIST_CONFIG) environment variable is used.
    type: bool
notes:
  - Authentication follows M(kubernetes.core.k8s), so the Kubernetes credential of AWX and Automation
    Controller, which sets the E(K8S_AUTH_*) environment variables, works unchanged.
requirements:
  - kubernetes >= 24.2.0 (Python library)
"""
