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

use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::{AckKind, stream};
use futures::StreamExt as _;

use crate::bridge::Bridge;
use crate::envelope::ReceivedEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{ReceiveOptions, to_usize};
use crate::schema::{self, OptionValue, Scope};

/// Where a consumer starts when it is first created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliverFrom {
    /// The oldest message in the stream: a full replay.
    All,
    /// Only messages published after the consumer is created.
    New,
    /// The last message in the stream, then new ones.
    Last,
    /// Resume an existing durable consumer after its last acknowledged
    /// message; `JETSTREAM` when there is none to resume.
    LastAcknowledged,
    /// The message with this stream sequence, then later ones.
    Sequence(u64),
    /// The first message stored at or after this time, then later ones.
    Time(SystemTime),
}

impl DeliverFrom {
    /// Reads the option `deliver`: `all`, `new`, `last`, `last_ack`, a stream
    /// sequence number (from 1) or an RFC 3339 time with its offset.
    ///
    /// ```
    /// use natsbridge::jetstream::DeliverFrom;
    /// assert_eq!(DeliverFrom::parse("last_ack")?, DeliverFrom::LastAcknowledged);
    /// assert_eq!(DeliverFrom::parse("42")?, DeliverFrom::Sequence(42));
    /// assert!(matches!(DeliverFrom::parse("2026-01-02T03:04:05Z")?, DeliverFrom::Time(_)));
    /// assert!(DeliverFrom::parse("sometimes").is_err());
    /// assert!(DeliverFrom::parse("0").is_err());
    /// # Ok::<(), natsbridge::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<DeliverFrom> {
        let text = text.trim();
        let bad = |why: &str| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "option deliver: {text:?} {why}; it takes all, new, last, last_ack, \
                     a stream sequence number or an RFC 3339 time"
                ),
            )
        };
        Ok(match text {
            "all" => DeliverFrom::All,
            "new" => DeliverFrom::New,
            "last" => DeliverFrom::Last,
            "last_ack" | "last_acknowledged" => DeliverFrom::LastAcknowledged,
            _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                match text.parse::<u64>() {
                    Ok(0) => return Err(bad("is not a sequence (they start at 1)")),
                    Ok(sequence) => DeliverFrom::Sequence(sequence),
                    Err(_) => return Err(bad("is too large")),
                }
            }
            _ => {
                let time = time::OffsetDateTime::parse(
                    text,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|_| bad("is not one of these"))?;
                let nanos = time.unix_timestamp_nanos();
                let since_epoch =
                    Duration::from_nanos(u64::try_from(nanos).map_err(|_| bad("is before 1970"))?);
                DeliverFrom::Time(SystemTime::UNIX_EPOCH + since_epoch)
            }
        })
    }
}

/// How many times a consumer natsbridge creates delivers one message at most.
pub const DEFAULT_MAX_DELIVER: i64 = schema::DEFAULT_MAX_DELIVER as i64;

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
    stream: Option<String>,
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
            stream: None,
            durable_name: None,
            filter_subject: None,
            deliver_from: DeliverFrom::All,
            ack_wait: Duration::from_millis(schema::DEFAULT_ACK_WAIT_MS),
            max_deliver: DEFAULT_MAX_DELIVER,
            receive: ReceiveOptions::new(),
        }
    }

    /// The stream to consume, for [`Bridge::consume`].
    ///
    /// ```
    /// let options = natsbridge::jetstream::ConsumerOptions::durable("d").stream("ORDERS");
    /// assert_eq!(options.get_stream(), Some("ORDERS"));
    /// ```
    pub fn stream(mut self, name: impl Into<String>) -> ConsumerOptions {
        self.stream = Some(name.into());
        self
    }

    /// The stream set with [`ConsumerOptions::stream`].
    pub fn get_stream(&self) -> Option<&str> {
        self.stream.as_deref()
    }

    /// The durable name, `None` for an ephemeral consumer.
    pub fn get_durable(&self) -> Option<&str> {
        self.durable_name.as_deref()
    }

    /// Sets the consumer option `name` (snake_case or camelCase, scope
    /// `consume` of [`crate::schema`]) to `value`; durations are milliseconds.
    /// A bad value is `InvalidArgument`.
    ///
    /// ```
    /// use natsbridge::jetstream::ConsumerOptions;
    /// use natsbridge::schema::OptionValue;
    /// let options = ConsumerOptions::ephemeral()
    ///     .set("durable", OptionValue::Text("billing".into()))?
    ///     .set("deliver", OptionValue::Text("new".into()))?
    ///     .set("ackWait", OptionValue::Number(5000))?;
    /// assert_eq!(options.get_durable(), Some("billing"));
    /// assert!(ConsumerOptions::ephemeral().set("deliver", OptionValue::Text("soon".into())).is_err());
    /// # Ok::<(), natsbridge::Error>(())
    /// ```
    pub fn set(self, name: &str, value: OptionValue) -> Result<ConsumerOptions> {
        use OptionValue::*;
        let spec = schema::lookup(Scope::Consume, name)?;
        let nonempty = |text: String| {
            if text.trim().is_empty() {
                Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("option {} must not be empty", spec.name),
                ))
            } else {
                Ok(text)
            }
        };
        Ok(match (spec.name, spec.check(value)?) {
            ("stream", Text(s)) => self.stream(nonempty(s)?),
            ("durable", Text(s)) => {
                let name = nonempty(s)?;
                ConsumerOptions {
                    durable_name: Some(name),
                    ..self
                }
            }
            ("deliver", Text(s)) => self.deliver_from(DeliverFrom::parse(&s)?),
            ("filter_subject", Text(s)) => self.filter_subject(nonempty(s)?),
            ("ack_wait", Number(n)) => {
                if n == 0 {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "option ack_wait must be more than 0 ms",
                    ));
                }
                self.ack_wait(Duration::from_millis(n))
            }
            ("max_deliver", Number(0)) => self.max_deliver(-1),
            ("max_deliver", Number(n)) => {
                self.max_deliver(i64::try_from(to_usize(spec.name, n)?).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("option max_deliver: {n} is too large"),
                    )
                })?)
            }
            _ => return Err(crate::options::not_by_value(spec)),
        })
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
        ack(&self.message).await
    }

    /// Asks for the message to be delivered again, after `delay` if given.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<()> {
        nak(&self.message, delay).await
    }

    /// Stops redelivery of the message without processing it.
    pub async fn term(&self) -> Result<()> {
        term(&self.message).await
    }

    /// The envelope and what settles the message, apart: a front end hands
    /// the envelope to its language without copying it and keeps the rest.
    pub fn into_parts(self) -> (ReceivedEnvelope, JetStreamAck) {
        (
            self.envelope,
            JetStreamAck {
                stream_sequence: self.stream_sequence,
                delivered: self.delivered,
                message: self.message,
            },
        )
    }
}

/// What settles one [`JetStreamMessage`] once its envelope was taken
/// ([`JetStreamMessage::into_parts`]).
pub struct JetStreamAck {
    /// The message's sequence number in the stream.
    pub stream_sequence: u64,
    /// How many times this message has been delivered (1 the first time).
    pub delivered: i64,
    message: async_nats::jetstream::Message,
}

impl std::fmt::Debug for JetStreamAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamAck")
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish()
    }
}

impl JetStreamAck {
    /// As [`JetStreamMessage::ack`].
    pub async fn ack(&self) -> Result<()> {
        ack(&self.message).await
    }

    /// As [`JetStreamMessage::nak`].
    pub async fn nak(&self, delay: Option<Duration>) -> Result<()> {
        nak(&self.message, delay).await
    }

    /// As [`JetStreamMessage::term`].
    pub async fn term(&self) -> Result<()> {
        term(&self.message).await
    }
}

async fn ack(message: &async_nats::jetstream::Message) -> Result<()> {
    message
        .double_ack()
        .await
        .map_err(|err| ack_error("acknowledging", err))
}

async fn nak(message: &async_nats::jetstream::Message, delay: Option<Duration>) -> Result<()> {
    message
        .ack_with(AckKind::Nak(delay))
        .await
        .map_err(|err| ack_error("rejecting", err))
}

async fn term(message: &async_nats::jetstream::Message) -> Result<()> {
    message
        .ack_with(AckKind::Term)
        .await
        .map_err(|err| ack_error("terminating", err))
}

fn check_replicas(replicas: usize) -> Result<()> {
    if replicas == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "replicas must be at least 1",
        ));
    }
    Ok(())
}

fn offset_time(at: SystemTime) -> Result<time::OffsetDateTime> {
    let nanos = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    i128::try_from(nanos)
        .ok()
        .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "deliver: the time is out of range",
            )
        })
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

impl std::fmt::Debug for DurableSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableSubscription")
            .field("ack_wait", &self.ack_wait)
            .finish_non_exhaustive()
    }
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
        let replicas = self.inner.options.jetstream_replicas;
        self.ensure_stream_replicated(name, subjects, replicas)
            .await
    }

    /// Creates the stream `name` capturing `subjects`, kept by `replicas`
    /// servers (1 on a single server, up to 5 in a cluster), unless it
    /// exists. A replica count of 0 is `InvalidArgument`; more than the
    /// cluster has is refused by the server (`JETSTREAM`).
    ///
    /// ```no_run
    /// # async fn demo(bridge: natsbridge::Bridge) -> natsbridge::Result<()> {
    /// bridge.ensure_stream_replicated("CHAT", &["/chat/>"], 3).await?;
    /// # Ok(()) }
    /// ```
    pub async fn ensure_stream_replicated(
        &self,
        name: &str,
        subjects: &[&str],
        replicas: usize,
    ) -> Result<()> {
        self.check_open()?;
        check_replicas(replicas)?;
        if name.is_empty() || subjects.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a stream needs a name and at least one subject",
            ));
        }
        self.inner
            .jetstream
            .get_or_create_stream(stream::Config {
                name: name.to_owned(),
                subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
                num_replicas: replicas,
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

    /// Opens the consumer `options` describe on its stream
    /// ([`ConsumerOptions::stream`], `InvalidArgument` when unset).
    pub async fn consume(&self, options: ConsumerOptions) -> Result<DurableSubscription> {
        let stream = options.stream.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "option stream is required to consume from JetStream",
            )
        })?;
        self.durable_subscribe(&stream, options).await
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
                // Resuming never creates (checked below); All is unused.
                DeliverFrom::LastAcknowledged => DeliverPolicy::All,
                DeliverFrom::Sequence(start_sequence) => {
                    DeliverPolicy::ByStartSequence { start_sequence }
                }
                DeliverFrom::Time(at) => DeliverPolicy::ByStartTime {
                    start_time: offset_time(at)?,
                },
            },
            ack_policy: AckPolicy::Explicit,
            ack_wait: options.ack_wait,
            max_deliver: options.max_deliver,
            filter_subject: options.filter_subject.clone().unwrap_or_default(),
            ..Default::default()
        };
        let consumer = match (&options.durable_name, options.deliver_from) {
            (None, DeliverFrom::LastAcknowledged) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "deliver last_ack resumes a durable consumer: give its durable name",
                ));
            }
            (Some(name), DeliverFrom::LastAcknowledged) => handle
                .get_consumer::<pull::Config>(name)
                .await
                .map_err(|err| {
                    js_error(format!(
                        "no durable consumer {name:?} on stream {stream:?} to resume"
                    ))(err)
                })?,
            (Some(name), _) => {
                handle
                    .get_or_create_consumer(name, config)
                    .await
                    .map_err(|err| {
                        js_error(format!("cannot open a consumer on stream {stream:?}"))(err.into())
                    })?
            }
            (None, _) => handle.create_consumer(config).await.map_err(|err| {
                js_error(format!("cannot open a consumer on stream {stream:?}"))(err.into())
            })?,
        };
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
