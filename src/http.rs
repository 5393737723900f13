//! A small HTTP/1.1 client for what chaton asks of web servers itself: verify's checks and
//! the lab's test certificate authority. One GET, sent to a given address with the URL's
//! host name (and, over HTTPS, that name for SNI and the certificate check), so it needs
//! no DNS: the server's address comes from the description.
//!
//! Certificates must chain to the system's roots (or `SSL_CERT_FILE`), or to `extra_roots`
//! (PEM: a private or test certificate authority the description names).
//!
//! Why not a maintained client: measured against ureq in Cargo.toml (build time, crates,
//! binary size, and the TLS version verify shows, which ureq does not expose). What this
//! leaves out on purpose: redirects (a check asks for one status) and chunked bodies (the
//! answers read here are a status, or the lab CA's PEM, sent whole).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Answers are read up to this size: checks and the lab need the status and small bodies.
const MAX_BODY: u64 = 1 << 20;

pub struct Answer {
    pub status: u16,
    /// The TLS version negotiated (`TLSv1.3`), over HTTPS.
    pub tls: Option<String>,
    pub body: Vec<u8>,
}

/// A TCP connection to the first address of `host` that answers.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addresses = (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = "no address".to_owned();
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// GET `url` from the server at `address`.
pub fn get(address: &str, url: &str, extra_roots: Option<&str>, timeout: Duration) -> Result<Answer, String> {
    let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(format!("{url} is not an http:// or https:// address")),
    };
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let default_port = if tls { 443 } else { 80 };
    let (name, port) = match authority.rsplit_once(':') {
        Some((n, p)) => (n, p.parse().map_err(|_| format!("{url}: bad port"))?),
        None => (authority, default_port),
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\nUser-Agent: chaton\r\n\r\n");
    let stream = connect(address, port, timeout)?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    if tls {
        let mut stream = tls_connect(stream, name, extra_roots)?;
        let version = stream.ssl().version_str().to_owned();
        let (status, body) = exchange(&mut stream, &request)?;
        Ok(Answer { status, tls: Some(version), body })
    } else {
        let mut stream = stream;
        let (status, body) = exchange(&mut stream, &request)?;
        Ok(Answer { status, tls: None, body })
    }
}

/// Sends the request; reads the status code and the body (the server closes the connection).
fn exchange(stream: &mut (impl Read + Write), request: &str) -> Result<(u16, Vec<u8>), String> {
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    // A TLS peer that closes without close_notify ends the read with an error: what was
    // read until then is the answer.
    let read = stream.take(MAX_BODY).read_to_end(&mut answer);
    if answer.is_empty() {
        return Err(read.err().map_or("empty answer".to_owned(), |e| e.to_string()));
    }
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let line = head.lines().next().unwrap_or_default();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
    Ok((status, answer[head_end..].to_vec()))
}

/// A TLS client session that checks the certificate against `name`.
fn tls_connect(
    stream: TcpStream,
    name: &str,
    extra_roots: Option<&str>,
) -> Result<openssl::ssl::SslStream<TcpStream>, String> {
    use openssl::ssl::{SslConnector, SslMethod};
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    if let Some(pem) = extra_roots.filter(|p| !p.trim().is_empty()) {
        let store = builder.cert_store_mut();
        for cert in openssl::x509::X509::stack_from_pem(pem.as_bytes()).map_err(|e| format!("trusted CA: {e}"))? {
            store.add_cert(cert).map_err(|e| format!("trusted CA: {e}"))?;
        }
    }
    // A name that is an IP address is checked against the certificate's addresses.
    builder.build().connect(name, stream).map_err(|e| match e {
        openssl::ssl::HandshakeError::Failure(mid) => {
            let verify = mid.ssl().verify_result();
            if verify == openssl::x509::X509VerifyResult::OK {
                format!("TLS handshake failed: {}", mid.error())
            } else {
                format!("the certificate is not trusted: {}", verify.error_string())
            }
        }
        other => format!("TLS handshake failed: {other}"),
    })
}
