//! Receiving: [`Bridge::smartreceive`], subscriptions, and fetching the
//! link payloads of a decoded envelope.

use futures::future::try_join_all;

use crate::codec::{self, Content};
use crate::envelope::ReceivedEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
use crate::payload::ReceivedPayload;
use crate::subscription::Subscription;

use super::Bridge;

impl Bridge {
    /// Decodes a received NATS message: verifies every payload and downloads
    /// link payloads (with retries and backoff, per `options`).
    pub async fn smartreceive(
        &self,
        message: &async_nats::Message,
        options: &ReceiveOptions,
    ) -> Result<ReceivedEnvelope> {
        let mut envelope = self.smartreceive_bytes(&message.payload, options).await?;
        envelope.subject = Some(message.subject.to_string());
        envelope.nats_reply = message.reply.as_ref().map(|r| r.to_string());
        Ok(envelope)
    }

    /// Decodes an envelope from the bytes of a message body.
    pub async fn smartreceive_bytes(
        &self,
        body: &[u8],
        options: &ReceiveOptions,
    ) -> Result<ReceivedEnvelope> {
        let decoded = codec::decode(body)?;
        resolve_links(Some(self), decoded, options).await
    }

    /// Subscribes to `subject` (wildcards allowed). Each item of the
    /// subscription is one decoded envelope, or the error that message gave.
    /// Returns once the server has the subscription (a round trip, see
    /// [`Bridge::flush`]), so whatever anyone publishes afterwards reaches it.
    pub async fn subscribe(&self, subject: &str, options: ReceiveOptions) -> Result<Subscription> {
        self.check_open()?;
        codec::validate_subscribe_subject(subject)?;
        let subscriber = self
            .inner
            .client
            .subscribe(subject.to_owned())
            .await
            .map_err(|err| {
                Error::new(
                    ErrorKind::Connection,
                    format!("cannot subscribe to {subject:?}"),
                )
                .with_source(err)
            })?;
        self.flush().await?;
        Ok(Subscription::new(self.clone(), subscriber, options))
    }

    /// Subscribes as a member of queue group `group`: each message goes to
    /// one member of the group. Returns once the server has the subscription.
    pub async fn queue_subscribe(
        &self,
        subject: &str,
        group: &str,
        options: ReceiveOptions,
    ) -> Result<Subscription> {
        self.check_open()?;
        codec::validate_subscribe_subject(subject)?;
        if group.is_empty() || group.chars().any(char::is_whitespace) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid queue group {group:?}: it must be non-empty without whitespace"),
            ));
        }
        let subscriber = self
            .inner
            .client
            .queue_subscribe(subject.to_owned(), group.to_owned())
            .await
            .map_err(|err| {
                Error::new(
                    ErrorKind::Connection,
                    format!("cannot subscribe to {subject:?}"),
                )
                .with_source(err)
            })?;
        self.flush().await?;
        Ok(Subscription::new(self.clone(), subscriber, options))
    }
}

/// Fetches the link payloads of a decoded envelope (concurrently) and
/// assembles the received envelope.
pub(crate) async fn resolve_links(
    bridge: Option<&Bridge>,
    decoded: codec::DecodedEnvelope,
    options: &ReceiveOptions,
) -> Result<ReceivedEnvelope> {
    let payloads = try_join_all(decoded.payloads.into_iter().map(|payload| async move {
        let value = match payload.content {
            Content::Ready(value) => value,
            Content::Link(url) => {
                crate::store::fetch_link(bridge, &url, &payload.info, options).await?
            }
        };
        Ok::<_, Error>(ReceivedPayload {
            info: payload.info,
            value,
        })
    }))
    .await?;
    Ok(ReceivedEnvelope {
        header: decoded.header,
        payloads,
        subject: None,
        nats_reply: None,
    })
}
