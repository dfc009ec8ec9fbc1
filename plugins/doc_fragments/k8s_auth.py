# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):

    # Generated from AUTH_OPTIONS (plugins/module_utils/k8s/auth_options.py), which K8S_AUTH_ARGSPEC in
    # plugins/module_utils/argspec.py comes from; tests/unit/plugins/module_utils/test_k8s_auth_table.py
    # checks they match and prints the text to paste here when they do not.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
    - Path to a kubeconfig file, or the kubeconfig itself as a dictionary.
    - A dictionary is treated as a secret (its tokens and keys are masked in every output).
    - Without O(kubeconfig), O(context) and enough to authenticate with O(host), the in-cluster service account
      is used when running in a pod, else the default kubeconfig (E(KUBECONFIG) or C(~/.kube/config)).
    - Only kubeconfigs without C(exec) or C(auth-provider) users are tested by this collection.
    - If not set, the E(K8S_AUTH_KUBECONFIG) environment variable is used.
    type: raw
  context:
    description:
    - The kubeconfig context to use. Defaults to the kubeconfig's current context.
    - If not set, the E(K8S_AUTH_CONTEXT) environment variable is used.
    type: str
  host:
    description:
    - URL of the Kubernetes API server, for example V(https://k8s.example.com:6443).
    - With O(api_key), with O(username) and O(password), or with O(client_cert) and O(client_key), nothing is loaded
      from a kubeconfig or the pod's service account; otherwise it overrides the server loaded from them.
    - If not set, the E(K8S_AUTH_HOST) environment variable is used.
    type: str
  api_key:
    description:
    - Bearer token to authenticate with, for example a bound ServiceAccount token from C(kubectl create token --duration).
    - If not set, the E(K8S_AUTH_API_KEY) environment variable is used.
    type: str
  username:
    description:
    - User name for HTTP basic authentication, with O(password).
    - Only for API servers set up for basic authentication (most are not).
    - If not set, the E(K8S_AUTH_USERNAME) environment variable is used.
    type: str
    version_added: 0.2.0
  password:
    description:
    - Password for HTTP basic authentication, with O(username).
    - If not set, the E(K8S_AUTH_PASSWORD) environment variable is used.
    type: str
    version_added: 0.2.0
  validate_certs:
    description:
    - 'Whether to verify the API server''s TLS certificate. Keep it on: give O(ca_cert) instead.'
    - If not set, the E(K8S_AUTH_VALIDATE_CERTS) or E(K8S_AUTH_VERIFY_SSL) environment variable is used.
    type: bool
    aliases:
    - verify_ssl
  ca_cert:
    description:
    - Path to the CA certificate (the full chain) that signed the API server's certificate.
    - If not set, the E(K8S_AUTH_CA_CERT) or E(K8S_AUTH_SSL_CA_CERT) environment variable is used.
    type: path
    aliases:
    - ssl_ca_cert
  client_cert:
    description:
    - Path to a client certificate to authenticate with (mutual TLS), with O(client_key).
    - If not set, the E(K8S_AUTH_CLIENT_CERT) or E(K8S_AUTH_CERT_FILE) environment variable is used.
    type: path
    aliases:
    - cert_file
  client_key:
    description:
    - Path to the private key of O(client_cert). Its content is never read into any output.
    - If not set, the E(K8S_AUTH_CLIENT_KEY) or E(K8S_AUTH_KEY_FILE) environment variable is used.
    type: path
    aliases:
    - key_file
  proxy:
    description:
    - URL of an HTTP proxy to reach the API server through.
    - E(HTTP_PROXY) and E(HTTPS_PROXY) are not read. A password in the URL is masked in every output.
    - If not set, the E(K8S_AUTH_PROXY) environment variable is used.
    type: str
  no_proxy:
    description:
    - Comma-separated hosts, domains, IP addresses or CIDRs reached without O(proxy), for example V(localhost,.cluster.local,10.0.0.0/8).
    - E(NO_PROXY) is not read.
    - If not set, the E(K8S_AUTH_NO_PROXY) environment variable is used.
    type: str
    version_added: 0.2.0
  proxy_headers:
    description:
    - Headers sent to O(proxy).
    type: dict
    version_added: 0.2.0
    suboptions:
      proxy_basic_auth:
        description:
        - C(user:password) for the proxy's basic authentication.
        - If not set, the E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH) environment variable is used.
        type: str
      basic_auth:
        description:
        - C(user:password) for a basic authentication header.
        - If not set, the E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH) environment variable is used.
        type: str
      user_agent:
        description:
        - The User-Agent header, for example V(kubeovn-live-migration/0.2).
        - If not set, the E(K8S_AUTH_PROXY_HEADERS_USER_AGENT) environment variable is used.
        type: str
  persist_config:
    description:
    - Whether to write refreshed tokens (for example from an OIDC provider) back to the kubeconfig file.
    - If not set, the E(K8S_AUTH_PERSIST_CONFIG) environment variable is used.
    type: bool
  impersonate_user:
    description:
    - User to act as (the C(Impersonate-User) header), for example
      V(system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration) (the playbooks' ServiceAccount of extensions/awx/rbac.yml).
    - The authenticated identity needs the C(impersonate) verb on that user.
    - If not set, the E(K8S_AUTH_IMPERSONATE_USER) environment variable is used.
    type: str
    version_added: 0.2.0
  impersonate_groups:
    description:
    - Groups to act as (one C(Impersonate-Group) header each), with O(impersonate_user).
    - The variable holds them comma-separated, for example V(group1,group2).
    - If not set, the E(K8S_AUTH_IMPERSONATE_GROUPS) environment variable is used.
    type: list
    elements: str
    version_added: 0.2.0
notes:
  - Authentication follows M(kubernetes.core.k8s), so the Kubernetes credential of AWX and Automation
    Controller, which sets the E(K8S_AUTH_*) environment variables, works unchanged.
  - O(host) with O(client_cert) and O(client_key) alone never loads a kubeconfig, so no kubeconfig token
    is sent to that host (kubernetes.core would load the default kubeconfig there).
  - See C(docs/rbac.md) for the rights each module needs and for bound, expiring tokens.
requirements:
  - kubernetes >= 24.2.0 (Python library)
"""
