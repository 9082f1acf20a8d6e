//! The fuzz targets: sans-I/O entry points of the core, each with the
//! invariants its results must keep (checked with `assert!`, so a broken one
//! is a panic the harness reports).

pub mod envelope;
pub mod payload;
pub mod table_json;
pub mod url_policy;

use crate::harness::Target;

/// Every target, in the order `all` runs them.
pub fn all() -> Vec<Target> {
    vec![
        envelope::target(),
        payload::target(),
        table_json::target(),
        url_policy::target(),
    ]
}

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    all().into_iter().find(|target| target.name == name)
}
