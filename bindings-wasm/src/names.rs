//! Envelopes as the JavaScript API shows them: the wire's snake_case header
//! fields in camelCase (`correlation_id` -> `correlationId`), as the Node
//! package does; payload fields are single words on the wire and here.

use natsbridge::envelope::info_to_json;
use natsbridge::{EnvelopeHeader, PayloadInfo};
use serde_json::{Map, Value};

/// The camelCase name of a wire header field.
fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn camel_header(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter().map(|(k, v)| (camel(&k), v)).collect()
}

/// A sent envelope's JSON (wire names) with camelCase header fields.
pub fn sent_to_js_json(wire: &Value) -> String {
    let Value::Object(map) = wire.clone() else {
        return "{}".to_owned();
    };
    Value::Object(camel_header(map)).to_string()
}

/// A received envelope's header and payload descriptions, camelCase, each
/// payload with the `kind` of its value.
pub fn incoming_to_js_json(
    header: &EnvelopeHeader,
    infos: &[PayloadInfo],
    kind: impl Fn(usize) -> &'static str,
) -> String {
    let mut map = camel_header(header.to_json_map());
    let payloads = infos
        .iter()
        .enumerate()
        .map(|(index, info)| {
            let mut object = info_to_json(info);
            object.insert("kind".into(), Value::from(kind(index)));
            Value::Object(object)
        })
        .collect();
    map.insert("payloads".into(), Value::Array(payloads));
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn wire_names_become_camel_case() {
        assert_eq!(camel("reply_to_msg_id"), "replyToMsgId");
        assert_eq!(camel("version"), "version");
        assert_eq!(camel("broker_url"), "brokerUrl");
    }
}
