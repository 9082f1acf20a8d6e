//! Request/reply: [`Bridge::request`] waits for the reply envelope;
//! [`Bridge::reply`] answers a received one (wire-v1 section 6).

use std::time::Duration;

use futures::StreamExt as _;

use crate::envelope::{ReceivedEnvelope, ReplyTarget, SentEnvelope};
use crate::error::{Error, ErrorKind, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;

use super::Bridge;

impl Bridge {
    /// Sends a request and waits up to `timeout` (default: the connect
    /// options' request timeout) for the reply envelope. The request's
    /// `reply_to` is a fresh inbox unless `options` sets one; the reply may
    /// come from any natsbridge implementation or from a plain NATS responder
    /// answering the message's reply subject.
    pub async fn request(
        &self,
        subject: &str,
        payloads: Vec<Payload>,
        options: &SendOptions,
        timeout: Option<Duration>,
        receive: &ReceiveOptions,
    ) -> Result<ReceivedEnvelope> {
        self.check_open()?;
        let inbox = self.inner.client.new_inbox();
        let mut replies = self
            .inner
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|err| {
                Error::new(ErrorKind::Connection, "cannot subscribe to the reply inbox")
                    .with_source(err)
            })?;
        let mut options = options.clone();
        let listen_on = if options.envelope.reply_to.is_empty() {
            options.envelope.reply_to = inbox.clone();
            inbox.clone()
        } else {
            options.envelope.reply_to.clone()
        };
        let mut other_inbox = if listen_on != inbox {
            Some(
                self.inner
                    .client
                    .subscribe(listen_on.clone())
                    .await
                    .map_err(|err| {
                        Error::new(ErrorKind::Connection, "cannot subscribe to reply_to")
                            .with_source(err)
                    })?,
            )
        } else {
            None
        };
        // The reply subject also goes on the NATS message itself, so a
        // responder that only looks at the message's reply subject answers
        // there too; it is the caller's reply_to when one is set (the NATS
        // reply subject wins on the responder's side, wire-v1 section 6).
        let sent = self.build(subject, payloads, &options).await?;
        self.publish(subject, Some(&listen_on), &sent, false)
            .await?;
        let timeout = timeout.unwrap_or(self.inner.options.request_timeout);
        let wait = async {
            loop {
                let message = match &mut other_inbox {
                    Some(other) => tokio::select! {
                        m = replies.next() => m,
                        m = other.next() => m,
                    },
                    None => replies.next().await,
                };
                let Some(message) = message else {
                    return Err(Error::new(
                        ErrorKind::Closed,
                        "the connection closed while waiting for a reply",
                    ));
                };
                if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                    return Err(Error::new(
                        ErrorKind::NoResponders,
                        format!("no subscriber is listening on {subject:?}"),
                    ));
                }
                let reply = self.smartreceive(&message, receive).await?;
                // On a shared reply_to subject, skip replies to other requests.
                if other_inbox.is_some()
                    && !reply.header.reply_to_msg_id.is_empty()
                    && reply.header.reply_to_msg_id != sent.header.msg_id
                {
                    continue;
                }
                return Ok(reply);
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("no reply to the request on {subject:?} within {timeout:?}"),
            )
        })?
    }

    /// Answers a request (wire-v1 section 6): publishes to the target's
    /// subject (the NATS reply subject of the request's message, else its
    /// `reply_to`), with `reply_to_msg_id` set to its `msg_id` and its
    /// `correlation_id`. `msg_purpose` is `response` unless `options` sets
    /// one. `to` is a [`ReplyTarget`] or a `&ReceivedEnvelope`.
    ///
    /// The subject is the requester's choice, so it is checked first
    /// ([`crate::envelope::check_reply_subject`]): a `$`-prefixed system
    /// subject (`$JS.API...`, `$KV...`), or one outside the connection's
    /// `reply_subject_prefixes`, fails with `InvalidArgument` naming it and
    /// nothing is published.
    pub async fn reply(
        &self,
        to: impl Into<ReplyTarget>,
        payloads: Vec<Payload>,
        options: &SendOptions,
    ) -> Result<SentEnvelope> {
        let ReplyTarget {
            subject,
            msg_id,
            correlation_id,
        } = to.into();
        if subject.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "message {msg_id} has neither reply_to nor a NATS reply subject; there is nowhere to reply"
                ),
            ));
        }
        // Never the JetStream or system API, never outside the allow-list:
        // the subject comes from the requester (wire-v1 section 6).
        crate::envelope::check_reply_subject(&subject, &self.inner.options.reply_subject_prefixes)
            .map_err(|err| {
                let message = format!("cannot answer message {msg_id}: {}", err.message());
                Error::new(err.kind(), message)
            })?;
        let mut options = options
            .clone()
            .reply_to_msg_id(msg_id)
            .correlation_id(correlation_id);
        if options.envelope.msg_purpose.is_none() {
            options = options.msg_purpose("response");
        }
        self.smartsend(&subject, payloads, &options).await
    }
}
