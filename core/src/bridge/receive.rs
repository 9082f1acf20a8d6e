//! Receiving: [`Bridge::smartreceive`], subscriptions, and fetching the
//! link payloads of a decoded envelope.

use crate::codec;
use crate::envelope::ReceivedEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
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

/// Fetches the link payloads of a decoded envelope (within the receive
/// limits, see `store::limits`) and assembles the received envelope.
pub(crate) async fn resolve_links(
    bridge: Option<&Bridge>,
    decoded: codec::DecodedEnvelope,
    options: &ReceiveOptions,
) -> Result<ReceivedEnvelope> {
    let payloads =
        crate::store::limits::resolve_payloads(bridge, decoded.payloads, options).await?;
    Ok(ReceivedEnvelope {
        header: decoded.header,
        payloads,
        subject: None,
        nats_reply: None,
    })
}
