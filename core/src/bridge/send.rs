//! Sending: [`Bridge::smartsend`] reads file payloads, applies the codec's
//! transport plan, uploads link payloads to the claim-check store, encodes
//! and publishes (core NATS or JetStream).

use std::path::PathBuf;

use async_nats::{HeaderMap, HeaderName};
use bytes::Bytes;
use futures::future::try_join_all;

use crate::codec::{self, EnvelopeWriter, PartData};
use crate::encoding;
use crate::envelope::SentEnvelope;
use crate::error::{Error, ErrorKind, Result};
use crate::options::SendOptions;
use crate::payload::{Body, Payload, PayloadInfo, serialize_body};
use crate::store::{ClaimCheckStore, Progress, UploadBody, UploadProgress, read_file_hashing};
use crate::transport::Transport;

use super::Bridge;

/// One payload on its way out: its description and where its bytes are.
enum Source {
    Memory(Bytes),
    File(PathBuf),
}

impl Bridge {
    /// Sends `payloads` as one envelope on `subject` (wire-v1): serializes
    /// them, picks each one's transport, uploads link payloads (concurrently)
    /// to the claim-check store, and publishes with the `Nats-Msg-Id` header.
    /// Returns the envelope as sent. If anything fails before publishing,
    /// nothing is published.
    pub async fn smartsend(
        &self,
        subject: &str,
        payloads: Vec<Payload>,
        options: &SendOptions,
    ) -> Result<SentEnvelope> {
        let mut sent = self.build(subject, payloads, options).await?;
        sent.stream_sequence = self
            .publish(subject, None, &sent, options.jetstream)
            .await?;
        Ok(sent)
    }

    /// Everything a send does short of publishing: serialize, choose
    /// transports, read and upload what must be, encode.
    pub(super) async fn build(
        &self,
        subject: &str,
        payloads: Vec<Payload>,
        options: &SendOptions,
    ) -> Result<SentEnvelope> {
        self.check_open()?;
        codec::validate_subject(subject)?;
        let writer = EnvelopeWriter::new(codec::new_header(
            subject,
            &options.envelope,
            &self.inner.broker_url,
        ));
        let (mut infos, sources) = describe(payloads).await?;
        let max_payload = self.max_payload();
        // Cheap first: most messages are small and need no store at all.
        let limits = writer.limits(infos.len(), options.envelope.size_threshold, max_payload);
        let fits_direct = codec::plan(&mut infos, limits, false, |_| 0);
        let store = match fits_direct {
            Ok(_) => None,
            Err(err) if err.kind() != ErrorKind::PayloadTooLarge => return Err(err),
            Err(too_large) => {
                let Some(store) = Box::pin(self.store_for(options)).await? else {
                    return Err(too_large);
                };
                codec::plan(&mut infos, limits, true, |info| {
                    store.url_len_hint(info) + 2
                })?;
                Some(store)
            }
        };
        let mut parts: Vec<Option<Part>> = Vec::with_capacity(infos.len());
        let mut uploads = Vec::new();
        for (index, (info, source)) in infos.iter_mut().zip(sources).enumerate() {
            match (info.transport, source) {
                (Transport::Direct, Source::Memory(bytes)) => {
                    if options.envelope.direct_sha256 {
                        info.sha256 = Some(encoding::sha256_hex(&bytes));
                    }
                    parts.push(Some(Part::Direct(bytes)));
                }
                (Transport::Direct, Source::File(path)) => {
                    let bytes = Box::pin(read_small_file(&path, info)).await?;
                    if options.envelope.direct_sha256 {
                        info.sha256 = Some(encoding::sha256_hex(&bytes));
                    }
                    parts.push(Some(Part::Direct(bytes)));
                }
                (Transport::Link, source) => {
                    // Link payloads always carry their digest: upload_one
                    // hashes while the upload runs.
                    parts.push(None);
                    uploads.push((index, source));
                }
            }
        }
        if let Some(store) = &store {
            let results = Box::pin(try_join_all(uploads.into_iter().map(|(index, source)| {
                upload_one(
                    store.as_ref(),
                    &infos[index],
                    index,
                    source,
                    options.progress.as_ref(),
                )
            })))
            .await?;
            for (index, url, sha) in results {
                if let Some(sha) = sha {
                    infos[index].sha256 = Some(sha);
                }
                parts[index] = Some(Part::Link(url));
            }
        }
        let wire_parts: Vec<PartData<'_>> = parts
            .iter()
            .map(|part| match part {
                Some(Part::Direct(bytes)) => PartData::Direct(bytes),
                Some(Part::Link(url)) => PartData::Link(url),
                None => PartData::Link(""),
            })
            .collect();
        let sent = writer.finish(infos, &wire_parts);
        let total = sent.wire_bytes().len() + codec::nats_headers_len(&sent.header);
        if total > max_payload {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "the envelope is {total} bytes after upload (the store returned longer URLs \
                     than it announced); the server's max_payload is {max_payload} bytes"
                ),
            ));
        }
        Ok(sent)
    }

    /// Publishes an encoded envelope with natsbridge's headers.
    pub(crate) async fn publish(
        &self,
        subject: &str,
        nats_reply: Option<&str>,
        sent: &SentEnvelope,
        jetstream: bool,
    ) -> Result<Option<u64>> {
        let headers = publish_headers(&sent.header)?;
        let body = sent.wire_bytes().clone();
        if jetstream {
            // Boxed, like every await of the rarer paths (files, links,
            // JetStream): the future of a send stays small, which bindings
            // that box it per send (to poll it once inline, then hand it to
            // the runtime) pay for in allocation and copying.
            let ack = Box::pin(async {
                self.inner
                    .jetstream
                    .publish_with_headers(subject.to_owned(), headers, body)
                    .await
                    .map_err(|err| jetstream_publish_error(subject, err))?
                    .await
                    .map_err(|err| jetstream_publish_error(subject, err))
            })
            .await?;
            return Ok(Some(ack.sequence));
        }
        let client = &self.inner.client;
        let result = match nats_reply {
            Some(reply) => {
                client
                    .publish_with_reply_and_headers(
                        subject.to_owned(),
                        reply.to_owned(),
                        headers,
                        body,
                    )
                    .await
            }
            None => {
                client
                    .publish_with_headers(subject.to_owned(), headers, body)
                    .await
            }
        };
        result.map_err(|err| {
            Error::new(
                ErrorKind::Publish,
                format!("publishing to {subject:?} failed"),
            )
            .with_source(err)
        })?;
        Ok(None)
    }
}

/// The NATS headers of one message (`codec::nats_headers`). Their names are
/// `'static`: `HeaderName::from_static` neither parses nor allocates them.
/// A `msg_id` with CR or LF cannot be a header value (async-nats would
/// panic on it): that is the caller's bad argument, refused here.
fn publish_headers(header: &crate::EnvelopeHeader) -> Result<HeaderMap> {
    if header
        .msg_id
        .bytes()
        .any(|byte| byte == b'\r' || byte == b'\n')
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "msg_id {:?} contains a line break; it travels as the Nats-Msg-Id header",
                header.msg_id
            ),
        ));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in codec::nats_headers(header) {
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(headers)
}

enum Part {
    Direct(Bytes),
    Link(String),
}

/// Serializes in-memory payloads and sizes file payloads.
async fn describe(payloads: Vec<Payload>) -> Result<(Vec<PayloadInfo>, Vec<Source>)> {
    let mut infos = Vec::with_capacity(payloads.len());
    let mut sources = Vec::with_capacity(payloads.len());
    for payload in payloads {
        let (dataname, payload_type, body, metadata) = payload.into_parts();
        codec::validate_dataname(&dataname)?;
        match body {
            Body::File(path) => {
                let size = Box::pin(tokio::fs::metadata(&path))
                    .await
                    .map_err(|err| file_error(&dataname, &path, err))?
                    .len();
                infos.push(codec::new_info(dataname, payload_type, size, metadata));
                sources.push(Source::File(path));
            }
            body => {
                let bytes = serialize_body(&dataname, body)?;
                infos.push(codec::new_info(
                    dataname,
                    payload_type,
                    bytes.len() as u64,
                    metadata,
                ));
                sources.push(Source::Memory(bytes));
            }
        }
    }
    Ok((infos, sources))
}

fn file_error(dataname: &str, path: &std::path::Path, err: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!(
            "cannot read payload '{dataname}' from {}: {err}",
            path.display()
        ),
    )
    .with_dataname(dataname)
    .with_source(err)
}

async fn read_small_file(path: &std::path::Path, info: &PayloadInfo) -> Result<Bytes> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|err| file_error(&info.dataname, path, err))?;
    if bytes.len() as u64 != info.size {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "payload '{}': {} changed size while being sent ({} bytes, then {})",
                info.dataname,
                path.display(),
                info.size,
                bytes.len()
            ),
        )
        .with_dataname(info.dataname.clone()));
    }
    Ok(Bytes::from(bytes))
}

/// Uploads one link payload; file payloads are streamed and hashed on the way.
async fn upload_one(
    store: &dyn ClaimCheckStore,
    info: &PayloadInfo,
    index: usize,
    source: Source,
    progress: Option<&Progress>,
) -> Result<(usize, String, Option<String>)> {
    let tracker = progress.map(|p| UploadProgress::new(p.clone(), &info.dataname, info.size));
    let label = |err: Error| {
        let message = format!(
            "uploading payload '{}' failed: {}",
            info.dataname,
            err.full_message()
        );
        Error::new(err.kind(), message)
            .with_dataname(info.dataname.clone())
            .with_source(err)
    };
    match source {
        Source::Memory(bytes) => {
            // Hash on a blocking thread while the upload runs: the digest is
            // needed only for the envelope, after the upload.
            let hashing = tokio::task::spawn_blocking({
                let bytes = bytes.clone();
                move || encoding::sha256_hex(&bytes)
            });
            let body = match tracker {
                Some(progress) => UploadBody::Tracked { bytes, progress },
                None => UploadBody::Bytes(bytes),
            };
            let url = store.upload(info, body).await.map_err(label)?;
            let sha = hashing
                .await
                .map_err(|err| Error::from_join(err, "hashing a payload"))?;
            Ok((index, url, Some(sha)))
        }
        Source::File(path) => {
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|err| file_error(&info.dataname, &path, err))?
                .into_std()
                .await;
            let (reader, digest) = read_file_hashing(file);
            let reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>> = match &tracker {
                Some(progress) => Box::pin(progress.reader(reader)),
                None => Box::pin(reader),
            };
            let body = UploadBody::Stream {
                reader,
                len: info.size,
            };
            let url = store.upload(info, body).await.map_err(label)?;
            let (sha, read) = digest.finish().await?;
            if read != info.size {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "payload '{}': {} changed size while being sent ({} bytes, then {read})",
                        info.dataname,
                        path.display(),
                        info.size
                    ),
                )
                .with_dataname(info.dataname.clone()));
            }
            Ok((index, url, Some(sha)))
        }
    }
}

fn jetstream_publish_error(
    subject: &str,
    err: async_nats::jetstream::context::PublishError,
) -> Error {
    use async_nats::jetstream::context::PublishErrorKind as K;
    let message = match err.kind() {
        K::StreamNotFound => format!(
            "no JetStream stream captures subject {subject:?}; create one (Bridge::ensure_stream) \
             or publish without jetstream"
        ),
        K::TimedOut => format!("JetStream did not acknowledge the message on {subject:?} in time"),
        _ => format!("JetStream publish to {subject:?} failed"),
    };
    Error::new(ErrorKind::JetStream, message).with_source(err)
}
