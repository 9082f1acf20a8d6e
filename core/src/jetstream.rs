//! JetStream: durable streams of envelopes that survive restarts and can be
//! replayed.
//!
//! Publishing with acknowledgement is [`SendOptions::jetstream`]. This module
//! adds [`Bridge::ensure_stream`] and [`DurableSubscription`], a pull consumer
//! that hands out decoded envelopes to acknowledge. A durable consumer keeps
//! its position on the server: after a restart it resumes after the last
//! acknowledged message, and unacknowledged ones are delivered again once
//! their `ack_wait` expires.
//!
//! [`SendOptions::jetstream`]: crate::SendOptions::jetstream

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{AckKind, stream};
use futures::StreamExt as _;

use crate::bridge::Bridge;
use crate::envelope::ReceivedEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;

/// Where a consumer starts when it is first created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverFrom {
    /// The oldest message in the stream: a full replay.
    All,
    /// Only messages published after the consumer is created.
    New,
    /// The last message in the stream, then new ones.
    Last,
    /// The message with this stream sequence, then later ones.
    Sequence(u64),
}

/// How many times a consumer natsbridge creates delivers one message at most.
pub const DEFAULT_MAX_DELIVER: i64 = 10;

/// Options of a JetStream consumer.
///
/// ```
/// use natsbridge::jetstream::{ConsumerOptions, DeliverFrom};
/// let options = ConsumerOptions::durable("billing")
///     .filter_subject("orders.>")
///     .deliver_from(DeliverFrom::All)
///     .ack_wait(std::time::Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    durable_name: Option<String>,
    filter_subject: Option<String>,
    deliver_from: DeliverFrom,
    ack_wait: Duration,
    max_deliver: i64,
    receive: ReceiveOptions,
}

impl ConsumerOptions {
    /// A durable consumer called `name`: its position is kept on the server,
    /// so a process that restarts with the same name resumes where it left off.
    pub fn durable(name: impl Into<String>) -> ConsumerOptions {
        ConsumerOptions {
            durable_name: Some(name.into()),
            ..ConsumerOptions::ephemeral()
        }
    }

    /// An ephemeral consumer: a one-off replay that the server forgets when
    /// it is no longer used.
    pub fn ephemeral() -> ConsumerOptions {
        ConsumerOptions {
            durable_name: None,
            filter_subject: None,
            deliver_from: DeliverFrom::All,
            ack_wait: Duration::from_secs(30),
            max_deliver: DEFAULT_MAX_DELIVER,
            receive: ReceiveOptions::new(),
        }
    }

    /// Only deliver messages whose subject matches `subject` (wildcards allowed).
    ///
    /// ```
    /// let options = natsbridge::jetstream::ConsumerOptions::durable("d").filter_subject("sensors.*");
    /// ```
    pub fn filter_subject(mut self, subject: impl Into<String>) -> ConsumerOptions {
        self.filter_subject = Some(subject.into());
        self
    }

    /// Where a new consumer starts (default: the start of the stream).
    ///
    /// ```
    /// use natsbridge::jetstream::{ConsumerOptions, DeliverFrom};
    /// let options = ConsumerOptions::durable("d").deliver_from(DeliverFrom::New);
    /// ```
    pub fn deliver_from(mut self, from: DeliverFrom) -> ConsumerOptions {
        self.deliver_from = from;
        self
    }

    /// How long the server waits for an acknowledgement before delivering
    /// a message again (default 30 s).
    ///
    /// ```
    /// let options = natsbridge::jetstream::ConsumerOptions::durable("d")
    ///     .ack_wait(std::time::Duration::from_secs(5));
    /// ```
    pub fn ack_wait(mut self, wait: Duration) -> ConsumerOptions {
        self.ack_wait = wait;
        self
    }

    /// How many times a message is delivered at most (default 10, so a
    /// message that keeps failing stops coming back; -1 is no limit).
    ///
    /// ```
    /// let options = natsbridge::jetstream::ConsumerOptions::durable("d").max_deliver(5);
    /// ```
    pub fn max_deliver(mut self, times: i64) -> ConsumerOptions {
        self.max_deliver = times;
        self
    }

    /// How link payloads of the delivered envelopes are fetched.
    ///
    /// ```
    /// let options = natsbridge::jetstream::ConsumerOptions::durable("d")
    ///     .receive_options(natsbridge::ReceiveOptions::new().max_retries(2));
    /// ```
    pub fn receive_options(mut self, receive: ReceiveOptions) -> ConsumerOptions {
        self.receive = receive;
        self
    }
}

/// A message delivered by a JetStream consumer, decoded, waiting for its
/// acknowledgement.
pub struct JetStreamMessage {
    /// The decoded envelope.
    pub envelope: ReceivedEnvelope,
    /// The message's sequence number in the stream.
    pub stream_sequence: u64,
    /// How many times this message has been delivered (1 the first time).
    pub delivered: i64,
    message: async_nats::jetstream::Message,
}

impl std::fmt::Debug for JetStreamMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamMessage")
            .field("msg_id", &self.envelope.header.msg_id)
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl JetStreamMessage {
    /// Acknowledges the message and waits for the server to confirm it, so
    /// a restart after this returns will not see the message again.
    pub async fn ack(&self) -> Result<()> {
        self.message
            .double_ack()
            .await
            .map_err(|err| ack_error("acknowledging", err))
    }

    /// Asks for the message to be delivered again, after `delay` if given.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<()> {
        self.message
            .ack_with(AckKind::Nak(delay))
            .await
            .map_err(|err| ack_error("rejecting", err))
    }

    /// Stops redelivery of the message without processing it.
    pub async fn term(&self) -> Result<()> {
        self.message
            .ack_with(AckKind::Term)
            .await
            .map_err(|err| ack_error("terminating", err))
    }
}

fn ack_error(what: &str, err: async_nats::Error) -> Error {
    Error::new(
        ErrorKind::JetStream,
        format!("{what} a JetStream message failed"),
    )
    .with_source(err)
}

/// Decoded envelopes from a JetStream consumer.
pub struct DurableSubscription {
    bridge: Bridge,
    messages: pull::Stream,
    receive: ReceiveOptions,
    ack_wait: Duration,
}

impl DurableSubscription {
    /// The next message. A message that cannot be decoded yields its error
    /// and is settled here so it cannot block the consumer: terminated when
    /// the input itself is bad or can never be fetched (malformed, integrity,
    /// over a receive limit, an HTTP 4xx, a refused URL, ...), rejected for
    /// redelivery when the cause may pass (a connection, a timeout, a 5xx).
    /// While links download, the message is kept in progress (`+WPI` every
    /// half `ack_wait`). `None` when the consumer ends.
    pub async fn next(&mut self) -> Option<Result<JetStreamMessage>> {
        let message = match self.messages.next().await? {
            Ok(message) => message,
            Err(err) => {
                return Some(Err(Error::new(
                    ErrorKind::JetStream,
                    "receiving from the JetStream consumer failed",
                )
                .with_source(err)));
            }
        };
        let (stream_sequence, delivered) = match message.info() {
            Ok(info) => (info.stream_sequence, info.delivered),
            Err(_) => (0, 1),
        };
        // Tell the server the message is being worked on while its links
        // download, so a slow download is not delivered a second time.
        let received = {
            let receiving = self.bridge.smartreceive(&message.message, &self.receive);
            tokio::pin!(receiving);
            let period = (self.ack_wait / 2).max(Duration::from_millis(100));
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    result = &mut receiving => break result,
                    _ = ticks.tick() => {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                }
            }
        };
        match received {
            Ok(envelope) => Some(Ok(JetStreamMessage {
                envelope,
                stream_sequence,
                delivered,
                message,
            })),
            Err(err) => {
                // Terminate what the same input will fail again (over a cap,
                // a 4xx, a bad name, integrity); only the rest is redelivered.
                let settle = if crate::store::limits::is_retryable(&err) {
                    AckKind::Nak(Some(Duration::from_secs(1)))
                } else {
                    AckKind::Term
                };
                let _ = message.ack_with(settle).await;
                Some(Err(err))
            }
        }
    }

    /// The next message, waiting at most `timeout` ([`ErrorKind::Timeout`] otherwise).
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<JetStreamMessage>> {
        match tokio::time::timeout(timeout, self.next()).await {
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("no JetStream message within {timeout:?}"),
            )),
            Ok(None) => Ok(None),
            Ok(Some(result)) => result.map(Some),
        }
    }
}

impl Bridge {
    /// Creates the stream `name` capturing `subjects` unless it exists.
    ///
    /// ```no_run
    /// # async fn demo(bridge: natsbridge::Bridge) -> natsbridge::Result<()> {
    /// bridge.ensure_stream("CHAT", &["/chat/room1"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn ensure_stream(&self, name: &str, subjects: &[&str]) -> Result<()> {
        self.ensure_stream_replicas(name, subjects, 1).await
    }

    /// Creates the stream `name` capturing `subjects` with `replicas` copies
    /// (on a JetStream cluster; at most the number of nodes) unless it
    /// exists. An existing stream is used as it is.
    ///
    /// ```no_run
    /// # async fn demo(bridge: natsbridge::Bridge) -> natsbridge::Result<()> {
    /// bridge.ensure_stream_replicas("ORDERS", &["orders.>"], 3).await?;
    /// # Ok(()) }
    /// ```
    pub async fn ensure_stream_replicas(
        &self,
        name: &str,
        subjects: &[&str],
        replicas: usize,
    ) -> Result<()> {
        self.check_open()?;
        self.inner
            .jetstream
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
                num_replicas: replicas.max(1),
                ..Default::default()
            })
            .await
            .map_err(|err| {
                Error::new(
                    ErrorKind::JetStream,
                    format!("cannot create or find JetStream stream {name:?}"),
                )
                .with_source(err)
            })?;
        Ok(())
    }

    /// Opens a consumer on `stream` and returns its decoded envelopes.
    pub async fn durable_subscribe(
        &self,
        stream: &str,
        options: ConsumerOptions,
    ) -> Result<DurableSubscription> {
        self.check_open()?;
        let js_error = |what: String| {
            move |err: Box<dyn std::error::Error + Send + Sync>| {
                Error::new(ErrorKind::JetStream, what).with_source(err)
            }
        };
        let handle = self
            .inner
            .jetstream
            .get_stream(stream)
            .await
            .map_err(|err| {
                js_error(format!("JetStream stream {stream:?} not found"))(err.into())
            })?;
        let config = pull::Config {
            durable_name: options.durable_name.clone(),
            deliver_policy: match options.deliver_from {
                DeliverFrom::All => DeliverPolicy::All,
                DeliverFrom::New => DeliverPolicy::New,
                DeliverFrom::Last => DeliverPolicy::Last,
                DeliverFrom::Sequence(start_sequence) => {
                    DeliverPolicy::ByStartSequence { start_sequence }
                }
            },
            ack_policy: AckPolicy::Explicit,
            ack_wait: options.ack_wait,
            max_deliver: options.max_deliver,
            filter_subject: options.filter_subject.clone().unwrap_or_default(),
            ..Default::default()
        };
        let consumer = match &options.durable_name {
            Some(name) => handle.get_or_create_consumer(name, config).await,
            None => handle.create_consumer(config).await,
        }
        .map_err(|err| {
            js_error(format!("cannot open a consumer on stream {stream:?}"))(err.into())
        })?;
        let messages = consumer
            .messages()
            .await
            .map_err(|err| js_error(format!("cannot pull from stream {stream:?}"))(err.into()))?;
        Ok(DurableSubscription {
            bridge: self.clone(),
            messages,
            receive: options.receive,
            ack_wait: options.ack_wait,
        })
    }
}
