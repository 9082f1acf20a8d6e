//! [`Subscription`]: a stream of decoded envelopes from one NATS subscription.

use std::time::Duration;

use futures::{Stream, StreamExt as _};

use crate::bridge::Bridge;
use crate::envelope::ReceivedEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;

/// Envelopes arriving on a subject. A message that is not a valid envelope
/// yields an error and the subscription goes on; it ends only when it is
/// unsubscribed or the bridge closes.
///
/// ```no_run
/// # async fn demo(bridge: natsbridge::Bridge) -> natsbridge::Result<()> {
/// let mut sub = bridge.subscribe("sensors.>", natsbridge::ReceiveOptions::new()).await?;
/// while let Some(received) = sub.next().await {
///     match received {
///         Ok(envelope) => println!("{} payloads from {}", envelope.payloads.len(), envelope.header.sender_name),
///         Err(err) => eprintln!("skipped a bad message: {err}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Subscription {
    bridge: Bridge,
    subscriber: async_nats::Subscriber,
    options: ReceiveOptions,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("bridge", &self.bridge)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    pub(crate) fn new(
        bridge: Bridge,
        subscriber: async_nats::Subscriber,
        options: ReceiveOptions,
    ) -> Subscription {
        Subscription {
            bridge,
            subscriber,
            options,
        }
    }

    /// The next envelope; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<Result<ReceivedEnvelope>> {
        let message = self.next_message().await?;
        Some(self.bridge.smartreceive(&message, &self.options).await)
    }

    /// The next envelope, waiting at most `timeout`: `Ok(None)` when the
    /// subscription ended, a [`ErrorKind::Timeout`] error when nothing came.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<ReceivedEnvelope>> {
        let message = tokio::time::timeout(timeout, self.next_message())
            .await
            .map_err(|_| {
                Error::new(ErrorKind::Timeout, format!("no message within {timeout:?}"))
            })?;
        match message {
            None => Ok(None),
            Some(message) => self
                .bridge
                .smartreceive(&message, &self.options)
                .await
                .map(Some),
        }
    }

    /// The next raw NATS message, undecoded (for callers that decode later
    /// or forward it).
    pub async fn next_message(&mut self) -> Option<async_nats::Message> {
        if self.bridge.is_closed() {
            return None;
        }
        self.subscriber.next().await
    }

    /// Stops the subscription; later calls to `next` return `None`.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.subscriber.unsubscribe().await.map_err(|err| {
            Error::new(ErrorKind::Connection, "unsubscribing failed").with_source(err)
        })
    }

    /// Ends the subscription after `messages` more messages (auto-unsubscribe).
    pub async fn unsubscribe_after(&mut self, messages: u64) -> Result<()> {
        self.subscriber
            .unsubscribe_after(messages)
            .await
            .map_err(|err| {
                Error::new(ErrorKind::Connection, "unsubscribing failed").with_source(err)
            })
    }

    /// The subscription as a `Stream` of decoded envelopes.
    pub fn into_stream(self) -> impl Stream<Item = Result<ReceivedEnvelope>> + Send {
        futures::stream::unfold(self, |mut sub| async move {
            let item = sub.next().await?;
            Some((item, sub))
        })
    }
}
