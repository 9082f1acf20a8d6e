//! The original design's function-style API: `smartsend(subject, payloads,
//! {natsUrl, ...})` and `smartreceive(msg, {...})`, over the core's
//! process-wide pool of connections keyed by URL.
//!
//! A pooled connection has no `close()` for the caller to await, so the
//! messages it was given are flushed when Node's environment shuts down:
//! `await smartsend(...)` followed by the end of the program still delivers.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use napi::Env;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi_derive::napi;
use natsbridge::Error;

use crate::message::{incoming, string_arg};
use crate::objects::{ReceivedObject, SentObject};
use crate::options;
use crate::payload::payloads_from_js;
use crate::promise::{offload_if_large, run};

/// How long the shutdown flush may take per pooled connection.
const EXIT_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// URLs whose pooled connection this process has sent through.
fn used_urls() -> &'static Mutex<BTreeSet<String>> {
    static USED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    &USED
}

thread_local! {
    /// Whether this thread's environment has its shutdown flush registered.
    static FLUSH_HOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn register_exit_flush(env: &Env) {
    if FLUSH_HOOK.with(|done| done.replace(true)) {
        return;
    }
    // Best effort: without the hook, messages still go out unless the process
    // ends within microseconds of the send.
    let _ = env.add_env_cleanup_hook((), |()| flush_pooled());
}

/// Flushes every pooled connection this process sent through, waiting at
/// most [`EXIT_FLUSH_TIMEOUT`] for each.
fn flush_pooled() {
    let urls: Vec<String> = used_urls()
        .lock()
        .map(|urls| urls.iter().cloned().collect())
        .unwrap_or_default();
    for url in urls {
        let _ = natsbridge::runtime::block_on(async move {
            let flush = async {
                let bridge = natsbridge::pool_bridge(&url).await?;
                bridge.flush().await
            };
            tokio::time::timeout(EXIT_FLUSH_TIMEOUT, flush).await
        });
    }
}

/// Sends `payloads` as one envelope on `subject` over the pooled connection to
/// `options.natsUrl` (default `$NATS_URL`, else `nats://localhost:4222`); resolves to the
/// envelope as sent. Payloads at or above `sizeThreshold` bytes, or that do
/// not fit the server's `max_payload`, travel by link: to `fileserverUrl`,
/// through `fileserverUploadHandler`, or to the JetStream Object Store.
///
/// ```js
/// const { smartsend } = require('natsbridge')
/// const env = await smartsend('/chat/room1', [{ dataname: 'message', data: 'Hello World', type: 'text' }],
///                             { natsUrl: 'nats://localhost:4222' })
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "subject: string, payloads: Array<PayloadInput>, options?: SendOptions & NatsUrlOption",
    ts_return_type = "Promise<SentEnvelope>"
)]
pub fn smartsend<'env>(
    env: &'env Env,
    subject: Unknown<'_>,
    payloads: Unknown<'_>,
    options: Option<Unknown<'_>>,
) -> napi::Result<PromiseRaw<'env, SentObject>> {
    let prepared = (|| {
        let subject = string_arg(env, &subject, "subject")?;
        let payloads = payloads_from_js(env, payloads)?;
        let given = options::read(env, options.as_ref(), &options::SMARTSEND)?;
        let url = natsbridge::ConnectOptions::resolve_nats_url(given.nats_url()?.as_deref());
        let send = given.send()?;
        Ok::<_, Error>((url, subject, payloads, send))
    })();
    register_exit_flush(env);
    run(
        env,
        async move {
            let (url, subject, payloads, send) = prepared?;
            offload_if_large(payloads.bytes).await;
            let payloads = payloads.build()?;
            if let Ok(mut urls) = used_urls().lock()
                && !urls.contains(&url)
            {
                urls.insert(url.clone());
            }
            natsbridge::smartsend(&url, &subject, payloads, &send).await
        },
        |_, sent| Ok(SentObject(sent)),
    )
}

/// Decodes a received message: verifies every payload (size, sha256) and
/// fetches link payloads, with retries and backoff. `msg` is the envelope's
/// bytes or text, or a nats.js message. `nats-object://` links are fetched
/// over the pooled connection to `options.natsUrl` (default `$NATS_URL`,
/// else `nats://localhost:4222`; never the envelope's `brokerUrl`).
///
/// ```js
/// const envelope = await smartreceive(msg)
/// for (const payload of envelope.payloads) console.log(payload.dataname, payload.data)
/// ```
#[napi(
    catch_unwind,
    ts_args_type = "msg: Buffer | Uint8Array | string | { data: Uint8Array }, options?: ReceiveOptions & NatsUrlOption",
    ts_return_type = "Promise<ReceivedEnvelope>"
)]
pub fn smartreceive<'env>(
    env: &'env Env,
    msg: Unknown<'_>,
    options: Option<Unknown<'_>>,
) -> napi::Result<PromiseRaw<'env, ReceivedObject>> {
    let prepared = (|| {
        let message = incoming(env, &msg)?;
        let given = options::read(env, options.as_ref(), &options::SMARTRECEIVE)?;
        let (url, receive) = (given.nats_url()?, given.receive()?);
        Ok::<_, Error>((message, url, receive))
    })();
    run(
        env,
        async move {
            let (message, url, receive) = prepared?;
            offload_if_large(message.body.len()).await;
            let mut envelope =
                natsbridge::smartreceive(&message.body, url.as_deref(), &receive).await?;
            envelope.subject = message.subject;
            envelope.nats_reply = message.reply;
            Ok(envelope)
        },
        |_, envelope| Ok(ReceivedObject(envelope)),
    )
}

/// The natsbridge version, shared by every binding.
#[napi]
pub fn version() -> String {
    natsbridge::VERSION.to_owned()
}
