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
