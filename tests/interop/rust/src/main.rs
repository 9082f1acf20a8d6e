//! The interop matrix's Rust driver: one `Bridge` for the whole run, speaking
//! the runner's JSON-lines protocol on stdin/stdout (`tests/interop/README.md`).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::time::Duration;

use natsbridge::encoding::{base64_decode, sha256_hex};
use natsbridge::{
    Bridge, Payload, PayloadValue, ReceiveOptions, ReceivedEnvelope, SendOptions, Subscription,
    TableBuilder,
};
use serde_json::{Map, Value, json};

type Failure = Box<dyn std::error::Error>;

struct Driver {
    bridge: Bridge,
    fileserver_url: String,
    subscriptions: HashMap<String, Subscription>,
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, Failure> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("{key} is not a string").into())
}

fn spec_payload(spec: &Value) -> Result<Payload, Failure> {
    let name = text(spec, "dataname")?;
    Ok(match text(spec, "type")? {
        "text" => Payload::text(name, text(spec, "text")?),
        "dictionary" => Payload::dictionary(name, spec["json"].clone()),
        "table" => {
            let mut builder = TableBuilder::new();
            for column in spec["table"]["columns"].as_array().ok_or("columns")? {
                let cname = text(column, "name")?;
                let values = column["values"].as_array().ok_or("values")?;
                builder = match text(column, "type")? {
                    "int64" => builder.int64(cname, values.iter().map(Value::as_i64).collect())?,
                    "float64" => {
                        builder.float64(cname, values.iter().map(Value::as_f64).collect())?
                    }
                    "bool" => {
                        builder.boolean(cname, values.iter().map(Value::as_bool).collect())?
                    }
                    "utf8" => builder.utf8(
                        cname,
                        values
                            .iter()
                            .map(|v| v.as_str().map(String::from))
                            .collect(),
                    )?,
                    other => return Err(format!("column type {other}").into()),
                };
            }
            Payload::table(name, builder.finish()?)
        }
        other => Payload::bytes(
            name,
            other.parse()?,
            base64_decode(text(spec, "b64")?.as_bytes()).map_err(|e| e.to_string())?,
        ),
    })
}

fn canonical(envelope: &ReceivedEnvelope) -> Result<Value, Failure> {
    let mut out = Vec::new();
    for p in &envelope.payloads {
        let mut item = Map::new();
        item.insert("dataname".into(), p.dataname().into());
        item.insert("type".into(), p.info.payload_type.as_str().into());
        match &p.value {
            PayloadValue::Text(s) => {
                item.insert("text".into(), s.as_str().into());
            }
            PayloadValue::Dictionary(v) => {
                item.insert("json".into(), v.clone());
            }
            PayloadValue::Table(t) => {
                let schema: Vec<Value> = t
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| {
                        let kind = match format!("{}", f.data_type()).as_str() {
                            "Int64" => "int64".to_string(),
                            "Utf8" | "LargeUtf8" => "utf8".to_string(),
                            "Float64" => "float64".to_string(),
                            "Boolean" => "bool".to_string(),
                            other => other.to_string(),
                        };
                        json!([f.name(), kind])
                    })
                    .collect();
                item.insert(
                    "table".into(),
                    json!({"schema": schema, "columns": t.to_json_columns()?}),
                );
            }
            PayloadValue::Bytes(b) => {
                item.insert("sha256".into(), sha256_hex(b).into());
                item.insert("len".into(), b.len().into());
            }
            PayloadValue::File(path) => return Err(format!("unexpected file {path:?}").into()),
        }
        out.push(Value::Object(item));
    }
    Ok(Value::Array(out))
}

/// The received payloads as payloads to send back (an echo).
fn echo(envelope: &ReceivedEnvelope) -> Result<Vec<Payload>, Failure> {
    envelope
        .payloads
        .iter()
        .map(|p| {
            let name = p.dataname();
            Ok(match &p.value {
                PayloadValue::Text(s) => Payload::text(name, s.as_str()),
                PayloadValue::Dictionary(v) => Payload::dictionary(name, v.clone()),
                PayloadValue::Table(t) => Payload::table(name, t.clone()),
                PayloadValue::Bytes(b) => {
                    Payload::bytes(name, p.info.payload_type.clone(), b.clone())
                }
                PayloadValue::File(path) => return Err(format!("unexpected file {path:?}").into()),
            })
        })
        .collect()
}

impl Driver {
    fn send_options(&self, op: &Value) -> SendOptions {
        match op["transport"].as_str() {
            Some("link-http") => SendOptions::new()
                .fileserver_url(&self.fileserver_url)
                .size_threshold(1),
            Some("link-objstore") => SendOptions::new().size_threshold(1),
            _ => SendOptions::new(),
        }
    }

    async fn take(&mut self, op: &Value) -> Result<ReceivedEnvelope, Failure> {
        let subject = text(op, "subject")?;
        let mut sub = self.subscriptions.remove(subject).ok_or("not subscribed")?;
        let ms = op["timeout_ms"].as_u64().unwrap_or(10_000);
        let got = sub.next_timeout(Duration::from_millis(ms)).await;
        sub.unsubscribe().await?;
        Ok(got?.ok_or_else(|| format!("nothing on {subject} within {ms} ms"))?)
    }

    async fn handle(&mut self, op: &Value) -> Result<Value, Failure> {
        let payloads = || -> Result<Vec<Payload>, Failure> {
            op["payloads"]
                .as_array()
                .ok_or("payloads")?
                .iter()
                .map(spec_payload)
                .collect()
        };
        match text(op, "op")? {
            "subscribe" => {
                let subject = text(op, "subject")?;
                let sub = self
                    .bridge
                    .subscribe(subject, ReceiveOptions::new())
                    .await?;
                self.bridge.flush().await?;
                self.subscriptions.insert(subject.to_string(), sub);
                Ok(json!({}))
            }
            "send" => {
                let options = self.send_options(op);
                self.bridge
                    .smartsend(text(op, "subject")?, payloads()?, &options)
                    .await?;
                Ok(json!({}))
            }
            "receive" => Ok(json!({"payloads": canonical(&self.take(op).await?)?})),
            "request" => {
                let timeout = Duration::from_millis(op["timeout_ms"].as_u64().unwrap_or(10_000));
                let options = self.send_options(op);
                let reply = self
                    .bridge
                    .request(
                        text(op, "subject")?,
                        payloads()?,
                        &options,
                        Some(timeout),
                        &ReceiveOptions::new(),
                    )
                    .await?;
                Ok(json!({"payloads": canonical(&reply)?}))
            }
            "answer" => {
                let request = self.take(op).await?;
                let options = self.send_options(op);
                self.bridge
                    .reply(&request, echo(&request)?, &options)
                    .await?;
                Ok(json!({"payloads": canonical(&request)?}))
            }
            other => Err(format!("unknown op {other}").into()),
        }
    }
}

fn main() -> Result<(), Failure> {
    let runtime = tokio::runtime::Runtime::new()?;
    let nats_url = std::env::var("NATS_URL")?;
    let mut driver = Driver {
        bridge: runtime.block_on(Bridge::connect(&nats_url))?,
        fileserver_url: std::env::var("FILESERVER_URL")?,
        subscriptions: HashMap::new(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", json!({"ready": "rust"}))?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let op: Value = serde_json::from_str(&line?)?;
        if op["op"] == "quit" {
            break;
        }
        let result = match runtime.block_on(driver.handle(&op)) {
            Ok(Value::Object(mut fields)) => {
                fields.insert("ok".into(), true.into());
                Value::Object(fields)
            }
            Ok(other) => json!({"ok": false, "error": format!("bad result {other}")}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        };
        writeln!(out, "{result}")?;
        out.flush()?;
    }
    runtime.block_on(driver.bridge.close())?;
    Ok(())
}
