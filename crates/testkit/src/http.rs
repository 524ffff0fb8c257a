//! The tests' HTTP client (on `ureq`): one request, one [`Reply`], whatever
//! its status. The end-to-end tests, the WebDriver client, the runner's
//! host tests and `swarm-check` all send through here. ([`crate::http1`]
//! is the other tool: one raw connection, for what a server puts on the
//! wire.)

use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// A response, whatever its status. Header names are lowercase.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The body as JSON; panics (with the body) if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The body as JSON, or `Value::Null` if it is not (for checks that
    /// report rather than panic).
    pub fn json_or_null(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// The machine code of an error reply.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error reply: {}", self.body))
            .to_string()
    }

    /// "HTTP 503 {...}", the body cut short: for a failure message.
    pub fn describe(&self) -> String {
        let body: String = self.body.chars().take(200).collect();
        format!("HTTP {} {body}", self.status)
    }
}

/// The value of header `name` (any case) in a list of headers.
pub fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An agent with a 30 s timeout per request.
pub fn agent() -> ureq::Agent {
    agent_with_timeout(Duration::from_secs(30))
}

/// An agent whose every request fails after `timeout` without an answer.
pub fn agent_with_timeout(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(timeout).build()
}

/// An HTTPS agent that reaches every host name at `connect` (`IP:PORT`, no
/// DNS needed) and accepts any certificate (a test proxy's self-signed
/// default), following no redirects; 10 s per request.
pub fn agent_via(connect: &str) -> ureq::Agent {
    let tls = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .expect("a TLS connector");
    let connect = connect.to_string();
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .tls_connector(Arc::new(tls))
        .resolver(move |_: &str| {
            use std::net::ToSocketAddrs;
            connect.to_socket_addrs().map(|a| a.collect::<Vec<_>>())
        })
        .build()
}

/// Sends a request: 4xx and 5xx are replies; `Err` only when no HTTP answer
/// came (the transport error, with its cause).
pub fn try_send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, Box<ureq::Transport>> {
    let mut req = agent.request(method, url);
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let result = match body {
        Some(bytes) => req.send_bytes(bytes),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => return Err(Box::new(t)),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_string();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    let body = resp.into_string().unwrap_or_default();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// [`try_send`] with a JSON body (and its content type), or with none.
pub fn try_send_json(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<Reply, Box<ureq::Transport>> {
    let Some(body) = body else {
        return try_send(agent, method, url, headers, None);
    };
    let mut all = headers.to_vec();
    all.push(("content-type", "application/json"));
    try_send(agent, method, url, &all, Some(body.to_string().as_bytes()))
}

/// [`try_send`] for a test: panics when no HTTP answer came.
#[track_caller]
pub fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Reply {
    try_send(agent, method, url, headers, body)
        .unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"))
}

/// What kind of failure a request met, for counting: "HTTP 503",
/// "timeout", "connection refused", "connection reset" or "network error".
pub fn failure_kind(r: &Result<Reply, Box<ureq::Transport>>) -> String {
    let e = match r {
        Ok(reply) => return format!("HTTP {}", reply.status),
        Err(e) => e,
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&**e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timeout",
                io::ErrorKind::ConnectionRefused => "connection refused",
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::BrokenPipe => "connection reset",
                _ => "network error",
            }
            .into();
        }
        cause = c.source();
    }
    "network error".into()
}

/// A reply as "HTTP 503 {...}", or the transport error with its causes.
pub fn describe(r: &Result<Reply, Box<ureq::Transport>>) -> String {
    match r {
        Ok(reply) => reply.describe(),
        Err(e) => chat::error::report(&**e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_named_as_such() {
        // A port nothing listens on: bind one, then close it.
        let port = crate::free_port();
        let r = try_send(
            &agent(),
            "GET",
            &format!("http://127.0.0.1:{port}/"),
            &[],
            None,
        );
        assert_eq!(failure_kind(&r), "connection refused", "{}", describe(&r));
        assert!(describe(&r).contains("127.0.0.1"), "{}", describe(&r));
    }

    #[test]
    fn a_silent_server_is_a_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let agent = agent_with_timeout(Duration::from_millis(200));
        let r = try_send(&agent, "GET", &url, &[], None);
        assert_eq!(failure_kind(&r), "timeout", "{}", describe(&r));
        drop(listener);
    }
}
