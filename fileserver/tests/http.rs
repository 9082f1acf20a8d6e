//! The file server's HTTP behaviour, exercised over loopback with a real HTTP
//! client (reqwest) and, where a client library would normalise or complete
//! the request, with raw bytes on a TCP socket.

mod common;

use std::time::Duration;

use common::{
    DEADLINE, TestServer, pseudo_random, raw_get, raw_request, read_response, wait_until,
};
use futures::StreamExt;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("http client")
}

async fn put(server: &TestServer, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    client()
        .put(server.url(path))
        .body(body)
        .send()
        .await
        .expect("PUT request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_then_get_round_trips_50_mb() {
    let server = TestServer::start().await;
    let data = pseudo_random(50 * 1024 * 1024, 1);

    let response = put(
        &server,
        "/1b4e28ba-2fa1-11d2-883f-0016d3cca427/big.bin",
        data.clone(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let expected_url = server.url("/1b4e28ba-2fa1-11d2-883f-0016d3cca427/big.bin");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, expected_url);
    assert_eq!(response.text().await.unwrap(), expected_url);

    let on_disk =
        std::fs::read(server.path("1b4e28ba-2fa1-11d2-883f-0016d3cca427/big.bin")).unwrap();
    assert!(on_disk == data, "the file on disk differs from the upload");

    let response = client().get(&location).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(data.len() as u64));
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), data.len());
    assert!(body == data, "the download differs from the upload");
}

#[tokio::test]
async fn dataname_is_percent_decoded_on_disk_and_encoded_in_the_url() {
    let server = TestServer::start().await;
    let response = put(&server, "/id-1/my%20file%3F%C3%A9.bin", "hello").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, server.url("/id-1/my%20file%3F%C3%A9.bin"));
    assert_eq!(
        std::fs::read(server.path("id-1/my file?é.bin")).unwrap(),
        b"hello"
    );

    // Another spelling of the same name reaches the same file.
    let response = client()
        .get(server.url("/id-1/my%20file%3f%c3%a9.bin"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn uploads_nest_to_any_depth() {
    let server = TestServer::start().await;
    let response = put(&server, "/a/b/c/d/e.txt", "deep").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::read(server.path("a/b/c/d/e.txt")).unwrap(),
        b"deep"
    );
    let response = put(&server, "/top.txt", "top").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(std::fs::read(server.path("top.txt")).unwrap(), b"top");
}

#[tokio::test]
async fn path_traversal_is_refused() {
    // The served directory is a child of a directory holding a secret, so an
    // escape by one level would find it.
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret"), b"do not serve").unwrap();
    let served = outer.path().join("served");
    let served_clone = served.clone();
    let server = TestServer::start_with(move |config| config.dir = served_clone).await;

    let attempts = [
        "/../secret",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/a/%2F..%2Fb",
        "/a/..%2F..%2Fsecret",
        "/..%2fsecret",
        "/..%5csecret",
        "/x/%5c..%5c..%5csecret",
        "/./secret",
        "/%2e/secret",
        "//secret",
        "/a//b",
        "/a/",
        "/",
        "/a%00b",
        "/a/..",
    ];
    for path in attempts {
        let response = raw_request(server.addr, &raw_get(path)).await;
        assert_eq!(response.status, 400, "GET {path}: {}", response.head);
        assert!(
            !response.body.windows(12).any(|w| w == b"do not serve"),
            "GET {path} leaked the secret"
        );

        let put = format!(
            "PUT {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\nConnection: close\r\n\r\nescaped"
        );
        let response = raw_request(server.addr, put.as_bytes()).await;
        assert_eq!(response.status, 400, "PUT {path}: {}", response.head);

        let delete = format!("DELETE {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        let response = raw_request(server.addr, delete.as_bytes()).await;
        assert_eq!(response.status, 400, "DELETE {path}: {}", response.head);
    }
    assert_eq!(
        std::fs::read(outer.path().join("secret")).unwrap(),
        b"do not serve"
    );
    let mut outside: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    outside.sort();
    assert_eq!(outside, ["secret", "served"], "nothing was written outside");
    assert!(
        server.files().is_empty(),
        "nothing was written inside either"
    );
}

#[tokio::test]
async fn token_guards_put_and_delete_but_not_get() {
    let server = TestServer::start_with(|config| config.token = Some("s3cret".into())).await;
    let http = client();

    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic s3cret"),
        Some("s3cret"),
    ] {
        let mut request = http.put(server.url("/p/file")).body("data");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "PUT with {auth:?}"
        );
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "challenge {challenge:?}");
    }
    assert!(server.files().is_empty(), "refused uploads store nothing");

    let response = http
        .put(server.url("/p/file"))
        .bearer_auth("s3cret")
        .body("data")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    // Receivers download with no credentials at all.
    let response = http.get(server.url("/p/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "data");
    let response = http.head(server.url("/p/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let response = http.delete(server.url("/p/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        server.path("p/file").exists(),
        "a refused DELETE removes nothing"
    );

    let response = http
        .delete(server.url("/p/file"))
        .header("authorization", "bearer s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!server.path("p/file").exists());
}

#[tokio::test]
async fn declared_length_over_the_limit_is_413() {
    let server = TestServer::start_with(|config| config.max_upload = Some(1000)).await;

    let response = put(&server, "/lim/over", vec![7u8; 1001]).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response.text().await.unwrap().contains("1000"),
        "the message names the limit"
    );
    assert!(server.files().is_empty());

    let response = put(&server, "/lim/exact", vec![7u8; 1000]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::metadata(server.path("lim/exact")).unwrap().len(),
        1000
    );

    // The refusal comes from the header alone: the server answers without
    // waiting for a terabyte that never comes.
    let request = "PUT /lim/huge HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000000000\r\n\r\n";
    let response = raw_request(server.addr, request.as_bytes()).await;
    assert_eq!(response.status, 413, "{}", response.head);
    assert!(!server.path("lim/huge").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_growing_past_the_limit_is_413_and_deleted() {
    const LIMIT: u64 = 256 * 1024;
    let server = TestServer::start_with(|config| config.max_upload = Some(LIMIT)).await;

    // A stream has no length, so reqwest sends it chunked.
    let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![1u8; 64 * 1024]));
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = put(&server, "/chunked/over", body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        server.files().is_empty(),
        "partial upload left behind: {:?}",
        server.files()
    );

    // Raw, to pin down that the server stops reading once past the limit: it
    // answers while the client still holds the rest of the body back.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"PUT /chunked/raw HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![2u8; 100 * 1024];
    for _ in 0..3 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    let response = read_response(&mut stream).await;
    assert_eq!(response.status, 413, "{}", response.head);
    assert!(
        server.files().is_empty(),
        "partial upload left behind: {:?}",
        server.files()
    );

    // Under the limit, chunked uploads work.
    let chunks = (0..3).map(|_| Ok::<_, std::io::Error>(vec![3u8; 64 * 1024]));
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = put(&server, "/chunked/under", body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        std::fs::read(server.path("chunked/under")).unwrap(),
        vec![3u8; 192 * 1024]
    );
}

#[tokio::test]
async fn delete_removes_the_file() {
    let server = TestServer::start().await;
    assert_eq!(
        put(&server, "/d/file", "x").await.status(),
        StatusCode::CREATED
    );

    let response = client().delete(server.url("/d/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(!server.path("d/file").exists());
    let response = client().get(server.url("/d/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = client().delete(server.url("/d/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client().delete(server.url("/d")).send().await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "directories are not files"
    );
    assert!(server.path("d").is_dir());
}

#[tokio::test]
async fn head_gives_the_length_without_a_body() {
    let server = TestServer::start().await;
    put(&server, "/h/file", vec![9u8; 12345]).await;

    let response = raw_request(
        server.addr,
        b"HEAD /h/file HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-length").as_deref(), Some("12345"));
    assert!(
        response.body.is_empty(),
        "HEAD sent {} body bytes",
        response.body.len()
    );

    let response = client()
        .head(server.url("/h/missing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn range_requests_return_the_slice() {
    let server = TestServer::start().await;
    let data = pseudo_random(1000, 7);
    put(&server, "/r/file", data.clone()).await;
    let http = client();

    /// A `Range` header, the status it gets, the body and `Content-Range`.
    struct Case<'a> {
        range: &'a str,
        status: u16,
        body: Option<&'a [u8]>,
        content_range: Option<&'a str>,
    }
    let case = |range, status, body, content_range| Case {
        range,
        status,
        body,
        content_range,
    };
    let cases = [
        case(
            "bytes=10-19",
            206,
            Some(&data[10..20]),
            Some("bytes 10-19/1000"),
        ),
        case(
            "bytes=990-",
            206,
            Some(&data[990..]),
            Some("bytes 990-999/1000"),
        ),
        case(
            "bytes=-5",
            206,
            Some(&data[995..]),
            Some("bytes 995-999/1000"),
        ),
        case(
            "bytes=0-5000",
            206,
            Some(&data[..]),
            Some("bytes 0-999/1000"),
        ),
        case("bytes=1000-", 416, None, Some("bytes */1000")),
        case("bytes=0-1,5-6", 200, Some(&data[..]), None),
    ];
    for Case {
        range,
        status,
        body,
        content_range,
    } in cases
    {
        let response = http
            .get(server.url("/r/file"))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{range}");
        assert_eq!(
            response
                .headers()
                .get("content-range")
                .map(|v| v.to_str().unwrap()),
            content_range,
            "{range}"
        );
        if let Some(expected) = body {
            assert_eq!(
                response.content_length(),
                Some(expected.len() as u64),
                "{range}"
            );
            assert_eq!(&response.bytes().await.unwrap()[..], expected, "{range}");
        }
    }
}

#[tokio::test]
async fn missing_files_and_directories_are_404() {
    let server = TestServer::start().await;
    put(&server, "/dir/file", "x").await;
    for path in ["/nothing/here", "/dir", "/dir/file/below", "/dir/other"] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "GET {path}");
    }
}

#[tokio::test]
async fn expired_files_are_404_before_the_sweep_runs() {
    let server = TestServer::start_with(|config| {
        config.ttl = Some(Duration::from_secs(2));
        config.cleanup_interval = Duration::from_secs(3600);
    })
    .await;
    put(&server, "/t/file", "short-lived").await;
    let response = client().get(server.url("/t/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "fresh files are served");

    wait_until("the file expires", || async {
        client()
            .get(server.url("/t/file"))
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::NOT_FOUND
    })
    .await;
    assert!(
        server.path("t/file").exists(),
        "the hourly sweep has not run yet"
    );
    let response = client().head(server.url("/t/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ttl_sweep_deletes_old_files_and_empty_directories() {
    let server = TestServer::start_with(|config| {
        config.ttl = Some(Duration::from_millis(500));
        config.cleanup_interval = Duration::from_millis(100);
    })
    .await;
    put(&server, "/sweep/a/b/file", "old").await;
    assert!(server.path("sweep/a/b/file").exists());

    wait_until("the sweep removes the file and its directories", || async {
        !server.path("sweep").exists()
    })
    .await;
    assert!(
        server.dir.path().is_dir(),
        "the served directory itself stays"
    );
    let response = client()
        .get(server.url("/sweep/a/b/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Uploading again into the swept path works.
    assert_eq!(
        put(&server, "/sweep/a/b/file", "new").await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_to_one_path_never_mix() {
    const SIZE: usize = 4 * 1024 * 1024;
    let server = TestServer::start_with(|config| config.allow_overwrite = true).await;
    for round in 0..3 {
        let uploads = (1..=4u8).map(|fill| {
            // Small chunks with yields between them interleave the uploads.
            let chunks = (0..SIZE / 65536).map(move |_| Ok::<_, std::io::Error>(vec![fill; 65536]));
            let body =
                reqwest::Body::wrap_stream(futures::stream::iter(chunks).then(|chunk| async {
                    tokio::task::yield_now().await;
                    chunk
                }));
            let request = client().put(server.url("/same/path")).body(body);
            async move { request.send().await.unwrap().status() }
        });
        let statuses = futures::future::join_all(uploads).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::CREATED),
            "{statuses:?}"
        );

        let stored = std::fs::read(server.path("same/path")).unwrap();
        assert_eq!(stored.len(), SIZE, "round {round}");
        let first = stored[0];
        assert!((1..=4).contains(&first));
        assert!(
            stored.iter().all(|b| *b == first),
            "round {round}: uploads were mixed"
        );
        assert_eq!(server.files(), ["same/path"], "no temporary files remain");
    }
}

#[tokio::test]
async fn half_written_upload_is_never_served() {
    let server = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"PUT /half/file HTTP/1.1\r\nHost: test\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    stream.write_all(&[5u8; 10000]).await.unwrap();

    // The first half reaches the temporary file...
    wait_until("the upload's temporary file appears", || async {
        server
            .files()
            .iter()
            .any(|f| f.starts_with("half/.nbupload-"))
    })
    .await;
    // ...but neither the real name nor the temporary one can be read.
    let response = client().get(server.url("/half/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let temp = server
        .files()
        .into_iter()
        .find(|f| f.starts_with("half/.nbupload-"))
        .unwrap();
    let response = client()
        .get(server.url(&format!("/{temp}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    stream.write_all(&[5u8; 10000]).await.unwrap();
    let response = read_response(&mut stream).await;
    assert_eq!(response.status, 201, "{}", response.head);
    assert_eq!(
        std::fs::read(server.path("half/file")).unwrap(),
        vec![5u8; 20000]
    );
    assert_eq!(server.files(), ["half/file"]);
}

#[tokio::test]
async fn aborted_upload_leaves_nothing_behind() {
    let server = TestServer::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"PUT /gone/file HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n")
        .await
        .unwrap();
    stream.write_all(&[1u8; 1000]).await.unwrap();
    wait_until("the upload starts", || async { !server.files().is_empty() }).await;
    drop(stream);

    wait_until("the partial upload is deleted", || async {
        server.files().is_empty()
    })
    .await;
    let response = client().get(server.url("/gone/file")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn overwriting_replaces_the_whole_file() {
    let server = TestServer::start_with(|config| config.allow_overwrite = true).await;
    put(&server, "/o/file", vec![1u8; 5000]).await;
    assert_eq!(
        put(&server, "/o/file", "short").await.status(),
        StatusCode::CREATED
    );
    let response = client().get(server.url("/o/file")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "short");
}

#[tokio::test]
async fn file_and_directory_clashes_are_409() {
    let server = TestServer::start().await;
    assert_eq!(
        put(&server, "/c/file", "x").await.status(),
        StatusCode::CREATED
    );
    let response = put(&server, "/c", "over a directory").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = put(&server, "/c/file/below", "under a file").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(server.files(), ["c/file"]);
}

#[tokio::test]
async fn other_methods_are_405() {
    let server = TestServer::start().await;
    let response = client()
        .post(server.url("/m/file"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response.headers()["allow"].to_str().unwrap();
    assert!(allow.contains("PUT") && allow.contains("GET"), "{allow}");
    assert!(server.files().is_empty());
}

#[tokio::test]
async fn location_uses_the_host_the_client_used() {
    let server = TestServer::start().await;
    let request = "PUT /loc/file HTTP/1.1\r\nHost: files.example:8080\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    let response = raw_request(server.addr, request.as_bytes()).await;
    assert_eq!(response.status, 201);
    assert_eq!(
        response.header("location").as_deref(),
        Some("http://files.example:8080/loc/file")
    );
    assert_eq!(response.body, b"http://files.example:8080/loc/file");

    // A Host that is not a plain authority never makes it into a URL.
    let request = "PUT /loc/file2 HTTP/1.1\r\nHost: evil@x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    let response = raw_request(server.addr, request.as_bytes()).await;
    assert_eq!(response.status, 201);
    assert_eq!(response.header("location"), Some(server.url("/loc/file2")));
}

#[tokio::test]
async fn bind_refuses_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let mut config = natsbridge_fileserver::Config::new(dir.path(), addr);
    config.token = Some(String::new());
    let err = natsbridge_fileserver::FileServer::bind(config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let mut config = natsbridge_fileserver::Config::new(dir.path(), addr);
    config.ttl = Some(Duration::ZERO);
    let err = natsbridge_fileserver::FileServer::bind(config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    let mut config = natsbridge_fileserver::Config::new(dir.path(), addr);
    config.cleanup_interval = Duration::ZERO;
    let err = natsbridge_fileserver::FileServer::bind(config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    // A missing directory is created.
    let nested = dir.path().join("new/dir");
    let server =
        natsbridge_fileserver::FileServer::bind(natsbridge_fileserver::Config::new(&nested, addr))
            .await
            .unwrap();
    assert!(nested.is_dir());
    assert_ne!(server.local_addr().port(), 0);
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{}", server.local_addr().port())
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = TestServer::start().await;
    assert_eq!(
        put(&server, "/s/file", "x").await.status(),
        StatusCode::CREATED
    );
    let addr = server.addr;
    drop(server);
    wait_until("the listener closes", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
}

/// Issue 16 item 15: a second PUT to a path is refused (409) by default,
/// before its body is read, and the first upload stays as it was.
#[tokio::test]
async fn a_second_put_to_a_path_is_refused_by_default() {
    let server = TestServer::start().await;
    assert_eq!(
        put(&server, "/once/file", "first").await.status(),
        StatusCode::CREATED
    );
    let response = put(&server, "/once/file", "second").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("does not overwrite"),
        "the message says why"
    );
    let response = client().get(server.url("/once/file")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "first");
    assert_eq!(server.files(), ["once/file"]);
}

/// Issue 16 item 15: of uploads racing to one new path, one wins whole and
/// the others get 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_uploads_to_a_new_path_leave_one_winner() {
    const SIZE: usize = 1024 * 1024;
    let server = TestServer::start().await;
    let uploads = (1..=4u8).map(|fill| {
        let chunks = (0..SIZE / 65536).map(move |_| Ok::<_, std::io::Error>(vec![fill; 65536]));
        let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks).then(|chunk| async {
            tokio::task::yield_now().await;
            chunk
        }));
        let request = client().put(server.url("/race/path")).body(body);
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(uploads).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, refused), (1, 3), "{statuses:?}");
    let stored = std::fs::read(server.path("race/path")).unwrap();
    assert_eq!(stored.len(), SIZE);
    assert!(stored.iter().all(|b| *b == stored[0]), "uploads were mixed");
    assert_eq!(server.files(), ["race/path"], "no temporary files remain");
}

/// Issue 16 item 15: a request head that never completes is closed within
/// the header-read timeout.
#[tokio::test]
async fn a_half_sent_request_head_is_closed_within_the_timeout() {
    let server = TestServer::start_with(|config| {
        config.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let started = std::time::Instant::now();
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /slow/file HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the connection is still open after 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "closed before the timeout: {:?}",
        started.elapsed()
    );
}

/// Issue 16 item 15: an upload that stops sending is closed after the idle
/// timeout and its partial file deleted; an idle keep-alive connection too.
#[tokio::test]
async fn a_stalled_upload_is_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(|config| {
        config.idle_timeout = Duration::from_millis(700);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"PUT /stall/file HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    stream.write_all(&[3u8; 1000]).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the stalled upload is still open after 5 s");
    wait_until("the partial upload is deleted", || async {
        server.files().is_empty()
    })
    .await;

    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut idle, &mut rest),
    )
    .await;
    assert!(closed.is_ok(), "an idle connection is still open after 5 s");
}

/// Issue 16 item 15: connections over the limit get 503 and are closed;
/// once one is freed, a new one is served.
#[tokio::test]
async fn connections_over_the_limit_get_503() {
    let server = TestServer::start_with(|config| config.max_connections = 2).await;
    let first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Both are accepted (and hold a slot) before the third connects.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = raw_request(server.addr, &raw_get("/limit/file")).await;
    assert_eq!(response.status, 503, "{}", response.head);
    drop(first);
    drop(second);
    wait_until("a slot is free again", || async {
        raw_request(server.addr, &raw_get("/limit/file"))
            .await
            .status
            == 404
    })
    .await;
}

/// Issue 16 item 15: uploads are capped by default.
#[tokio::test]
async fn uploads_are_capped_by_default() {
    let server = TestServer::start().await;
    let request = format!(
        "PUT /cap/huge HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        natsbridge_fileserver::DEFAULT_MAX_UPLOAD + 1
    );
    let response = raw_request(server.addr, request.as_bytes()).await;
    assert_eq!(response.status, 413, "{}", response.head);
    assert_eq!(
        natsbridge_fileserver::Config::new("/x", "127.0.0.1:0".parse().unwrap()).max_upload,
        Some(natsbridge_fileserver::DEFAULT_MAX_UPLOAD)
    );
}

/// Issue 16 item 15: a non-loopback bind without a token is refused unless
/// asked for explicitly.
#[tokio::test]
async fn a_public_bind_without_a_token_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let public = "0.0.0.0:0".parse().unwrap();
    let config = natsbridge_fileserver::Config::new(dir.path(), public);
    let err = natsbridge_fileserver::FileServer::bind(config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("without a token"), "{err}");

    let mut config = natsbridge_fileserver::Config::new(dir.path(), public);
    config.token = Some("s3cret".into());
    natsbridge_fileserver::FileServer::bind(config)
        .await
        .unwrap();
    let mut config = natsbridge_fileserver::Config::new(dir.path(), public);
    config.allow_public_without_token = true;
    natsbridge_fileserver::FileServer::bind(config)
        .await
        .unwrap();
}
