# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared argument specs. Each entry of SHARED_ARGSPECS pairs one-to-one with the doc fragment
plugins/doc_fragments/<name>.py, so an option is documented exactly where it is declared."""

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.auth_options import AUTH_OPTIONS, secret_values
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb import WAIT_STAGES

# ovn-nbctl / ovn-sbctl connection options (doc fragment: ovn_nb).
OVN_NB_ARGSPEC = dict(
    ovn_nb_connection=dict(type="str", fallback=(env_fallback, ["OVN_NB_DB"])),
    ovn_sb_connection=dict(type="str", fallback=(env_fallback, ["OVN_SB_DB"])),
    private_key=dict(type="path", no_log=False),
    certificate=dict(type="path"),
    # Named apart from the k8s group's ca_cert (the API server's CA); the old name still works.
    ovn_ca_cert=dict(type="path", aliases=["ca_cert"], deprecated_aliases=[
        dict(name="ca_cert", version="1.0.0", collection_name="kubeovn.live_migration")]),
    connect_timeout=dict(type="float", default=10.0),
)


def _k8s_option(spec):
    """kubernetes.core's auth options and K8S_AUTH_* fallbacks (doc fragment: k8s_auth), from the one table."""
    option = {"type": spec["type"], "no_log": bool(spec.get("no_log"))}
    if spec.get("env"):
        option["fallback"] = (env_fallback, list(spec["env"]))
    if spec.get("aliases"):
        option["aliases"] = list(spec["aliases"])
    if spec.get("elements"):
        option["elements"] = spec["elements"]
    if spec.get("suboptions"):
        # apply_defaults: the keys' own K8S_AUTH_PROXY_HEADERS_* fallbacks apply without the dict.
        option["options"] = dict((sub, _k8s_option(subspec)) for sub, subspec in spec["suboptions"].items())
        option["apply_defaults"] = True
    return option


K8S_AUTH_ARGSPEC = dict((name, _k8s_option(spec)) for name, spec in AUTH_OPTIONS.items())
# Secrets no static no_log can name: a kubeconfig given as a dict, and values derived from secrets.
SHARED_SECRET_VALUES = {"k8s_auth": secret_values}


# The OVN write modules' `wait` (type raw, read through this first): ovn-nbctl's stages, or a boolean as kubernetes.core
# and the vmim module spell `wait` (true: the chassis involved applied the change, as hv; false: none).
def ovn_wait(value):
    """The wait stage (none, sb or hv) that `value` asks for; ModuleError names the valid values."""
    if isinstance(value, bool):
        return "hv" if value else "none"
    text = str(value).strip().lower()
    if text in WAIT_STAGES:
        return text
    if text in BOOLEANS_TRUE or text in BOOLEANS_FALSE:
        return "hv" if text in BOOLEANS_TRUE else "none"
    raise ModuleError("wait must be none, sb, hv or a boolean (true waits as hv, false as none), got %r" % (value,))


SHARED_ARGSPECS = {
    "ovn_nb": OVN_NB_ARGSPEC,
    "k8s_auth": K8S_AUTH_ARGSPEC,
}
