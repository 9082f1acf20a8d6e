//! Memory use of large transfers. Alone in its own test binary because it
//! reads the process's peak RSS, which any test running beside it would move.

mod common;

use common::{DEADLINE, TestServer};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 3200; // 200 MiB
/// Far below the 200 MiB body, far above what buffering a few chunks costs.
const MAX_PEAK_GROWTH: u64 = 48 * 1024 * 1024;

/// Chunk `index` of the test body, made on demand so the client never holds
/// the body either; the index is written into each chunk so a lost or
/// reordered chunk is caught.
fn chunk(index: usize) -> Vec<u8> {
    let mut chunk = vec![(index % 251) as u8; CHUNK];
    chunk[..8].copy_from_slice(&(index as u64).to_le_bytes());
    chunk
}

/// Peak resident set size of this process, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}

/// Lowers the recorded peak to the current RSS, so the measurement below
/// starts from now rather than from whatever the test harness did before.
fn reset_peak_rss() {
    // Linux >= 4.0; on failure the peak only reads higher, never lower.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_and_download_of_200_mib_stay_streamed() {
    let server = TestServer::start().await;
    let client = reqwest::Client::builder()
        .timeout(DEADLINE * 6)
        .build()
        .unwrap();
    reset_peak_rss();
    let before = peak_rss();

    let body = futures::stream::iter(0..CHUNKS).map(|index| Ok::<_, std::io::Error>(chunk(index)));
    let response = client
        .put(server.url("/stream/big.bin"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let after_upload = peak_rss();

    let path = server.path("stream/big.bin");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        (CHUNK * CHUNKS) as u64
    );
    let mut file = tokio::fs::File::open(&path).await.unwrap();
    let mut read = vec![0u8; CHUNK];
    for index in 0..CHUNKS {
        file.read_exact(&mut read).await.unwrap();
        assert!(read == chunk(index), "chunk {index} on disk differs");
    }

    reset_peak_rss();
    let before_download = peak_rss();
    let response = client
        .get(server.url("/stream/big.bin"))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.content_length(), Some((CHUNK * CHUNKS) as u64));
    // Re-chunk the download on the fly to compare it without holding it.
    let mut pending = Vec::with_capacity(2 * CHUNK);
    let mut index = 0;
    let mut stream = response.bytes_stream();
    while let Some(bytes) = stream.next().await {
        pending.extend_from_slice(&bytes.expect("download body"));
        while pending.len() >= CHUNK {
            assert!(
                pending[..CHUNK] == chunk(index),
                "downloaded chunk {index} differs"
            );
            pending.drain(..CHUNK);
            index += 1;
        }
    }
    assert_eq!((index, pending.len()), (CHUNKS, 0), "download length");
    let after_download = peak_rss();

    let upload_growth = after_upload.saturating_sub(before);
    let download_growth = after_download.saturating_sub(before_download);
    eprintln!("peak RSS growth: upload {upload_growth} B, download {download_growth} B");
    assert!(
        upload_growth < MAX_PEAK_GROWTH,
        "a 200 MiB upload raised peak RSS by {upload_growth} bytes"
    );
    assert!(
        download_growth < MAX_PEAK_GROWTH,
        "a 200 MiB download raised peak RSS by {download_growth} bytes"
    );
}
