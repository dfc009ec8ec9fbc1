# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):

    # Pairs one-to-one with OVN_NB_ARGSPEC in plugins/module_utils/argspec.py.
    DOCUMENTATION = r"""
options:
  ovn_nb_connection:
    description:
      - The OVN Northbound database, spelled as for C(ovn-nbctl --db).
      - C(tcp:IP:PORT), C(ssl:IP:PORT) or C(unix:PATH); an IPv6 address in brackets, for example C(tcp:[::1]:6641).
      - Several remotes separated by commas (a RAFT cluster) are tried in turn; the cluster leader is used.
      - If not set, the environment variable E(OVN_NB_DB) is used; when neither is set, ovn-nbctl's default
        C(unix:/var/run/ovn/ovnnb_db.sock).
    type: str
  ovn_sb_connection:
    description:
      - The OVN Southbound database, same syntax as O(ovn_nb_connection).
      - If not set, the environment variable E(OVN_SB_DB) is used.
      - Optional. When set, chassis names are checked and port bindings are read from it.
    type: str
  private_key:
    description:
      - PEM private key for C(ssl:) remotes, like C(ovn-nbctl --private-key). Read in place.
    type: path
  certificate:
    description:
      - PEM certificate for C(ssl:) remotes, like C(ovn-nbctl --certificate).
    type: path
  ovn_ca_cert:
    description:
      - PEM CA certificate that signed the OVN database server's certificate, like C(ovn-nbctl --ca-cert).
      - Not the Kubernetes API server's CA (the C(ca_cert) option of the k8s group's modules), so both can
        be set in one play's C(module_defaults).
      - The alias C(ca_cert) is deprecated and will be removed in version 1.0.0.
    type: path
    aliases: [ca_cert]
    version_added: 0.2.0
  connect_timeout:
    description:
      - Seconds to wait for each remote to accept the connection (TLS handshake included).
      - With a RAFT cluster, also how long to keep trying the remotes again, with backoff, while members answer
        but none is the leader (an election or a leadership transfer), and to find the new leader when the
        session is lost in the middle of a transaction. A change is sent again only when C(wait) operations
        guard it, so it never lands twice.
    type: float
    default: 10.0
"""
