//! Link flags for a Node addon (undefined `napi_*` symbols resolved by the
//! host process at load time).
fn main() {
    napi_build::setup();
}
