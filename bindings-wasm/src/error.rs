//! Core errors as JavaScript `Error`s: `code` is the kind's stable name
//! (`INTEGRITY`, `MALFORMED_ENVELOPE`, ...), exactly as the Node package
//! sets it; `dataname` names the payload when the error is about one; the
//! message ends with the causes as indented "Caused by:" lines.

use natsbridge::Error;
use wasm_bindgen::JsValue;

/// What every export returns: a value, or a thrown `Error` with a `code`.
pub type JsResult<T> = Result<T, JsValue>;

/// Converts a core error into a JavaScript `Error` with `code` and `dataname`.
pub fn to_js_error(err: Error) -> JsValue {
    let mut message = err.message().to_owned();
    let mut cause = std::error::Error::source(&err);
    let mut depth = 1;
    while let Some(inner) = cause {
        message.push('\n');
        message.push_str(&"  ".repeat(depth));
        message.push_str("Caused by: ");
        message.push_str(&inner.to_string());
        depth += 1;
        cause = inner.source();
    }
    let js = js_sys::Error::new(&message);
    let set = |key: &str, value: &JsValue| {
        // Setting a property on a fresh Error object cannot fail.
        let _ = js_sys::Reflect::set(&js, &JsValue::from_str(key), value);
    };
    set("code", &JsValue::from_str(err.kind().code()));
    if let Some(name) = err.dataname() {
        set("dataname", &JsValue::from_str(name));
    }
    js.into()
}
