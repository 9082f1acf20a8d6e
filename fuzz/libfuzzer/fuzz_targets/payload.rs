#![no_main]
//! `payload` under libFuzzer: the harness's rules (no panic, heap within
//! budget, not slow) turned into crashes libFuzzer records.

use libfuzzer_sys::fuzz_target;
use natsbridge_fuzz::harness::{Outcome, run_guarded};
use natsbridge_fuzz::targets::payload;

fuzz_target!(|data: &[u8]| {
    if let Outcome::Failed(failure) = run_guarded(&payload::target(), data).outcome {
        panic!("payload: {failure}");
    }
});
