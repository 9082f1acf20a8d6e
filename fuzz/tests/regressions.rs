//! Replays every committed input: each crash fuzzing found
//! (`fuzz/regressions/<target>/`) and the corpus (`fuzz/corpus/<target>/`),
//! under the same rules as fuzzing (no panic, heap within budget, not slow).

use natsbridge_fuzz::harness::{Outcome, read_dir_files, run_guarded, target_dir};
use natsbridge_fuzz::{root, targets};

fn replay(kind: &str) -> usize {
    let mut count = 0;
    let mut failures = Vec::new();
    for target in targets::all() {
        for (path, bytes) in read_dir_files(&target_dir(&root(), kind, target.name)) {
            count += 1;
            if let Outcome::Failed(failure) = run_guarded(&target, &bytes).outcome {
                failures.push(format!("{}: {failure}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing inputs:\n{}",
        failures.len(),
        failures.join("\n")
    );
    count
}

#[test]
fn every_regression_input_is_handled() {
    let count = replay("regressions");
    assert!(count > 0, "fuzz/regressions/ holds no inputs");
}

#[test]
fn every_corpus_input_is_handled() {
    let count = replay("corpus");
    assert!(count >= 50, "the corpus holds only {count} inputs");
}
