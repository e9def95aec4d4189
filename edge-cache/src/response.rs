//! The edge's response body: bytes in hand (a copy, a text), or a fill's chunks as they arrive.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body::{Body, Frame, SizeHint};
use prometheus::IntCounter;

use crate::fill::FillFailure;

type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, FillFailure>> + Send>>;

/// A response body: bytes in hand (a copy, a text), or a fill's chunks as they arrive.
pub struct EdgeBody {
    pending: Bytes,
    stream: Option<ChunkStream>,
    remaining: Option<u64>,
    sent: Option<IntCounter>,
}

impl std::fmt::Debug for EdgeBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeBody")
            .field("pending", &self.pending.len())
            .field("streaming", &self.stream.is_some())
            .finish()
    }
}

impl EdgeBody {
    pub(crate) fn empty() -> Self {
        Self { pending: Bytes::new(), stream: None, remaining: Some(0), sent: None }
    }

    pub(crate) fn text(bytes: Bytes) -> Self {
        Self { remaining: Some(bytes.len() as u64), pending: bytes, stream: None, sent: None }
    }

    pub(crate) fn bytes(bytes: Bytes, sent: IntCounter) -> Self {
        Self { remaining: Some(bytes.len() as u64), pending: bytes, stream: None, sent: Some(sent) }
    }

    pub(crate) fn stream(
        stream: impl Stream<Item = Result<Bytes, FillFailure>> + Send + 'static,
        length: Option<u64>,
        sent: IntCounter,
    ) -> Self {
        Self { pending: Bytes::new(), stream: Some(Box::pin(stream)), remaining: length, sent: Some(sent) }
    }
}

impl From<Bytes> for EdgeBody {
    fn from(bytes: Bytes) -> Self {
        Self::text(bytes)
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = FillFailure;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, FillFailure>>> {
        let this = self.get_mut();
        let chunk = if !this.pending.is_empty() {
            std::mem::take(&mut this.pending)
        } else {
            let Some(stream) = &mut this.stream else { return Poll::Ready(None) };
            match std::task::ready!(stream.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => chunk,
                Some(Err(failure)) => {
                    this.stream = None;
                    return Poll::Ready(Some(Err(failure)));
                }
                None => {
                    this.stream = None;
                    return Poll::Ready(None);
                }
            }
        };
        if let Some(remaining) = &mut this.remaining {
            *remaining = remaining.saturating_sub(chunk.len() as u64);
        }
        if let Some(sent) = &this.sent {
            sent.inc_by(chunk.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && (self.stream.is_none() || self.remaining == Some(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(remaining) => SizeHint::with_exact(remaining),
            None => SizeHint::default(),
        }
    }
}
