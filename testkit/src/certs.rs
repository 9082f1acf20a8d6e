//! Certificates made at test time with the `openssl` command: a CA, a server
//! certificate for `127.0.0.1` / `localhost` and a client certificate (for
//! mutual TLS) signed by it, and a second, untrusted CA with its own server
//! and client certificates for the negative cases.
//!
//! The `openssl` command rather than a Rust crate: it is on every machine
//! the harness runs on (`scripts/setup.sh` installs it), the keys it writes
//! (PKCS#8 PEM, P-256) are read alike by nats-server (Go), rustls and
//! OpenSSL, and it adds no dependency to the workspace build.

use std::path::{Path, PathBuf};
use std::process::Command;

const SERVER_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
     keyUsage=critical,digitalSignature\n\
     extendedKeyUsage=serverAuth\n\
     subjectAltName=IP:127.0.0.1,DNS:localhost\n";

const CLIENT_EXT: &str = "basicConstraints=critical,CA:FALSE\n\
     keyUsage=critical,digitalSignature\n\
     extendedKeyUsage=clientAuth\n\
     subjectAltName=DNS:natsbridge-test-client\n";

/// One CA and the server and client certificates it signed (PEM files).
#[derive(Debug, Clone)]
pub struct CertSet {
    /// The CA certificate: what a client (or a verifying server) trusts.
    pub ca: PathBuf,
    /// The server certificate, valid for `127.0.0.1` and `localhost`.
    pub server_cert: PathBuf,
    /// The server certificate's private key.
    pub server_key: PathBuf,
    /// A client certificate (extended key usage clientAuth) for mutual TLS.
    pub client_cert: PathBuf,
    /// The client certificate's private key.
    pub client_key: PathBuf,
}

/// A trusted certificate set and an untrusted one, in a temporary directory
/// removed on drop. Build with [`TestCerts::generate`].
#[derive(Debug)]
pub struct TestCerts {
    dir: tempfile::TempDir,
    /// The set servers use and clients trust.
    pub trusted: CertSet,
    /// A second CA nobody trusts, with certificates of its own.
    pub untrusted: CertSet,
}

impl TestCerts {
    /// Makes both sets (about 50 ms of `openssl` work).
    ///
    /// # Panics
    /// When the `openssl` command is missing or fails (the message says which).
    pub fn generate() -> TestCerts {
        let dir = tempfile::Builder::new()
            .prefix("natsbridge-certs-")
            .tempdir()
            .expect("create a temporary directory for certificates");
        let trusted = make_set(dir.path(), "trusted");
        let untrusted = make_set(dir.path(), "untrusted");
        TestCerts {
            dir,
            trusted,
            untrusted,
        }
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn make_set(dir: &Path, name: &str) -> CertSet {
    let file = |suffix: &str| dir.join(format!("{name}-{suffix}"));
    let set = CertSet {
        ca: file("ca.pem"),
        server_cert: file("server.pem"),
        server_key: file("server-key.pem"),
        client_cert: file("client.pem"),
        client_key: file("client-key.pem"),
    };
    let ca_key = file("ca-key.pem");
    openssl(&[
        "req".as_ref(),
        "-x509".as_ref(),
        "-newkey".as_ref(),
        "ec".as_ref(),
        "-pkeyopt".as_ref(),
        "ec_paramgen_curve:prime256v1".as_ref(),
        "-nodes".as_ref(),
        "-days".as_ref(),
        "3".as_ref(),
        "-subj".as_ref(),
        format!("/CN=natsbridge test CA ({name})").as_ref(),
        "-addext".as_ref(),
        "basicConstraints=critical,CA:TRUE".as_ref(),
        "-addext".as_ref(),
        "keyUsage=critical,keyCertSign,cRLSign".as_ref(),
        "-keyout".as_ref(),
        ca_key.as_os_str(),
        "-out".as_ref(),
        set.ca.as_os_str(),
    ]);
    let pairs = [
        (
            &set.server_cert,
            &set.server_key,
            "localhost",
            SERVER_EXT,
            1,
        ),
        (
            &set.client_cert,
            &set.client_key,
            "natsbridge-test-client",
            CLIENT_EXT,
            2,
        ),
    ];
    for (cert, key, cn, ext, serial) in pairs {
        let csr = cert.with_extension("csr");
        let ext_file = cert.with_extension("ext");
        std::fs::write(&ext_file, ext).expect("write an openssl extension file");
        openssl(&[
            "req".as_ref(),
            "-new".as_ref(),
            "-newkey".as_ref(),
            "ec".as_ref(),
            "-pkeyopt".as_ref(),
            "ec_paramgen_curve:prime256v1".as_ref(),
            "-nodes".as_ref(),
            "-subj".as_ref(),
            format!("/CN={cn}").as_ref(),
            "-keyout".as_ref(),
            key.as_os_str(),
            "-out".as_ref(),
            csr.as_os_str(),
        ]);
        openssl(&[
            "x509".as_ref(),
            "-req".as_ref(),
            "-in".as_ref(),
            csr.as_os_str(),
            "-CA".as_ref(),
            set.ca.as_os_str(),
            "-CAkey".as_ref(),
            ca_key.as_os_str(),
            "-set_serial".as_ref(),
            serial.to_string().as_ref(),
            "-days".as_ref(),
            "3".as_ref(),
            "-extfile".as_ref(),
            ext_file.as_os_str(),
            "-out".as_ref(),
            cert.as_os_str(),
        ]);
    }
    set
}

fn openssl(args: &[&std::ffi::OsStr]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!(
                "could not run openssl: {err}. Install it with `apt-get install -y openssl` \
                 (scripts/setup.sh does)"
            )
        });
    assert!(
        output.status.success(),
        "openssl {:?} failed: {}",
        args,
        String::from_utf8_lossy(&output.stderr)
    );
}
