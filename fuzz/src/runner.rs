//! The budgeted mutation loop: pick a corpus entry, mutate it, run it
//! guarded; an input whose behaviour signature is new joins the corpus.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{self, Failure, Outcome, Target, input_name, read_dir_files, run_guarded};

/// What one target's run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Inputs run (seeds included).
    pub executions: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Corpus entries loaded.
    pub seeds: usize,
    /// Inputs that showed a new behaviour signature.
    pub new_entries: usize,
    /// Distinct signatures seen.
    pub signatures: usize,
    /// The highest peak heap / input length over inputs of at least 1 KiB.
    pub worst_ratio: f64,
    /// The highest peak heap of any input, bytes.
    pub worst_peak: usize,
    /// Failures, with the file each input was written to.
    pub failures: Vec<(Failure, String)>,
}

/// Runner settings.
pub struct Settings<'a> {
    /// Time budget for this target.
    pub budget: Duration,
    /// RNG seed.
    pub seed: u64,
    /// Write new corpus entries to `corpus/<target>/`.
    pub save: bool,
    /// The `fuzz/` folder.
    pub root: &'a Path,
    /// Stop after this many failures.
    pub max_failures: usize,
}

/// Fuzzes one target for `settings.budget`.
pub fn fuzz(target: &Target, settings: &Settings<'_>) -> Report {
    let mut report = Report::default();
    let started = Instant::now();
    let crash_dir = harness::target_dir(settings.root, "crashes", target.name);
    harness::set_emergency_dir(Some(&crash_dir));
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for kind in ["corpus", "regressions"] {
        for (_, bytes) in read_dir_files(&harness::target_dir(settings.root, kind, target.name)) {
            corpus.push(bytes);
        }
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    report.seeds = corpus.len();
    let seeds = corpus.clone();
    for input in &seeds {
        step(target, input, settings, &mut report, &mut seen, &crash_dir);
    }
    while started.elapsed() < settings.budget && report.failures.len() < settings.max_failures {
        // Recent finds are picked more often: they are where new behaviour was.
        let at = if rng.u8(..3) == 0 && corpus.len() > report.seeds {
            report.seeds + rng.usize(..corpus.len() - report.seeds)
        } else {
            rng.usize(..corpus.len())
        };
        let mut child = (target.mutate)(&mut rng, &corpus[at], &corpus);
        child.truncate(target.max_len);
        if step(target, &child, settings, &mut report, &mut seen, &crash_dir)
            && corpus.len() < 20_000
        {
            if settings.save {
                let dir = harness::target_dir(settings.root, "corpus", target.name);
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(input_name(&child)), &child);
            }
            corpus.push(child);
            report.new_entries += 1;
        }
    }
    report.elapsed = started.elapsed();
    report.signatures = seen.len();
    harness::clear_emergency_dir(&crash_dir);
    report
}

/// Runs one input; true when its signature is new.
fn step(
    target: &Target,
    input: &[u8],
    settings: &Settings<'_>,
    report: &mut Report,
    seen: &mut HashSet<String>,
    crash_dir: &Path,
) -> bool {
    let _ = settings;
    let run = run_guarded(target, input);
    report.executions += 1;
    report.worst_peak = report.worst_peak.max(run.peak);
    if input.len() >= 1024 {
        report.worst_ratio = report.worst_ratio.max(run.peak as f64 / input.len() as f64);
    }
    match run.outcome {
        Outcome::Done(signature) => seen.insert(signature),
        Outcome::Failed(failure) => {
            let _ = std::fs::create_dir_all(crash_dir);
            let path = crash_dir.join(input_name(input));
            let _ = std::fs::write(&path, input);
            report.failures.push((failure, path.display().to_string()));
            false
        }
    }
}
