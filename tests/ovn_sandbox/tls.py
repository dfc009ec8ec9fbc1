"""Certificates for a TLS sandbox, made by ovs-pki as an OVN operator would make them.

    pki = Pki(workdir / "pki").init()
    key, cert = pki.issue("ovn-nb")          # signed by the switch CA of the PKI
    pki.ca_cert                              # the CA every daemon and client trusts

Faulty material for tests: issue_expired() (validity ended in 2020, via `openssl ca` with the
PKI's own CA configuration) and Pki(other_dir).init() for a foreign CA. All files stay in the
PKI directory; keys are mode 0600 as ovs-pki writes them.
"""
from pathlib import Path

from .daemons import run

CA_TYPE = "switch"   # ovs-pki signs "switch" certificates with switchca/ by default


class Pki:
    def __init__(self, directory):
        self.dir = Path(directory).resolve()
        self.ca_dir = self.dir / "ca" / (CA_TYPE + "ca")
        self.ca_cert = self.ca_dir / "cacert.pem"

    def init(self):
        """Create the CA once (about 1 s); reuse it when it is already there."""
        if not self.ca_cert.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            self._ovs_pki("init")
        return self

    def issue(self, name):
        """(private key, certificate) for `name`, signed by this PKI's CA; reused if present."""
        key, cert = self.files(name)
        if not cert.exists():
            self._ovs_pki("req+sign", name, CA_TYPE)
        return key, cert

    def issue_expired(self, name):
        """(private key, certificate) signed by this CA but valid only on 1 Jan 2020."""
        key, cert = self.files(name)
        if not cert.exists():
            self._ovs_pki("req", name)
            # ovs-pki cannot back-date; its CA's ca.cnf (dir = .) works with openssl ca from the CA dir.
            run(["openssl", "ca", "-config", "ca.cnf", "-batch", "-notext",
                 "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
                 "-in", self.dir / ("%s-req.pem" % name), "-out", cert], cwd=self.ca_dir)
        return key, cert

    def files(self, name):
        return self.dir / ("%s-privkey.pem" % name), self.dir / ("%s-cert.pem" % name)

    def client_args(self, name="client"):
        """The ovn_nb connection options of the modules for a certificate `name`."""
        key, cert = self.issue(name)
        return {"private_key": str(key), "certificate": str(cert), "ovn_ca_cert": str(self.ca_cert)}

    def daemon_args(self, name):
        """-p/-c/-C as every OVS/OVN daemon spells them."""
        key, cert = self.issue(name)
        return ["--private-key=%s" % key, "--certificate=%s" % cert, "--ca-cert=%s" % self.ca_cert]

    def _ovs_pki(self, *args):
        # ovs-pki writes its files (and its log) into the current directory.
        run(["ovs-pki", "--dir=%s" % (self.dir / "ca"), "--log=%s" % (self.dir / "ovs-pki.log"), "--force"]
            + list(args), cwd=self.dir, timeout=60)


def pem_bodies(path):
    """The base64 lines of a PEM file, to look for leaked key material in output."""
    lines = Path(path).read_text().splitlines()
    return [line for line in lines if line and not line.startswith("-----")]
