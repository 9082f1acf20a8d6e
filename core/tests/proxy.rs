//! HTTP proxies and link downloads (issue 16 item 5). Proxies from the
//! environment would be handed host names unresolved, past the address
//! rules, so they are never used; an explicit proxy still gets every target
//! checked first. Its own test binary: it sets proxy variables for the
//! whole process.

use std::time::Duration;

use natsbridge::codec::sha256_hex;
use natsbridge::{ErrorKind, ReceiveOptions};
use natsbridge_testkit::{FaultServer, Reply};
use serde_json::json;

fn envelope(url: &str, data: &[u8]) -> Vec<u8> {
    json!({"version": 1, "msg_id": "m",
           "payloads": [{"id": "p", "dataname": "file", "type": "binary", "transport": "link",
                         "encoding": "url", "size": data.len(), "sha256": sha256_hex(data),
                         "data": url, "metadata": {}}]})
    .to_string()
    .into_bytes()
}

fn fast() -> ReceiveOptions {
    ReceiveOptions::new()
        .max_retries(0)
        .download_timeout(Duration::from_secs(5))
}

#[tokio::test(flavor = "multi_thread")]
async fn proxies_come_only_from_the_options_and_targets_are_checked_first() {
    let data = b"through the proxy".to_vec();
    let proxy = FaultServer::start(vec![Reply::ok(data.clone())]);
    // SAFETY: the only test of this binary, set before any HTTP client exists.
    unsafe {
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::set_var(var, proxy.url());
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }

    // A host only the proxy would resolve: before, the proxy fetched it.
    let hidden = "http://natsbridge-proxy-test.invalid/file";
    let err = natsbridge::smartreceive(&envelope(hidden, &data), None, &fast())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download, "{err}");
    assert_eq!(proxy.hits(), 0, "the environment's proxy was used");

    // Direct downloads still work with the variables set.
    let direct = FaultServer::start(vec![Reply::ok(data.clone())]);
    let got = natsbridge::smartreceive(
        &envelope(&format!("{}/f", direct.url()), &data),
        None,
        &fast(),
    )
    .await
    .unwrap();
    assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    assert_eq!((direct.hits(), proxy.hits()), (1, 0));

    // An explicit proxy: a target that resolves to a refused address is
    // refused here, before the proxy hears of it...
    let strict = fast().proxy(proxy.url()).allow_private_addresses(false);
    let err = natsbridge::smartreceive(&envelope("http://localhost:9/f", &data), None, &strict)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{err}");
    let err = natsbridge::smartreceive(&envelope(hidden, &data), None, &fast().proxy(proxy.url()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UrlNotAllowed, "{err}");
    assert!(err.message().contains("does not resolve"), "{err}");
    assert_eq!(proxy.hits(), 0);
    // ...and an allowed one goes through it.
    let got = natsbridge::smartreceive(
        &envelope("http://localhost:9/f", &data),
        None,
        &fast().proxy(proxy.url()),
    )
    .await
    .unwrap();
    assert!(got.payloads[0].value.as_bytes().unwrap().as_ref() == data.as_slice());
    let requests = proxy.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "http://localhost:9/f", "{requests:?}");
    // A malformed proxy is a clear error.
    let err = natsbridge::smartreceive(
        &envelope("http://localhost:9/f", &data),
        None,
        &fast().proxy("not a proxy url"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}
