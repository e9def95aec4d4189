//! A connection wrapper with the timeouts hyper does not have: for clients that never start a request, and
//! for clients that stop reading their response.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep, Sleep};

/// The HTTP/2 connection preface is this long; hyper-util reads up to this many bytes to choose between
/// HTTP/1 and HTTP/2, with no timeout of its own.
pub const PROTOCOL_SNIFF_BYTES: usize = 24;

/// Two timeouts around a client connection:
///
/// - the first [`PROTOCOL_SNIFF_BYTES`] must arrive within `first_bytes_timeout` of the connection opening,
///   or reads fail. hyper-util's HTTP/1-or-2 detection waits for them with no timer, so without this a client
///   that connects and sends nothing would hold its connection forever. After them, hyper's header-read
///   timeout (HTTP/1) and keep-alive pings (HTTP/2) take over.
/// - a write that makes no progress for `write_timeout` fails (and so the connection): a client that stops
///   reading cannot pin a connection and its response buffers forever.
#[derive(Debug)]
pub struct ClientTimeouts<T> {
    inner: T,
    timeout: Duration,
    stalled_since: Option<Pin<Box<Sleep>>>,
    first_bytes_deadline: Option<Pin<Box<Sleep>>>,
    bytes_read: usize,
}

impl<T> ClientTimeouts<T> {
    pub fn new(inner: T, write_timeout: Duration, first_bytes_timeout: Duration) -> Self {
        Self {
            inner,
            timeout: write_timeout,
            stalled_since: None,
            first_bytes_deadline: Some(Box::pin(sleep(first_bytes_timeout))),
            bytes_read: 0,
        }
    }

    fn on_pending(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let timeout = self.timeout;
        let timer = self.stalled_since.get_or_insert_with(|| Box::pin(sleep(timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading the response"));
        }
        Ok(())
    }

    fn track<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Pending => match self.on_pending(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
            ready => {
                self.stalled_since = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClientTimeouts<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        let Some(deadline) = &mut this.first_bytes_deadline else { return poll };
        match poll {
            Poll::Ready(Ok(())) => {
                this.bytes_read += buf.filled().len() - before;
                if this.bytes_read >= PROTOCOL_SNIFF_BYTES {
                    this.first_bytes_deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client sent no request in time")))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClientTimeouts<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.track(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.track(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.track(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_that_makes_no_progress_times_out() {
        // A 16-byte pipe whose other end never reads.
        let (near, _far) = tokio::io::duplex(16);
        let mut stream = ClientTimeouts::new(near, Duration::from_secs(5), Duration::from_secs(5));
        let error = stream.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_nothing_times_out() {
        let (near, _far) = tokio::io::duplex(64);
        let mut silent = ClientTimeouts::new(near, Duration::from_secs(5), Duration::from_secs(1));
        let error = silent.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_first_bytes_an_idle_client_is_left_to_hyper() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut talker = ClientTimeouts::new(near, Duration::from_secs(5), Duration::from_secs(1));
        far.write_all(&[7; PROTOCOL_SNIFF_BYTES]).await.unwrap();
        talker.read_exact(&mut [0u8; PROTOCOL_SNIFF_BYTES]).await.unwrap();
        let mut buf = [0u8; 8];
        let idle = tokio::time::timeout(Duration::from_secs(60), talker.read(&mut buf)).await;
        assert!(idle.is_err(), "the read is still pending, not failed");
    }

    #[tokio::test(start_paused = true)]
    async fn progress_resets_the_timer() {
        let (near, mut far) = tokio::io::duplex(16);
        let mut stream = ClientTimeouts::new(near, Duration::from_secs(5), Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            far.read_to_end(&mut sink).await.unwrap();
            sink.len()
        });
        stream.write_all(&[1; 4096]).await.unwrap();
        stream.shutdown().await.unwrap();
        drop(stream);
        assert_eq!(reader.await.unwrap(), 4096);
    }
}
