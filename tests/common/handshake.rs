//! A TLS handshake in this process: a server presenting a certificate (and chain) and a client
//! that trusts only the given CA certificates, over a Unix socket pair. It answers "would a
//! client holding this trust bundle accept this server certificate for this name?" the way a
//! real client does (OpenSSL's chain building and hostname check), with no port, no process and
//! no system roots.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::Duration;

use openssl::pkey::PKey;
use openssl::ssl::{HandshakeError, SslAcceptor, SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509VerifyResult, X509};

/// Longest a side waits for the other (a handshake here takes milliseconds).
const IO_TIMEOUT: Duration = Duration::from_secs(20);

fn x509(pem: &str, what: &str) -> Result<X509, String> {
    X509::from_pem(pem.as_bytes()).map_err(|e| format!("{what} is not a PEM certificate: {e}"))
}

/// Runs one TLS handshake between an `SslAcceptor` serving `server_cert_pem` with
/// `server_key_pem` (and `chain_pems` after it, the issuers the server sends; entries equal to
/// the server certificate are skipped, so a leaf-first chain can be passed as it is) and an
/// `SslConnector` whose trust store holds only `trusted_pems` (no system roots, no partial
/// chains: the path must end at a trusted certificate, normally a self-signed root), verifying
/// the peer and `hostname` (a DNS name, or an IP address checked against IP SANs; sent as SNI
/// when it is a name). Both sides must finish the handshake and exchange one byte.
///
/// On failure returns the client's certificate verification error text (OpenSSL's, e.g.
/// `unable to get local issuer certificate`, `hostname mismatch`, `certificate has expired`)
/// when verification failed, else the error of the side that failed. A PEM that does not parse
/// or a key that does not match the certificate is also an `Err`.
pub fn handshake(
    server_cert_pem: &str,
    server_key_pem: &str,
    chain_pems: &[String],
    trusted_pems: &[String],
    hostname: &str,
) -> Result<(), String> {
    let cert = x509(server_cert_pem, "the server certificate")?;
    let key = PKey::private_key_from_pem(server_key_pem.as_bytes())
        .map_err(|e| format!("the server key is not a PEM private key: {e}"))?;
    let cert_der = cert.to_der().map_err(|e| e.to_string())?;

    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| format!("server context: {e}"))?;
    acceptor
        .set_certificate(&cert)
        .map_err(|e| format!("server certificate: {e}"))?;
    acceptor
        .set_private_key(&key)
        .map_err(|e| format!("the server key does not match its certificate: {e}"))?;
    acceptor
        .check_private_key()
        .map_err(|e| format!("the server key does not match its certificate: {e}"))?;
    for (i, pem) in chain_pems.iter().enumerate() {
        let c = x509(pem, &format!("chain entry {i}"))?;
        if c.to_der().map_err(|e| e.to_string())? != cert_der {
            acceptor
                .add_extra_chain_cert(c)
                .map_err(|e| format!("chain entry {i}: {e}"))?;
        }
    }
    let acceptor = acceptor.build();

    let mut connector = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| format!("client context: {e}"))?;
    // SslConnector::builder loads the default verify paths into the context's store: replace
    // the whole store, so that only `trusted_pems` are trusted.
    let mut store = X509StoreBuilder::new().map_err(|e| e.to_string())?;
    for (i, pem) in trusted_pems.iter().enumerate() {
        store
            .add_cert(x509(pem, &format!("trusted certificate {i}"))?)
            .map_err(|e| format!("trusted certificate {i}: {e}"))?;
    }
    connector.set_cert_store(store.build());
    connector.set_verify(SslVerifyMode::PEER);
    let connector = connector.build();

    let (server_end, client_end) = UnixStream::pair().map_err(|e| e.to_string())?;
    for s in [&server_end, &client_end] {
        s.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|_| s.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| e.to_string())?;
    }

    let server = thread::spawn(move || -> Result<(), String> {
        let mut tls = acceptor.accept(server_end).map_err(|e| describe(&e))?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte)
            .map_err(|e| format!("server read: {e}"))?;
        tls.write_all(&byte)
            .map_err(|e| format!("server write: {e}"))?;
        let _ = tls.shutdown();
        Ok(())
    });

    let client = (|| -> Result<(), String> {
        let config = connector.configure().map_err(|e| e.to_string())?;
        let mut tls = config
            .connect(hostname, client_end)
            .map_err(|e| describe(&e))?;
        tls.write_all(b"x")
            .map_err(|e| format!("client write: {e}"))?;
        let mut byte = [0u8; 1];
        tls.read_exact(&mut byte)
            .map_err(|e| format!("client read: {e}"))?;
        let _ = tls.shutdown();
        Ok(())
    })();
    // The client's end is closed by now (dropped with its stream), so a server still waiting in
    // its handshake gets EOF and returns.
    let server = server
        .join()
        .map_err(|_| "the server thread panicked".to_string())?;
    match (client, server) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(c), _) => Err(c),
        (Ok(()), Err(s)) => Err(format!("server: {s}")),
    }
}

/// The verification error when the peer's certificate was refused, else the error itself.
fn describe(e: &HandshakeError<UnixStream>) -> String {
    match e {
        HandshakeError::Failure(mid) | HandshakeError::WouldBlock(mid) => {
            let r = mid.ssl().verify_result();
            if r != X509VerifyResult::OK {
                r.error_string().to_string()
            } else {
                mid.error().to_string()
            }
        }
        HandshakeError::SetupFailure(stack) => format!("handshake setup: {stack}"),
    }
}
