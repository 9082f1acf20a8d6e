//! Gives the shared library a soname carrying the major version
//! (`libnatsbridge.so.0`), so programs linked against it keep finding a
//! compatible library after minor upgrades and refuse an incompatible one.
//!
//! The header is not generated here: `generate-header.sh` does that on
//! purpose, and a test checks the committed header is fresh.

fn main() {
    let major =
        std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "freebsd" || os == "netbsd" || os == "openbsd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libnatsbridge.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
