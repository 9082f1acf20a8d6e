//! Uploads to a [plik](https://github.com/root-gg/plik) server, the file
//! server the original NATSBridge used by default.
//!
//! plik's HTTP API: `POST /upload` with the upload's options (JSON) returns an
//! upload id and an upload token; `POST /file/{upload id}` with the file as
//! multipart field `file` and the header `X-UploadToken` returns the file's
//! id; the file is then at `GET /file/{upload id}/{file id}/{file name}`.
//!
//! [`PlikStore::new`] keeps files for a TTL and is the one to use.
//! [`PlikStore::oneshot`] is the original design's `plik_oneshot_upload`: the
//! server deletes a one-shot file after its first download, so a second
//! subscriber (fan-out), a JetStream replay or a download retry after a
//! broken transfer all find it gone.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::http::encode_segment;
use super::{ClaimCheckStore, UploadBody};
use crate::error::{Error, ErrorKind, Result};
use crate::payload::PayloadInfo;

/// A [`ClaimCheckStore`] speaking plik's API.
#[derive(Debug, Clone)]
pub struct PlikStore {
    base: String,
    ttl: Duration,
    one_shot: bool,
    token: Option<String>,
}

impl PlikStore {
    /// Uploads to the plik server at `base`, keeping files for `ttl`.
    pub fn new(base: impl Into<String>, ttl: Duration) -> PlikStore {
        PlikStore {
            base: base.into().trim_end_matches('/').to_owned(),
            ttl,
            one_shot: false,
            token: None,
        }
    }

    /// The original `plik_oneshot_upload`: each file is deleted after its
    /// first download (see the module notes for what that breaks).
    pub fn oneshot(base: impl Into<String>) -> PlikStore {
        PlikStore {
            one_shot: true,
            ..PlikStore::new(base, Duration::from_secs(24 * 3600))
        }
    }

    /// Authenticates with a plik user token (`X-PlikToken`).
    pub fn with_token(mut self, token: impl Into<String>) -> PlikStore {
        self.token = Some(token.into());
        self
    }

    async fn upload_inner(&self, info: &PayloadInfo, body: UploadBody) -> Result<String> {
        let client = super::http::client(true, super::http::default_connect_timeout(), &[])?;
        let failed = |step: &str, err: &dyn std::fmt::Display| {
            Error::new(
                ErrorKind::Upload,
                format!(
                    "plik upload of payload '{}' failed at {step}: {err}",
                    info.dataname
                ),
            )
        };
        let mut create = client
            .post(format!("{}/upload", self.base))
            .json_body(&json!({
                "ttl": self.ttl.as_secs(),
                "oneShot": self.one_shot,
            }));
        if let Some(token) = &self.token {
            create = create.header("X-PlikToken", token);
        }
        let upload = read_json(
            create
                .send()
                .await
                .map_err(|err| failed("POST /upload", &err))?,
        )
        .await
        .map_err(|err| failed("POST /upload", &err))?;
        let (Some(upload_id), Some(upload_token)) = (
            upload.get("id").and_then(Value::as_str),
            upload.get("uploadToken").and_then(Value::as_str),
        ) else {
            return Err(failed(
                "POST /upload",
                &"the answer has no id or uploadToken",
            ));
        };
        let len = body.len();
        let stream_body = match body {
            UploadBody::Bytes(bytes) => reqwest::Body::from(bytes),
            UploadBody::Tracked { bytes, progress } => {
                reqwest::Body::wrap_stream(progress.chunks(bytes, 256 * 1024))
            }
            UploadBody::Stream { reader, .. } => reqwest::Body::wrap_stream(
                tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024),
            ),
        };
        let part = reqwest::multipart::Part::stream_with_length(stream_body, len)
            .file_name(info.dataname.clone())
            .mime_str("application/octet-stream")
            .map_err(|err| failed("building the form", &err))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let mut add = client
            .post(format!("{}/file/{}", self.base, encode_segment(upload_id)))
            .header("X-UploadToken", upload_token)
            .multipart(form);
        if let Some(token) = &self.token {
            add = add.header("X-PlikToken", token);
        }
        let file = read_json(add.send().await.map_err(|err| failed("POST /file", &err))?)
            .await
            .map_err(|err| failed("POST /file", &err))?;
        let Some(file_id) = file.get("id").and_then(Value::as_str) else {
            return Err(failed("POST /file", &"the answer has no file id"));
        };
        let file_name = file
            .get("fileName")
            .and_then(Value::as_str)
            .unwrap_or(&info.dataname);
        Ok(format!(
            "{}/file/{}/{}/{}",
            self.base,
            encode_segment(upload_id),
            encode_segment(file_id),
            encode_segment(file_name)
        ))
    }
}

trait JsonBody {
    fn json_body(self, value: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, value: &Value) -> Self {
        self.header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(value.to_string())
    }
}

async fn read_json(response: reqwest::Response) -> std::result::Result<Value, String> {
    let status = response.status();
    let text = response.text().await.map_err(|err| err.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", text.trim()));
    }
    serde_json::from_str(&text).map_err(|err| format!("the answer is not JSON ({err})"))
}

impl ClaimCheckStore for PlikStore {
    fn upload<'a>(
        &'a self,
        info: &'a PayloadInfo,
        body: UploadBody,
    ) -> BoxFuture<'a, Result<String>> {
        let store = self.clone();
        let info = info.clone();
        Box::pin(async move {
            crate::runtime::spawn(async move { store.upload_inner(&info, body).await }).await?
        })
    }

    fn url_len_hint(&self, info: &PayloadInfo) -> usize {
        // Upload and file ids are short (plik uses 16 characters); allow 128.
        self.base.len() + 16 + 128 + encode_segment(&info.dataname).len()
    }
}
