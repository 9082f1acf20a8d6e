//! JSON values across the border, with JS's own `JSON.stringify` and
//! `JSON.parse`, so a dictionary payload means exactly what it means to a JS
//! program (`toJSON`, `Date`s as strings, `undefined` properties dropped).

use napi::bindgen_prelude::{Function, JsObjectValue, Object, ToNapiValue, Unknown};
use napi::{Env, JsString, JsValue, ValueType};
use natsbridge::{Error, ErrorKind};
use serde_json::{Map, Value};

fn json_function<'env>(
    env: &'env Env,
    name: &str,
) -> napi::Result<Function<'env, Unknown<'env>, Unknown<'env>>> {
    let json: Object<'_> = env.get_global()?.get_named_property("JSON")?;
    json.get_named_property(name)
}

/// The JSON text of a JS value, per `JSON.stringify`. `what` names the value
/// in errors ("payload 'config'").
pub(crate) fn stringify(env: &Env, value: Unknown<'_>, what: &str) -> Result<String, Error> {
    let fail = |detail: String| {
        Error::new(
            ErrorKind::Serialization,
            format!("{what} cannot be serialized as JSON: {detail}"),
        )
    };
    let stringify = json_function(env, "stringify").map_err(|err| fail(err.reason))?;
    let text = match stringify.call(value) {
        Ok(text) => text,
        // `JSON.stringify` threw (a cycle, a BigInt); napi has cleared it.
        Err(err) => return Err(fail(err.reason)),
    };
    if text.get_type().map_err(|err| fail(err.reason))? != ValueType::String {
        return Err(fail(
            "JSON.stringify gave no text (undefined, a function or a symbol)".to_owned(),
        ));
    }
    // SAFETY: checked to be a string of this environment.
    let text = unsafe { text.cast::<JsString>() }.map_err(|err| fail(err.reason))?;
    text.into_utf8()
        .and_then(|utf8| utf8.into_owned())
        .map_err(|err| fail(err.reason))
}

/// A JS value as a `serde_json` value (through its JSON text).
pub(crate) fn to_value(env: &Env, value: Unknown<'_>, what: &str) -> Result<Value, Error> {
    let text = stringify(env, value, what)?;
    serde_json::from_str(&text).map_err(|err| {
        Error::new(
            ErrorKind::Serialization,
            format!("{what} cannot be serialized as JSON: {err}"),
        )
        .with_source(err)
    })
}

/// A JS object as a JSON object map (`metadata` options).
pub(crate) fn to_object(
    env: &Env,
    value: Unknown<'_>,
    what: &str,
) -> Result<Map<String, Value>, Error> {
    match to_value(env, value, what)? {
        Value::Object(map) => Ok(map),
        _ => Err(crate::error::invalid(format!(
            "{what} must be a plain object"
        ))),
    }
}

/// The JS value of a JSON value, per `JSON.parse`.
pub(crate) fn parse(env: &Env, value: &Value) -> napi::Result<napi::sys::napi_value> {
    match value {
        Value::Object(map) if map.is_empty() => {
            let object = Object::new(env)?;
            // SAFETY: a value of this environment.
            unsafe { ToNapiValue::to_napi_value(env.raw(), object) }
        }
        Value::String(text) => {
            // SAFETY: as above.
            unsafe { ToNapiValue::to_napi_value(env.raw(), text.as_str()) }
        }
        _ => {
            let text = serde_json::to_string(value)
                .map_err(|err| napi::Error::from_reason(err.to_string()))?;
            let parse = json_function(env, "parse")?;
            let text = env.create_string(&text)?;
            let parsed = parse.call(text.to_unknown())?;
            Ok(parsed.raw())
        }
    }
}

/// A JSON value that becomes a JS value through `JSON.parse`.
pub struct JsonValue(pub(crate) Value);

impl ToNapiValue for JsonValue {
    unsafe fn to_napi_value(
        env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        parse(&Env::from_raw(env), &val.0)
    }
}

impl napi::bindgen_prelude::TypeName for JsonValue {
    fn type_name() -> &'static str {
        "any"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}
