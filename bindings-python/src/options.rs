//! Keyword arguments onto the core's option builders: [`SendOptions`],
//! [`ReceiveOptions`] and [`ConnectOptions`], with the original design's
//! names (`size_threshold`, `msg_purpose`, `max_retries`, `base_delay` in
//! ms, ...). Unknown keywords raise `TypeError`, as Python functions do.

use std::path::PathBuf;
use std::time::Duration;

use natsbridge::{ConnectOptions, ErrorKind, ReceiveOptions, SendOptions};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::nb_error;
use crate::payload::metadata_from_py;
use crate::store;

/// The NATS URL used when none is given: `$NATS_URL` (as the `nats` CLI
/// reads it), else `nats://localhost:4222` as in the original design.
pub fn default_nats_url(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("NATS_URL").ok().filter(|url| !url.is_empty()))
        .unwrap_or_else(|| "nats://localhost:4222".to_owned())
}

fn unexpected(function: &str, key: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{function}() got an unexpected keyword argument '{key}'"
    ))
}

fn seconds(value: &Bound<'_, PyAny>, key: &str) -> PyResult<Duration> {
    let secs: f64 = value.extract()?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        nb_error(
            ErrorKind::InvalidArgument,
            format!("{key} must be a non-negative number of seconds, got {secs}"),
        )
        .into()
    })
}

fn millis(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    Ok(Duration::from_millis(value.extract::<u64>()?))
}

/// Applies the send keywords (`fileserver_url`, `fileserver_upload_handler`,
/// `size_threshold`, `correlation_id`, `msg_id`, `msg_purpose`, `sender_name`, `sender_id`,
/// `receiver_name`, `receiver_id`, `reply_to`, `reply_to_msg_id`,
/// `metadata`, `fileserver_token`, `jetstream`, `direct_sha256`) to `options`.
pub fn send_options(function: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<SendOptions> {
    let mut options = SendOptions::new();
    let Some(kwargs) = kwargs else {
        return Ok(options);
    };
    let mut handler = None;
    let mut fileserver_url: Option<String> = None;
    for (key, value) in kwargs.iter() {
        let key: String = key.extract()?;
        if value.is_none() && key != "metadata" {
            // None means "the default" for every option.
            continue;
        }
        options = match key.as_str() {
            "fileserver_url" => {
                fileserver_url = Some(value.extract()?);
                options
            }
            "fileserver_upload_handler" => {
                handler = Some(value);
                options
            }
            "fileserver_token" => options.fileserver_token(value.extract::<String>()?),
            "size_threshold" => options.size_threshold(value.extract()?),
            "correlation_id" => options.correlation_id(value.extract::<String>()?),
            "msg_id" => options.msg_id(value.extract::<String>()?),
            "sender_id" => options.sender_id(value.extract::<String>()?),
            "msg_purpose" => options.msg_purpose(value.extract::<String>()?),
            "sender_name" => options.sender_name(value.extract::<String>()?),
            "receiver_name" => options.receiver_name(value.extract::<String>()?),
            "receiver_id" => options.receiver_id(value.extract::<String>()?),
            "reply_to" => options.reply_to(value.extract::<String>()?),
            "reply_to_msg_id" => options.reply_to_msg_id(value.extract::<String>()?),
            "metadata" if value.is_none() => options,
            "metadata" => options.metadata(metadata_from_py(&value, "the envelope")?),
            "jetstream" => options.jetstream(value.extract()?),
            "direct_sha256" => options.direct_sha256(value.extract()?),
            other => return Err(unexpected(function, other)),
        };
    }
    match handler {
        Some(handler) => options = options.store(store::upload_store(&handler, fileserver_url)?),
        None => {
            if let Some(url) = fileserver_url {
                options = options.fileserver_url(url);
            }
        }
    }
    Ok(options)
}

/// Applies the receive keywords (`fileserver_download_handler`,
/// `max_retries`, `base_delay` and `max_delay` in ms, `save_dir`,
/// `allowed_origins`, `allow_private_addresses`, `max_download_size`,
/// `download_timeout` in s: per HTTP request or per Object Store chunk,
/// `store_tokens`). `skip` names keywords the
/// caller handles itself.
pub fn receive_options(
    function: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
    skip: &[&str],
) -> PyResult<ReceiveOptions> {
    let mut options = ReceiveOptions::new();
    let Some(kwargs) = kwargs else {
        return Ok(options);
    };
    for (key, value) in kwargs.iter() {
        let key: String = key.extract()?;
        if value.is_none() || skip.contains(&key.as_str()) {
            continue;
        }
        options = match key.as_str() {
            "fileserver_download_handler" => options.fetcher(store::download_fetcher(&value)?),
            "max_retries" => options.max_retries(value.extract()?),
            "base_delay" => options.base_delay(millis(&value)?),
            "max_delay" => options.max_delay(millis(&value)?),
            "save_dir" => options.save_dir(value.extract::<PathBuf>()?),
            "allowed_origins" => {
                let mut options = options;
                for origin in value.extract::<Vec<String>>()? {
                    options = options.allowed_origin(origin);
                }
                options
            }
            "allow_private_addresses" => options.allow_private_addresses(value.extract()?),
            "max_download_size" => options.max_download_size(value.extract()?),
            "download_timeout" => options.download_timeout(seconds(&value, &key)?),
            "store_tokens" => {
                let mut options = options;
                for (origin, token) in value.extract::<Vec<(String, String)>>()? {
                    options = options.store_token(origin, token);
                }
                options
            }
            other => return Err(unexpected(function, other)),
        };
    }
    Ok(options)
}

/// Builds the connect options of `Bridge(nats_url, **options)`.
pub fn connect_options(
    nats_url: Option<String>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<ConnectOptions> {
    let mut options = ConnectOptions::new(default_nats_url(nats_url));
    let Some(kwargs) = kwargs else {
        return Ok(options);
    };
    let mut user: Option<String> = None;
    let mut password: Option<String> = None;
    for (key, value) in kwargs.iter() {
        let key: String = key.extract()?;
        if value.is_none() {
            continue;
        }
        options = match key.as_str() {
            "name" => options.name(value.extract::<String>()?),
            "token" => options.token(value.extract::<String>()?),
            "user" => {
                user = Some(value.extract()?);
                options
            }
            "password" => {
                password = Some(value.extract()?);
                options
            }
            "credentials_file" => options.credentials_file(value.extract::<PathBuf>()?),
            "nkey" => options.nkey(value.extract::<String>()?),
            "tls_ca_file" => options.tls_ca_file(value.extract::<PathBuf>()?),
            "tls_client_cert" => {
                let (cert, key): (PathBuf, PathBuf) = value.extract()?;
                options.tls_client_cert(cert, key)
            }
            "require_tls" => options.require_tls(value.extract()?),
            "connect_timeout" => options.connect_timeout(seconds(&value, &key)?),
            "request_timeout" => options.request_timeout(seconds(&value, &key)?),
            "subscription_capacity" => options.subscription_capacity(value.extract()?),
            "fileserver_url" => options.fileserver_url(value.extract::<String>()?),
            "fileserver_token" => options.fileserver_token(value.extract::<String>()?),
            "object_store_bucket" => options.object_store_bucket(value.extract::<String>()?),
            "object_store_ttl" => options.object_store_ttl(seconds(&value, &key)?),
            other => return Err(unexpected("Bridge", other)),
        };
    }
    match (user, password) {
        (Some(user), Some(password)) => options = options.user_password(user, password),
        (None, None) => {}
        _ => {
            return Err(nb_error(
                ErrorKind::InvalidArgument,
                "user and password go together: pass both or neither",
            )
            .into());
        }
    }
    Ok(options)
}
