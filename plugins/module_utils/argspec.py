# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared argument specs. Each entry of SHARED_ARGSPECS pairs one-to-one with the doc fragment
plugins/doc_fragments/<name>.py, so an option is documented exactly where it is declared."""

from ansible.module_utils.basic import env_fallback

# ovn-nbctl / ovn-sbctl connection options (doc fragment: ovn_nb).
OVN_NB_ARGSPEC = dict(
    ovn_nb_connection=dict(type="str", fallback=(env_fallback, ["OVN_NB_DB"])),
    ovn_sb_connection=dict(type="str", fallback=(env_fallback, ["OVN_SB_DB"])),
    private_key=dict(type="path", no_log=False),
    certificate=dict(type="path"),
    ca_cert=dict(type="path"),
    connect_timeout=dict(type="float", default=10.0),
)

# kubernetes.core's auth options and K8S_AUTH_* fallbacks (doc fragment: k8s_auth).
K8S_AUTH_ARGSPEC = dict(
    kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    validate_certs=dict(type="bool", aliases=["verify_ssl"],
                        fallback=(env_fallback, ["K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"],
                 fallback=(env_fallback, ["K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"])),
    client_cert=dict(type="path", aliases=["cert_file"],
                     fallback=(env_fallback, ["K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"])),
    client_key=dict(type="path", aliases=["key_file"], no_log=False,
                    fallback=(env_fallback, ["K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"])),
    proxy=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_PROXY"])),
    persist_config=dict(type="bool", fallback=(env_fallback, ["K8S_AUTH_PERSIST_CONFIG"])),
)

SHARED_ARGSPECS = {
    "ovn_nb": OVN_NB_ARGSPEC,
    "k8s_auth": K8S_AUTH_ARGSPEC,
}
