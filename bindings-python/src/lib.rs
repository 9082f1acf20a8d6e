//! `natsbridge._natsbridge`: the Python binding of the natsbridge core.
//!
//! Only conversions live here: Python values to the core's payloads and
//! options and back, core errors to Python exceptions, core futures to
//! blocking calls and asyncio awaitables. Every rule of the wire format,
//! transports, sizes and retries is the core's. The `natsbridge` Python
//! package re-exports this module.
//!
//! Files mirror the core: `bridge.rs` (Bridge, smartsend, smartreceive),
//! `subscription.rs`, `envelope.rs`, `payload.rs`, `table.rs` (Arrow C stream),
//! `options.rs`, `store.rs` (handlers, plik), `error.rs`, `runtime.rs`, and
//! `json.rs` (Python values <-> JSON).

use pyo3::prelude::*;

mod bridge;
mod durable;
mod envelope;
mod error;
mod json;
mod options;
mod payload;
mod runtime;
mod store;
mod subscription;
mod table;

/// mimalloc: glibc's allocator serializes on arena locks when a buffer is
/// allocated on one thread and freed on another, which is the path of every
/// published message (caller thread -> connection task).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// natsbridge: multi-payload messages over NATS with a claim-check
/// transport for large payloads (native extension; import `natsbridge`).
#[pymodule]
fn _natsbridge(module: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init();
    let mut names = error::register(module)?;
    module.add_class::<bridge::PyBridge>()?;
    module.add_class::<subscription::PySubscription>()?;
    module.add_class::<durable::PyDurableSubscription>()?;
    module.add_class::<durable::PyJetStreamMessage>()?;
    module.add(
        "ReceivedEnvelope",
        envelope::received_envelope_class(module.py())?,
    )?;
    module.add_class::<table::PyTable>()?;
    module.add_class::<store::PlikUploadHandler>()?;
    module.add_function(wrap_pyfunction!(bridge::smartsend, module)?)?;
    module.add_function(wrap_pyfunction!(bridge::asmartsend, module)?)?;
    module.add_function(wrap_pyfunction!(bridge::smartreceive, module)?)?;
    module.add_function(wrap_pyfunction!(bridge::asmartreceive, module)?)?;
    let py = module.py();
    module.add(
        "plik_upload",
        Bound::new(py, store::PlikUploadHandler::new(86_400.0, None, false)?)?,
    )?;
    module.add(
        "plik_oneshot_upload",
        Bound::new(py, store::PlikUploadHandler::new(86_400.0, None, true)?)?,
    )?;
    module.add("__version__", natsbridge::VERSION)?;
    module.add(
        "ERROR_KINDS",
        natsbridge::ErrorKind::ALL
            .iter()
            .map(|kind| kind.name())
            .collect::<Vec<_>>(),
    )?;
    names.extend(
        [
            "Bridge",
            "Subscription",
            "DurableSubscription",
            "JetStreamMessage",
            "ReceivedEnvelope",
            "Table",
            "PlikUploadHandler",
            "smartsend",
            "asmartsend",
            "smartreceive",
            "asmartreceive",
            "plik_upload",
            "plik_oneshot_upload",
            "ERROR_KINDS",
        ]
        .map(str::to_owned),
    );
    module.add("__all__", names)?;
    Ok(())
}
