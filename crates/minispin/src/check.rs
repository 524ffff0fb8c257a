//! `minispin check URL`: a health probe for container images that have no
//! shell and no curl (the runner's own image is `FROM scratch`).
//!
//! Plain HTTP/1.0 over a blocking socket, no dependencies: it only needs the
//! status line. Exit status 0 for a 2xx answer within the timeout, 1 with a
//! reason otherwise, which is what Docker's `HEALTHCHECK` reads.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `http://host[:port]/path` split into (host, port, path).
fn parse(url: &str) -> Result<(String, u16, String)> {
    let rest = url
        .strip_prefix("http://")
        .context("check takes an http:// URL (TLS is not needed on the container's own port)")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().with_context(|| format!("bad port in {url}"))?),
        None => (authority, 80),
    };
    if host.is_empty() {
        bail!("no host in {url}");
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// The status code of `GET url`.
fn status(url: &str, timeout: Duration) -> Result<u16> {
    let (host, port, path) = parse(url)?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: minispin-check\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).context("no answer")?;
        if n == 0 {
            break;
        }
        read += n;
    }
    let line = String::from_utf8_lossy(&head[..read]);
    line.strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP answer: {line:?}"))
}

pub fn run(url: &str, timeout: Duration) -> Result<()> {
    let code = status(url, timeout)?;
    if !(200..300).contains(&code) {
        bail!("{url} answered {code}");
    }
    println!("minispin: {url} answered {code}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse("http://127.0.0.1:8080/api/health").unwrap(),
            ("127.0.0.1".into(), 8080, "/api/health".into())
        );
        assert_eq!(
            parse("http://chat").unwrap(),
            ("chat".into(), 80, "/".into())
        );
        assert!(parse("https://x/").is_err());
        assert!(parse("http://:80/").is_err());
    }

    #[test]
    fn answers() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for reply in ["HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 503 Busy\r\n\r\n"] {
                let (mut s, _) = listener.accept().unwrap();
                // The whole request first: closing with unread data resets.
                let mut request = Vec::new();
                let mut buf = [0u8; 256];
                while !request.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "the request ended early");
                    request.extend_from_slice(&buf[..n]);
                }
                s.write_all(reply.as_bytes()).unwrap();
            }
        });
        let url = format!("http://{addr}/api/health");
        assert!(run(&url, Duration::from_secs(2)).is_ok());
        let err = run(&url, Duration::from_secs(2)).unwrap_err().to_string();
        assert!(err.contains("503"), "{err}");
        server.join().unwrap();
    }
}
