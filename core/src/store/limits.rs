//! What one received envelope may make a receiver do: how many link payloads
//! it may carry, how many bytes they may declare together, how many are
//! downloaded at once, how large a table may be, and which failures are worth
//! another delivery. An envelope is untrusted input of a few hundred bytes
//! that names what the receiver should fetch; these limits keep the work it
//! can cause proportional to what the receiver agreed to.

use std::collections::HashMap;

use futures::{StreamExt as _, TryStreamExt as _};

use super::fetch::{fetch_raw, into_value};
use super::{Fetched, check_declared_size, save};
use crate::bridge::Bridge;
use crate::codec::{Content, DecodedPayload};
use crate::error::{Error, ErrorKind, Result};
use crate::options::ReceiveOptions;
use crate::payload::{PayloadInfo, PayloadValue, ReceivedPayload};

/// Marks an error of a transient kind (a download failure) as one that the
/// same input will always give again: over a cap, an HTTP 4xx, a missing
/// object. Carried as the error's source so kinds stay as they are.
#[derive(Debug)]
pub(crate) struct Permanent;

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("trying again cannot change the outcome")
    }
}

impl std::error::Error for Permanent {}

/// `err`, marked as not worth retrying (it must not have a source yet).
pub(crate) fn permanent(err: Error) -> Error {
    err.with_source(Permanent)
}

/// Whether trying the same input again later may succeed: a transient kind
/// ([`ErrorKind::is_transient`]) not marked [`Permanent`].
pub(crate) fn is_retryable(err: &Error) -> bool {
    if !err.kind().is_transient() {
        return false;
    }
    let mut cause = std::error::Error::source(err);
    while let Some(current) = cause {
        if current.is::<Permanent>() {
            return false;
        }
        cause = current.source();
    }
    true
}

/// Refuses an envelope whose link payloads are over the receiver's limits,
/// before anything is fetched: more than `max_link_payloads`, one declaring
/// more than `max_download_size`, or together more than
/// `max_envelope_download_size`.
pub(crate) fn check_envelope(payloads: &[DecodedPayload], options: &ReceiveOptions) -> Result<()> {
    let links: Vec<&PayloadInfo> = payloads
        .iter()
        .filter(|payload| matches!(payload.content, Content::Link(_)))
        .map(|payload| &payload.info)
        .collect();
    let max_links = options.limits.max_link_payloads;
    if links.len() > max_links {
        return Err(permanent(Error::new(
            ErrorKind::Download,
            format!(
                "the envelope carries {} link payloads, over this receiver's max_link_payloads \
                 of {max_links}",
                links.len()
            ),
        )));
    }
    for info in &links {
        check_declared_size(info, options)
            .map_err(|err| err.with_dataname(info.dataname.clone()))?;
    }
    let declared = links
        .iter()
        .fold(0u64, |sum, info| sum.saturating_add(info.size));
    let max_total = options.get_max_envelope_download_size();
    if declared > max_total {
        return Err(permanent(Error::new(
            ErrorKind::Download,
            format!(
                "the envelope's {} link payloads declare {declared} bytes together, over this \
                 receiver's max_envelope_download_size of {max_total} bytes",
                links.len()
            ),
        )));
    }
    Ok(())
}

/// Refuses a received value over the receiver's limits (a table with an
/// implausible logical size, see [`crate::Table::check_logical_size`]).
pub(crate) fn check_value(
    info: &PayloadInfo,
    value: &PayloadValue,
    options: &ReceiveOptions,
) -> Result<()> {
    if let PayloadValue::Table(table) = value {
        table
            .check_logical_size(options.limits.max_table_rows)
            .map_err(|err| {
                let message = format!("payload '{}': {}", info.dataname, err.message());
                Error::new(err.kind(), message).with_dataname(info.dataname.clone())
            })?;
    }
    Ok(())
}

/// Checks a decoded envelope against the limits and fetches its link
/// payloads: each distinct link (URL, size and sha256) once, at most
/// `max_concurrent_downloads` at a time; the first failure cancels the rest.
pub(crate) async fn resolve_payloads(
    bridge: Option<&Bridge>,
    payloads: Vec<DecodedPayload>,
    options: &ReceiveOptions,
) -> Result<Vec<ReceivedPayload>> {
    check_envelope(&payloads, options)?;
    let mut infos = Vec::with_capacity(payloads.len());
    let mut values: Vec<Option<PayloadValue>> = Vec::with_capacity(payloads.len());
    // Distinct links, each with the payloads that name it.
    let mut links: Vec<(String, Vec<usize>)> = Vec::new();
    let mut link_of: HashMap<(String, u64, Option<String>), usize> = HashMap::new();
    for (index, payload) in payloads.into_iter().enumerate() {
        match payload.content {
            Content::Ready(value) => {
                check_value(&payload.info, &value, options)?;
                values.push(Some(value));
            }
            Content::Link(url) => {
                let key = (url, payload.info.size, payload.info.sha256.clone());
                match link_of.get(&key) {
                    Some(&link) => links[link].1.push(index),
                    None => {
                        link_of.insert(key.clone(), links.len());
                        links.push((key.0, vec![index]));
                    }
                }
                values.push(None);
            }
        }
        infos.push(payload.info);
    }
    let infos_ref = &infos;
    // One deadline for the whole envelope: retries, delays and handlers of
    // every link included. A link still being fetched when it passes fails
    // the envelope with Timeout (its download cancelled).
    let budget = options.limits.envelope_timeout;
    let deadline = tokio::time::Instant::now() + budget;
    let fetched: Vec<(Vec<usize>, Fetched)> =
        futures::stream::iter(links.into_iter().map(|(url, members)| async move {
            let info = &infos_ref[members[0]];
            let fetched = tokio::time::timeout_at(deadline, fetch_raw(bridge, &url, info, options))
                .await
                .map_err(|_| envelope_timed_out(info, budget))??;
            Ok::<_, Error>((members, fetched))
        }))
        .buffer_unordered(options.limits.max_concurrent_downloads.max(1))
        .try_collect()
        .await?;
    for (members, fetched) in fetched {
        match fetched {
            Fetched::Memory(bytes) => {
                for &member in &members {
                    let value =
                        into_value(&infos[member], Fetched::Memory(bytes.clone()), options)?;
                    values[member] = Some(value);
                }
            }
            Fetched::File(path) => {
                // Every payload gets its own file under its own name.
                for &member in &members[1..] {
                    let copy = copy_saved(&path, &infos[member], options).await?;
                    values[member] = Some(PayloadValue::File(copy));
                }
                values[members[0]] = Some(PayloadValue::File(path));
            }
        }
    }
    Ok(infos
        .into_iter()
        .zip(values)
        .map(|(info, value)| ReceivedPayload {
            info,
            // Every slot was filled above: direct payloads at once, links by their fetch.
            value: value.unwrap_or(PayloadValue::Bytes(bytes::Bytes::new())),
        })
        .collect())
}

/// The error of an envelope whose link payloads took longer than its
/// `envelope_timeout`, naming the payload that was still being fetched.
pub(crate) fn envelope_timed_out(info: &PayloadInfo, budget: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "payload '{}' was not fetched within this receiver's envelope_timeout of {} ms \
             (the time all link payloads of one envelope may take together)",
            info.dataname,
            budget.as_millis()
        ),
    )
    .with_dataname(info.dataname.clone())
}

/// Copies a saved payload for another payload of the same link, under that
/// payload's own name in the save_dir.
async fn copy_saved(
    from: &std::path::Path,
    info: &PayloadInfo,
    options: &ReceiveOptions,
) -> Result<std::path::PathBuf> {
    let dir = options
        .save_dir
        .clone()
        .or_else(|| from.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_default();
    let from = from.to_path_buf();
    let dataname = info.dataname.clone();
    tokio::task::spawn_blocking(move || {
        let (file, temp) = save::create_temp(&dir)?;
        drop(file);
        if let Err(err) = std::fs::copy(&from, &temp) {
            let _ = std::fs::remove_file(&temp);
            return Err(Error::new(
                ErrorKind::Io,
                format!("cannot copy {} for payload '{dataname}'", from.display()),
            )
            .with_dataname(dataname)
            .with_source(err));
        }
        save::publish(&temp, &dir, &dataname)
    })
    .await
    .map_err(|err| {
        Error::new(ErrorKind::Closed, "saving a payload was cancelled").with_source(err)
    })?
}
