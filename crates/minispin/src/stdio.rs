//! A component's stdout and stderr, as lines of the host's log that carry
//! the component's name (and, in JSON, a field of their own), instead of
//! raw bytes interleaved with the host's lines on the process's stderr.
//!
//! Each instance gets its own line buffer, so two instances writing at once
//! never mix their halves of a line. A line longer than [`MAX_LINE`] is
//! logged in pieces; a partial last line is logged when the instance ends.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line logged in one piece.
pub const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The output of one component: give one to each instance's WASI context.
#[derive(Clone)]
pub struct ComponentOutput {
    pub component: Arc<str>,
    pub stream: Stream,
}

impl IsTerminal for ComponentOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for ComponentOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(Lines {
            out: self.clone(),
            buf: Vec::new(),
        })
    }
}

/// Splits what is written into lines and logs each.
struct Lines {
    out: ComponentOutput,
    buf: Vec<u8>,
}

impl Lines {
    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let component = &*self.out.component;
        match self.out.stream {
            Stream::Stdout => tracing::info!(target: "component", component, "{text}"),
            Stream::Stderr => tracing::warn!(target: "component", component, "{text}"),
        }
    }

    fn flush_lines(&mut self) {
        let mut start = 0;
        while let Some(end) = self.buf[start..].iter().position(|b| *b == b'\n') {
            self.emit(&self.buf[start..start + end]);
            start += end + 1;
        }
        self.buf.drain(..start);
        while self.buf.len() >= MAX_LINE {
            let piece: Vec<u8> = self.buf.drain(..MAX_LINE).collect();
            self.emit(&piece);
        }
    }
}

impl AsyncWrite for Lines {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.buf.extend_from_slice(data);
        self.flush_lines();
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.emit(&rest);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.emit(&rest);
        }
    }
}
