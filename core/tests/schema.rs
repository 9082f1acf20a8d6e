//! The option schema (`natsbridge::schema`): the published copies are what
//! the table says, and the core's by-name setters take every option of it.
//! The front ends' parity tests read `docs/options.json`.

use std::path::PathBuf;

use natsbridge::schema::{self, DefaultValue, Kind, OptionValue, Scope};
use natsbridge::{ConnectOptions, ErrorKind, ReceiveOptions, SendOptions};

fn docs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// `docs/<name>` must hold `expected`; with `NB_BLESS=1` it is rewritten.
fn check_generated(name: &str, expected: &str) {
    let path = docs().join(name);
    if std::env::var_os("NB_BLESS").is_some() {
        std::fs::write(&path, expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/{name} is not what core/src/schema.rs generates: run \
         `NB_BLESS=1 cargo test -p natsbridge --test schema` and commit it"
    );
}

#[test]
fn published_schema_is_generated_from_the_table() {
    check_generated("options.json", &schema::to_json());
    check_generated("options.md", &schema::to_markdown());
}

/// A value of the option's kind.
fn sample(kind: Kind) -> OptionValue {
    match kind {
        Kind::Bool => OptionValue::Bool(true),
        Kind::Count | Kind::Bytes | Kind::Millis => OptionValue::Number(7),
        Kind::Text | Kind::Secret | Kind::Url | Kind::Path => {
            OptionValue::Text("http://127.0.0.1:1".into())
        }
        Kind::TextList => OptionValue::TextList(vec!["http://127.0.0.1:1".into()]),
        Kind::TokenMap => OptionValue::TokenMap(vec![("http://127.0.0.1:1".into(), "t".into())]),
        Kind::Object => OptionValue::Object(serde_json::Map::new()),
        Kind::Callback => OptionValue::Text("not a function".into()),
    }
}

fn set(scope: Scope, name: &str, value: OptionValue) -> natsbridge::Result<()> {
    match scope {
        Scope::Send => SendOptions::new().set(name, value).map(drop),
        Scope::Receive => ReceiveOptions::new().set(name, value).map(drop),
        Scope::Connect => ConnectOptions::default().set(name, value).map(drop),
        Scope::Consume => natsbridge::jetstream::ConsumerOptions::ephemeral()
            .set(name, value)
            .map(drop),
        Scope::Subscribe => unreachable!("subscribe options are arguments of subscribe"),
    }
}

#[test]
fn every_option_is_settable_by_both_names_and_checks_its_kind() {
    for option in schema::OPTIONS {
        if option.scope == Scope::Subscribe {
            continue;
        }
        for name in [option.name, option.camel] {
            let value = match (option.scope, option.name) {
                // `deliver` takes a word, a sequence or a time, not any text.
                (Scope::Consume, "deliver") => OptionValue::Text("new".into()),
                _ => sample(option.kind),
            };
            let result = set(option.scope, name, value);
            if option.kind == Kind::Callback {
                let err = result.expect_err(option.name);
                assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
                assert!(err.to_string().contains("function"), "{err}");
            } else {
                result.unwrap_or_else(|err| panic!("{:?} {name}: {err}", option.scope));
            }
        }
        // A value of another kind is refused with a message naming the option.
        let wrong = match option.kind {
            Kind::Bool => OptionValue::Number(1),
            _ => OptionValue::Bool(true),
        };
        let err = set(option.scope, option.name, wrong).expect_err(option.name);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains(option.name), "{err}");
    }
}

#[test]
fn unknown_names_are_refused_with_the_known_ones() {
    let err = SendOptions::new()
        .set("size_treshold", OptionValue::Number(1))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("size_threshold"), "{err}");
    // An option of another scope is not one of this scope.
    assert!(
        ReceiveOptions::new()
            .set("msg_purpose", OptionValue::Text("x".into()))
            .is_err()
    );
}

#[test]
fn secrets_never_appear_in_kind_errors() {
    let err = ConnectOptions::default()
        .set("password", OptionValue::Number(12345678))
        .unwrap_err();
    assert!(!err.to_string().contains("12345678"), "{err}");
}

#[test]
fn the_core_defaults_are_the_schema_defaults() {
    let number = |scope, name| match schema::find(scope, name).unwrap().default {
        DefaultValue::Number(n) => n,
        other => panic!("{name}: {other:?}"),
    };
    let send = SendOptions::new();
    assert_eq!(
        send.get_size_threshold() as u64,
        number(Scope::Send, "size_threshold")
    );
    let receive = ReceiveOptions::new();
    assert_eq!(
        receive.get_download_timeout().as_millis() as u64,
        number(Scope::Receive, "download_timeout")
    );
    assert_eq!(
        receive.get_max_download_size(),
        number(Scope::Receive, "max_download_size")
    );
    assert_eq!(
        receive.get_max_table_rows(),
        number(Scope::Receive, "max_table_rows")
    );
    assert_eq!(
        receive.get_max_envelope_download_size(),
        4 * number(Scope::Receive, "max_download_size")
    );
}

#[test]
fn user_without_password_is_refused_at_connect() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for options in [
        ConnectOptions::new("nats://127.0.0.1:1").user("alice"),
        ConnectOptions::new("nats://127.0.0.1:1").password("pw"),
        ConnectOptions::new("nats://127.0.0.1:1").tls_client_key("key.pem"),
    ] {
        let Err(err) = runtime.block_on(options.connect()) else {
            panic!("connecting with one of a pair was not refused");
        };
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
        assert!(err.to_string().contains("go together"), "{err}");
    }
}
