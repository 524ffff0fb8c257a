//! The simulated people's HTTP/1.1 client: one kept-alive connection, read
//! and written by the person's own task, with buffers reused from one
//! request to the next.
//!
//! Why not hyper, which the closed loops use: a hyper connection is driven
//! by a task of its own, so every request wakes two tasks and hands the
//! bytes between them, and builds a request and a header map. At 10,000
//! people that was most of the load generator's CPU, which shares the two
//! cores with what it measures. Here a poll is one write and, as a rule,
//! one read, and allocates nothing once the buffers have grown.
//!
//! It understands what the servers it talks to send: a status line,
//! headers, and a body with `Content-Length` or chunked.

use anyhow::{Context, Result, bail};
use std::io::Write;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer; its body is borrowed from the connection's buffer.
pub struct Answer<'a> {
    pub status: u16,
    /// `X-Cache: hit`: the shared cache answered without asking a host.
    pub cache_hit: bool,
    pub body: &'a [u8],
}

pub struct Conn {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    buf: Vec<u8>,
    /// The body, once decoded from chunks.
    body: Vec<u8>,
}

impl Conn {
    pub async fn open(base: &str) -> Result<Conn> {
        let host = base.trim_start_matches("http://").trim_end_matches('/');
        let stream = TcpStream::connect(host)
            .await
            .with_context(|| format!("connect to {host}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host: host.to_string(),
            request: Vec::with_capacity(256),
            buf: Vec::with_capacity(4096),
            body: Vec::new(),
        })
    }

    /// `method path` with an optional bearer token and JSON body.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<&str>,
    ) -> Result<Answer<'_>> {
        self.request.clear();
        write!(
            self.request,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\n",
            self.host
        )?;
        if let Some(t) = token {
            write!(self.request, "authorization: Bearer {t}\r\n")?;
        }
        match json {
            Some(b) => write!(
                self.request,
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n{b}",
                b.len()
            )?,
            None => self.request.extend_from_slice(b"\r\n"),
        }
        self.stream.write_all(&self.request).await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> Result<Answer<'_>> {
        self.buf.clear();
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head =
            std::str::from_utf8(&self.buf[..head_end]).context("a header that is not text")?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .context("no status line")?;
        let (mut length, mut chunked, mut cache_hit) = (None, false, false);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("x-cache") {
                cache_hit = value.eq_ignore_ascii_case("hit");
            }
        }
        if chunked {
            self.body.clear();
            let mut at = head_end;
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf[at..], b"\r\n") {
                        break at + i;
                    }
                    self.fill().await?;
                };
                let size_text = std::str::from_utf8(&self.buf[at..line_end])?;
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .context("a chunk size that is not hex")?;
                let data = line_end + 2;
                while self.buf.len() < data + size + 2 {
                    self.fill().await?;
                }
                if size == 0 {
                    break;
                }
                self.body.extend_from_slice(&self.buf[data..data + size]);
                at = data + size + 2;
            }
            return Ok(Answer {
                status,
                cache_hit,
                body: &self.body,
            });
        }
        let Some(length) = length else {
            bail!("an answer with neither Content-Length nor chunks");
        };
        while self.buf.len() < head_end + length {
            self.fill().await?;
        }
        Ok(Answer {
            status,
            cache_hit,
            body: &self.buf[head_end..head_end + length],
        })
    }

    /// Reads more into the buffer; the peer closing is an error.
    async fn fill(&mut self) -> Result<()> {
        let len = self.buf.len();
        if self.buf.capacity() - len < 2048 {
            self.buf.reserve(8192);
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
