//! A plain HTTP/1.1 client on one kept-alive connection: a socket, requests
//! written in one write each, responses read whole (by `Content-Length` or
//! chunks). Nothing of a client library (pooling, retries, socket options)
//! sits between a test and what the server puts on the wire, so latency on
//! a reused connection is the server's own: the delayed-ACK stall of a
//! response written in pieces shows up here as it does behind Traefik.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One connection, kept alive across requests.
pub struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
}

/// A whole response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header_in(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Conn {
    /// Connects to `base` (`http://host:port`); every read waits 10 s at most.
    pub fn open(base: &str) -> std::io::Result<Conn> {
        let host = base.trim_start_matches("http://").trim_end_matches('/');
        let stream = TcpStream::connect(host)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Conn {
            reader: BufReader::new(stream),
            host: host.to_string(),
        })
    }

    /// Sends one request in one write and reads its whole response. Panics
    /// on anything that is not a well-formed HTTP/1.1 response on a
    /// connection that stays open.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.reader
            .get_mut()
            .write_all(&request)
            .unwrap_or_else(|e| panic!("{method} {path}: sending: {e}"));
        self.read_response(method == "HEAD")
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading a response line: {e}"));
        assert!(n > 0, "the server closed the connection");
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    fn read_response(&mut self, head_only: bool) -> Answer {
        let status_line = self.line();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("not a header line: {line:?}"));
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        assert!(
            !answer
                .header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close")),
            "the server closes a kept-alive connection: {:?}",
            answer.headers
        );
        let chunked = answer
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        let length = answer.header("content-length").map(|l| {
            l.parse::<usize>()
                .unwrap_or_else(|_| panic!("a bad content-length: {l:?}"))
        });
        if head_only || status == 304 || status == 204 || (100..200).contains(&status) {
            // No body, whatever the headers say.
        } else if chunked {
            loop {
                let size_line = self.line();
                let size = usize::from_str_radix(size_line.split(';').next().unwrap_or(""), 16)
                    .unwrap_or_else(|_| panic!("not a chunk size: {size_line:?}"));
                if size == 0 {
                    while !self.line().is_empty() {} // trailers
                    break;
                }
                let start = answer.body.len();
                answer.body.resize(start + size, 0);
                self.reader
                    .read_exact(&mut answer.body[start..])
                    .unwrap_or_else(|e| panic!("reading a chunk: {e}"));
                assert!(self.line().is_empty(), "a chunk ends with CRLF");
            }
        } else {
            let length = length.expect("a response body with neither a length nor chunks");
            answer.body.resize(length, 0);
            self.reader
                .read_exact(&mut answer.body)
                .unwrap_or_else(|e| panic!("reading a body of {length} bytes: {e}"));
        }
        answer
    }
}
