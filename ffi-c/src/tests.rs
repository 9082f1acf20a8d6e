//! Checks that tie the committed header to this crate: it is what cbindgen
//! generates now, and its version macros are the workspace's version.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ffi-c sits in the repository root")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// `version = "..."` of the root manifest's `[workspace.package]` table.
fn workspace_version() -> String {
    let manifest = read(&repository().join("Cargo.toml"));
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(value) = line.strip_prefix("version") {
            let value = value.trim_start().trim_start_matches('=').trim();
            return value.trim_matches('"').to_owned();
        }
    }
    panic!("no version in [workspace.package] of the root Cargo.toml");
}

/// The value of `#define NAME value` in the committed header.
fn header_define(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("include/natsbridge.h has no #define {name}"))
        .trim()
        .to_owned()
}

#[test]
fn committed_header_is_what_cbindgen_generates() {
    let script = repository().join("ffi-c/generate-header.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
    assert!(
        output.status.success(),
        "the committed header differs from a fresh generation:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn header_version_macros_are_the_workspace_version() {
    let header = read(&repository().join("include/natsbridge.h"));
    let from_header = format!(
        "{}.{}.{}",
        header_define(&header, "NATSBRIDGE_VERSION_MAJOR"),
        header_define(&header, "NATSBRIDGE_VERSION_MINOR"),
        header_define(&header, "NATSBRIDGE_VERSION_PATCH"),
    );
    assert_eq!(from_header, workspace_version());
    // SAFETY: nb_version returns a static C string.
    let runtime = unsafe { CStr::from_ptr(crate::nb_version()) };
    assert_eq!(runtime.to_str().unwrap(), workspace_version());
}

#[test]
fn header_codes_are_the_core_c_codes() {
    let header = read(&repository().join("include/natsbridge.h"));
    for kind in natsbridge::ErrorKind::ALL {
        let name = format!("NB_ERR_{}", kind.code());
        assert_eq!(
            header_define(&header, &name),
            kind.c_code().to_string(),
            "{name}"
        );
    }
    assert_eq!(header_define(&header, "NB_OK"), "0");
}

/// Every `NB_ERR_` constant of the header (so of `src/error.rs`, which
/// cbindgen copies) is a kind of the core's table with its number: nothing
/// extra, nothing renumbered, no retired number.
#[test]
fn header_has_no_code_the_core_table_lacks() {
    let header = read(&repository().join("include/natsbridge.h"));
    let mut seen = 0;
    for line in header.lines() {
        let Some(rest) = line.strip_prefix("#define NB_ERR_") else {
            continue;
        };
        let (code, number) = rest.split_once(' ').expect("#define NAME value");
        let number: i32 = number.trim().parse().expect("a literal number");
        let kind = natsbridge::ErrorKind::from_code(code)
            .unwrap_or_else(|| panic!("NB_ERR_{code} is not a kind of the core's error table"));
        assert_eq!(kind.c_code(), number, "NB_ERR_{code}");
        assert!(!natsbridge::ErrorKind::RESERVED_C_CODES.contains(&number));
        seen += 1;
    }
    assert_eq!(seen, natsbridge::ErrorKind::ALL.len());
}

// ---------------------------------------------------------------- option schema parity

/// `docs/options.json`, read at run time: rows added later are checked too.
fn schema_rows() -> Vec<serde_json::Value> {
    let text = read(&repository().join("docs/options.json"));
    let document: serde_json::Value = serde_json::from_str(&text).expect("docs/options.json");
    document["options"].as_array().expect("options").clone()
}

/// Options of the schema that have no setter on an options object of the C
/// ABI, each with the reason.
const NOT_SETTERS: &[(&str, &str, &str)] = &[
    (
        "subscribe",
        "queue",
        "the `group` argument of nb_client_queue_subscribe, nb_client_queue_subscribe_callback \
         and nb_client_subscribe_notify",
    ),
    (
        "subscribe",
        "concurrent_receives",
        "C subscriptions decode one envelope at a time: the ABI has no subscription options \
         object yet (left for a later change, noted in docs/notes/cjl-options.md)",
    ),
];

/// Setters of the header that are not `nb_<scope>_options_set_<name>` of an
/// option, each with why it exists.
const OTHER_SETTERS: &[(&str, &str)] = &[
    (
        "nb_connect_options_set_json",
        "the generic setter: any connect option by name",
    ),
    (
        "nb_send_options_set_json",
        "the generic setter: any send option by name",
    ),
    (
        "nb_receive_options_set_json",
        "the generic setter: any receive option by name",
    ),
    (
        "nb_consume_options_set_json",
        "the generic setter: any consumer option by name",
    ),
    (
        "nb_connect_options_set_user_password",
        "user and password in one call (kept)",
    ),
    (
        "nb_connect_options_add_tls_ca_file",
        "the older name of set_tls_ca_file (kept)",
    ),
    (
        "nb_connect_options_set_object_store_ttl_s",
        "deprecated: seconds, before the schema",
    ),
    (
        "nb_receive_options_set_request_timeout_ms",
        "deprecated: renamed download_timeout_ms",
    ),
    (
        "nb_send_options_set_upload_queue",
        "fileserver_upload_handler for event-loop bindings",
    ),
    (
        "nb_receive_options_set_download_queue",
        "fileserver_download_handler for event-loop bindings",
    ),
];

/// The C setter of a callback option (a function pointer, not a value).
const HANDLER_SETTERS: &[(&str, &str)] = &[
    (
        "fileserver_upload_handler",
        "nb_send_options_set_upload_handler",
    ),
    (
        "fileserver_download_handler",
        "nb_receive_options_set_download_handler",
    ),
];

/// The C setter an option of `scope` with `name` and `kind` must have.
fn setter_name(scope: &str, name: &str, kind: &str) -> String {
    match kind {
        "strings" | "token_map" => {
            // English plurals: `prefixes` -> `prefix`, `origins` -> `origin`.
            let singular = name
                .strip_suffix("xes")
                .map(|stem| format!("{stem}x"))
                .unwrap_or_else(|| name.strip_suffix('s').unwrap_or(name).to_owned());
            format!("nb_{scope}_options_add_{singular}")
        }
        "object" => format!("nb_{scope}_options_set_{name}_json"),
        "milliseconds" => format!("nb_{scope}_options_set_{name}_ms"),
        "callback" => HANDLER_SETTERS
            .iter()
            .find(|(option, _)| *option == name)
            .unwrap_or_else(|| panic!("callback option {name} has no C handler setter listed"))
            .1
            .to_owned(),
        _ => format!("nb_{scope}_options_set_{name}"),
    }
}

/// What the doc comment of an option's setter must say about its default
/// (and, for a number with a unit, the unit).
fn default_phrase(option: &serde_json::Value) -> String {
    let default = &option["default"];
    match default {
        serde_json::Value::Null => "unset by default".to_owned(),
        serde_json::Value::Bool(value) => format!("default {value}"),
        serde_json::Value::Number(value) => match option["unit"].as_str() {
            Some(unit) => format!("default {value} {unit}"),
            None => format!("default {value}"),
        },
        serde_json::Value::String(value) => format!("default {value:?}"),
        serde_json::Value::Object(derived) => {
            format!(
                "default: {}",
                derived["derived"].as_str().expect("derived text")
            )
        }
        other => panic!("unexpected default {other}"),
    }
}

/// Each function of the header: (name, its doc comment on one line, its
/// declaration on one line).
fn header_functions(header: &str) -> Vec<(String, String, String)> {
    let mut functions = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    let mut lines = header.lines();
    while let Some(line) = lines.next() {
        if let Some(comment) = line.strip_prefix("//") {
            doc.push(comment.trim());
            continue;
        }
        let starts_decl = !line.starts_with(' ')
            && !line.starts_with('#')
            && !line.starts_with('}')
            && line.contains(" nb_")
            && line.contains('(');
        if !starts_decl {
            doc.clear();
            continue;
        }
        let mut declaration = line.to_owned();
        while !declaration.trim_end().ends_with(';') && !declaration.contains('{') {
            let Some(next) = lines.next() else { break };
            declaration.push(' ');
            declaration.push_str(next.trim());
        }
        let before_paren = &declaration[..declaration.find('(').expect("(")];
        let name = before_paren
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("")
            .to_owned();
        functions.push((name, doc.join(" "), declaration));
        doc.clear();
    }
    functions
}

#[test]
fn header_has_a_setter_for_every_option_of_the_schema_and_no_other() {
    let header = read(&repository().join("include/natsbridge.h"));
    let functions = header_functions(&header);
    let find = |name: &str| functions.iter().find(|(f, _, _)| f == name);
    let mut expected = Vec::new();
    for option in schema_rows() {
        let (scope, name, kind) = (
            option["scope"].as_str().unwrap(),
            option["name"].as_str().unwrap(),
            option["kind"].as_str().unwrap(),
        );
        if NOT_SETTERS
            .iter()
            .any(|(s, n, _)| *s == scope && *n == name)
        {
            continue;
        }
        assert!(
            ["connect", "send", "receive", "consume"].contains(&scope),
            "option {name} of scope {scope}: no C options object takes it; add a setter or \
             list it in NOT_SETTERS with the reason"
        );
        let setter = setter_name(scope, name, kind);
        let (_, doc, declaration) = find(&setter)
            .unwrap_or_else(|| panic!("option {scope} {name}: the header has no {setter}"));
        assert!(
            doc.contains(&format!("Option `{name}`")),
            "{setter}: its doc does not say `Option `{name}``: {doc}"
        );
        let phrase = default_phrase(&option);
        assert!(
            doc.contains(&phrase),
            "{setter}: its doc does not state the schema's default `{phrase}`: {doc}"
        );
        let args = &declaration[declaration.find('(').unwrap()..];
        let ok_type = match kind {
            "bool" => args.contains(" bool "),
            "count" | "bytes" | "milliseconds" => {
                args.contains("uint64_t ") || args.contains("uint32_t ") || args.contains("size_t ")
            }
            "callback" => args.contains("handler"),
            _ => args.contains("const char *"),
        };
        assert!(
            ok_type,
            "{setter}: a {kind} option takes another C type: {declaration}"
        );
        expected.push(setter);
    }
    for (name, _, _) in &functions {
        let is_setter = ["connect", "send", "receive", "consume"]
            .iter()
            .any(|scope| {
                name.starts_with(&format!("nb_{scope}_options_set_"))
                    || name.starts_with(&format!("nb_{scope}_options_add_"))
            });
        if is_setter && !expected.contains(name) {
            assert!(
                OTHER_SETTERS.iter().any(|(other, _)| other == name),
                "{name} sets no option of the schema (docs/options.json): rename it, add the \
                 option to the schema, or list it in OTHER_SETTERS with the reason"
            );
        }
    }
    for (other, _) in OTHER_SETTERS {
        assert!(
            find(other).is_some(),
            "{other} is listed but not in the header"
        );
    }
}

#[test]
fn option_schema_json_is_docs_options_json() {
    // SAFETY: a static C string.
    let text = unsafe { CStr::from_ptr(crate::nb_option_schema_json()) };
    assert_eq!(
        text.to_str().unwrap(),
        read(&repository().join("docs/options.json"))
    );
}

/// A JSON value of `kind` for the generic setters.
fn sample(kind: &str) -> &'static str {
    match kind {
        "bool" => "true",
        "count" | "bytes" | "milliseconds" => "7",
        "url" => "\"http://127.0.0.1:9\"",
        "path" => "\"/tmp\"",
        "strings" => "[\"http://127.0.0.1:9\"]",
        "token_map" => "{\"http://127.0.0.1:9\": \"t\"}",
        "object" => "{\"k\": 1}",
        _ => "\"x\"",
    }
}

/// Makes an options object with `$new`, calls `$set` on it, frees it with
/// `$free`; the status.
macro_rules! once {
    ($new:ident, $set:ident, $free:ident, $name:expr, $json:expr, $err:expr) => {{
        let mut o = std::ptr::null_mut();
        assert_eq!(crate::$new(&mut o, std::ptr::null_mut()), 0);
        let status = crate::$set(o, $name, $json, $err);
        crate::$free(o);
        status
    }};
}

/// Calls the generic setter of `scope` on a fresh options object; the
/// status and the error message.
fn set_json(scope: &str, name: &str, json: &str) -> (crate::nb_status, String) {
    use std::ffi::CString;
    let name = CString::new(name).unwrap();
    let json = CString::new(json).unwrap();
    let (name, json) = (name.as_ptr(), json.as_ptr());
    let mut err: *mut crate::nb_error = std::ptr::null_mut();
    // SAFETY: each options object is made, used once and freed here; the
    // strings live until the end of the function.
    unsafe {
        let status = match scope {
            "connect" => once!(
                nb_connect_options_new,
                nb_connect_options_set_json,
                nb_connect_options_free,
                name,
                json,
                &mut err
            ),
            "send" => once!(
                nb_send_options_new,
                nb_send_options_set_json,
                nb_send_options_free,
                name,
                json,
                &mut err
            ),
            "consume" => once!(
                nb_consume_options_new,
                nb_consume_options_set_json,
                nb_consume_options_free,
                name,
                json,
                &mut err
            ),
            _ => once!(
                nb_receive_options_new,
                nb_receive_options_set_json,
                nb_receive_options_free,
                name,
                json,
                &mut err
            ),
        };
        let message = if err.is_null() {
            String::new()
        } else {
            let text = CStr::from_ptr(crate::nb_error_message(err))
                .to_string_lossy()
                .into_owned();
            crate::nb_error_free(err);
            text
        };
        (status, message)
    }
}

#[test]
fn generic_setters_take_every_option_of_the_schema_by_both_names() {
    let invalid = natsbridge::ErrorKind::InvalidArgument.c_code();
    for option in schema_rows() {
        let (scope, name, camel, kind) = (
            option["scope"].as_str().unwrap(),
            option["name"].as_str().unwrap(),
            option["camel"].as_str().unwrap(),
            option["kind"].as_str().unwrap(),
        );
        if scope == "subscribe" {
            continue; // listed in NOT_SETTERS
        }
        if kind == "callback" {
            let (status, message) = set_json(scope, name, "null");
            assert_eq!(status, invalid, "{name}");
            assert!(message.contains(name), "{message}");
            continue;
        }
        // `deliver` reads its text (all, new, a sequence, a time).
        let value = if name == "deliver" {
            "\"new\""
        } else {
            sample(kind)
        };
        for spelled in [name, camel] {
            let (status, message) = set_json(scope, spelled, value);
            assert_eq!(status, 0, "{scope} {spelled} = {value}: {message}");
        }
        // A value of the wrong kind names the option.
        let wrong = if kind == "bool" { "3" } else { "true" };
        let (status, message) = set_json(scope, name, wrong);
        assert_eq!(status, invalid, "{scope} {name} = {wrong}");
        assert!(message.contains(name), "{message}");
    }
    let (status, message) = set_json("receive", "download_timeuot", "5");
    assert_eq!(status, invalid);
    assert!(
        message.contains("download_timeuot") && message.contains("download_timeout"),
        "{message}"
    );
    let (status, _) = set_json("receive", "base_delay", "-1");
    assert_eq!(status, invalid);
    // Values the consumer option itself refuses, each a typed error naming it.
    for (name, json) in [
        ("deliver", "\"soon\""),
        ("deliver", "\"0\""),
        ("ack_wait", "0"),
        ("durable", "\"\""),
        ("stream", "\"  \""),
    ] {
        let (status, message) = set_json("consume", name, json);
        assert_eq!(status, invalid, "consume {name} = {json}: {message}");
        assert!(message.contains(name), "{message}");
    }
    let (status, message) = set_json("send", "metadata", "{not json");
    assert_eq!(status, invalid);
    assert!(message.contains("metadata"), "{message}");
}

/// The load-time constructor in lib.rs ran: mimalloc's
/// `mi_option_arena_eager_commit` is 0 (its default is 2).
#[cfg(target_os = "linux")]
#[test]
fn mimalloc_commits_its_arenas_on_demand() {
    use libmimalloc_sys::mi_option_get;
    assert_eq!(
        unsafe { mi_option_get(crate::MI_OPTION_ARENA_EAGER_COMMIT) },
        0
    );
}
