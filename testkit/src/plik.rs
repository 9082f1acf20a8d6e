//! [`PlikServer`]: a small server that follows plik's documented HTTP API,
//! for testing natsbridge's plik upload handlers where no real plik server
//! can be installed (plik ships as a Go binary from GitHub, out of reach of
//! this project's package registries).
//!
//! What it implements, after plik's API documentation:
//! - `POST /upload` with a JSON body (`ttl` seconds, `oneShot`) creates an
//!   upload and answers `{"id": ..., "uploadToken": ..., "oneShot": ..., "ttl": ...}`;
//! - `POST /file/{uploadId}` with the header `X-UploadToken` and a multipart
//!   form field `file` stores the file and answers
//!   `{"id": ..., "fileName": ..., "fileSize": ..., "status": "uploaded"}`;
//!   a missing or wrong token is 401;
//! - `GET /file/{uploadId}/{fileId}/{fileName}` serves it; a one-shot file is
//!   deleted after its first download (later GETs are 404).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::Router;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
struct Uploads {
    next_id: u64,
    uploads: HashMap<String, Upload>,
}

struct Upload {
    token: String,
    one_shot: bool,
    files: HashMap<String, (String, Vec<u8>)>,
}

type Shared = Arc<Mutex<Uploads>>;

/// A plik-compatible server on a free loopback port, stopped on drop.
pub struct PlikServer {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PlikServer {
    /// Starts the server.
    pub fn start() -> PlikServer {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/upload", post(create_upload))
            .route("/file/{upload}", post(add_file))
            .route("/file/{upload}/{file}/{name}", get(get_file))
            .with_state(state.clone());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("start the plik test server's runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind the plik test server");
                let _ = addr_tx.send(listener.local_addr().expect("local address"));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            });
        });
        let addr = addr_rx.recv().expect("the plik test server did not start");
        PlikServer {
            addr,
            state,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// The server's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many files the server holds now (one-shot files leave after one GET).
    pub fn file_count(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .uploads
            .values()
            .map(|upload| upload.files.len())
            .sum()
    }
}

impl Drop for PlikServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn create_upload(State(state): State<Shared>, body: String) -> Response {
    let options: Value = serde_json::from_str(&body).unwrap_or(json!({}));
    let one_shot = options
        .get("oneShot")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ttl = options.get("ttl").and_then(Value::as_u64).unwrap_or(0);
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.next_id += 1;
    let id = format!("up{:014}", state.next_id);
    let token = format!("tok{:013}", state.next_id * 7919);
    state.uploads.insert(
        id.clone(),
        Upload {
            token: token.clone(),
            one_shot,
            files: HashMap::new(),
        },
    );
    axum::Json(json!({"id": id, "uploadToken": token, "oneShot": one_shot, "ttl": ttl}))
        .into_response()
}

async fn add_file(
    State(state): State<Shared>,
    Path(upload_id): Path<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let token = headers
        .get("X-UploadToken")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    {
        let state = state.lock().unwrap_or_else(|p| p.into_inner());
        match state.uploads.get(&upload_id) {
            None => return (StatusCode::NOT_FOUND, "upload not found").into_response(),
            Some(upload) if upload.token != token => {
                return (StatusCode::UNAUTHORIZED, "invalid upload token").into_response();
            }
            Some(_) => {}
        }
    }
    let mut stored = None;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        match field.bytes().await {
            Ok(bytes) => stored = Some((name, bytes.to_vec())),
            Err(err) => return (StatusCode::BAD_REQUEST, err.to_string()).into_response(),
        }
    }
    let Some((name, bytes)) = stored else {
        return (StatusCode::BAD_REQUEST, "missing file field").into_response();
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.next_id += 1;
    let file_id = format!("fi{:014}", state.next_id);
    let size = bytes.len();
    if let Some(upload) = state.uploads.get_mut(&upload_id) {
        upload.files.insert(file_id.clone(), (name.clone(), bytes));
    }
    axum::Json(json!({"id": file_id, "fileName": name, "fileSize": size, "status": "uploaded"}))
        .into_response()
}

async fn get_file(
    State(state): State<Shared>,
    Path((upload_id, file_id, name)): Path<(String, String, String)>,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(upload) = state.uploads.get_mut(&upload_id) else {
        return (StatusCode::NOT_FOUND, "upload not found").into_response();
    };
    let one_shot = upload.one_shot;
    let found =
        matches!(upload.files.get(&file_id), Some((stored_name, _)) if *stored_name == name);
    if !found {
        return (StatusCode::NOT_FOUND, "file not found").into_response();
    }
    let bytes = if one_shot {
        upload
            .files
            .remove(&file_id)
            .map(|(_, bytes)| bytes)
            .unwrap_or_default()
    } else {
        upload
            .files
            .get(&file_id)
            .map(|(_, bytes)| bytes.clone())
            .unwrap_or_default()
    };
    bytes.into_response()
}
