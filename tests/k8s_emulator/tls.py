"""A throw-away certificate authority (openssl CLI) for serving the emulator over HTTPS and for
client certificates, so clients' ca_cert / validate_certs / client_cert options can be tested."""
import atexit
import shutil
import ssl
import subprocess
import tempfile
from pathlib import Path


def _openssl(*args, cwd):
    proc = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], proc.stderr.strip()))


class CertificateAuthority:
    def __init__(self, directory=None):
        if directory is None:
            directory = tempfile.mkdtemp(prefix="k8s-emulator-tls-")
            atexit.register(shutil.rmtree, directory, True)
        self.dir = Path(directory)
        self.cert = self.dir / "ca.crt"
        self.key = self.dir / "ca.key"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=k8s-emulator-ca",
                 "-keyout", str(self.key), "-out", str(self.cert), cwd=self.dir)

    def issue(self, name, common_name, organization=None, server_names=()):
        """Sign a key pair; returns (cert path, key path). server_names: SANs ("IP:..", "DNS:..")."""
        key, csr, cert = self.dir / (name + ".key"), self.dir / (name + ".csr"), self.dir / (name + ".crt")
        subject = "/CN=" + common_name + ("/O=" + organization if organization else "")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", str(key), "-out", str(csr),
                 cwd=self.dir)
        ext = self.dir / (name + ".ext")
        lines = ["basicConstraints=CA:FALSE"]
        if server_names:
            lines += ["subjectAltName=" + ",".join(server_names), "extendedKeyUsage=serverAuth"]
        else:
            lines += ["extendedKeyUsage=clientAuth"]
        ext.write_text("\n".join(lines) + "\n")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key), "-CAcreateserial",
                 "-days", "2", "-extfile", str(ext), "-out", str(cert), cwd=self.dir)
        return str(cert), str(key)

    def server_context(self, host):
        cert, key = self.issue("server", host, server_names=("IP:127.0.0.1", "DNS:localhost"))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(str(self.cert))
        context.verify_mode = ssl.CERT_OPTIONAL     # a client certificate authenticates, a token too
        return context
