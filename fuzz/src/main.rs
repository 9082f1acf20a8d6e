//! `natsbridge-fuzz`: runs the fuzz targets for a time budget each.
//!
//! ```text
//! natsbridge-fuzz [--seconds N] [--seed N] [--save] TARGET... | all
//! natsbridge-fuzz seed                 write the seed corpus
//! natsbridge-fuzz minimize TARGET...   keep the smallest corpus entry per behaviour
//! natsbridge-fuzz replay TARGET FILE...
//! ```

use std::process::ExitCode;
use std::time::Duration;

use natsbridge_fuzz::harness::{self, Outcome, input_name, read_dir_files, run_guarded};
use natsbridge_fuzz::runner::{Settings, fuzz};
use natsbridge_fuzz::{root, seeds, targets};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seed") => seed(),
        Some("minimize") => minimize(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("-h" | "--help") | None => {
            eprintln!(
                "usage: natsbridge-fuzz [--seconds N] [--seed N] [--save] TARGET...|all\n       \
                 natsbridge-fuzz seed | minimize TARGET... | replay TARGET FILE...\ntargets: {}",
                targets::all()
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            ExitCode::from(2)
        }
        Some(_) => run(&args),
    }
}

fn run(args: &[String]) -> ExitCode {
    let mut seconds = 20.0f64;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut save = false;
    let mut names = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => seconds = iter.next().and_then(|v| v.parse().ok()).unwrap_or(seconds),
            "--seed" => seed = iter.next().and_then(|v| v.parse().ok()).unwrap_or(seed),
            "--save" => save = true,
            "all" => names.extend(targets::all().iter().map(|t| t.name.to_owned())),
            name => names.push(name.to_owned()),
        }
    }
    let root = root();
    let mut failed = false;
    println!(
        "{:<11} {:>10} {:>9} {:>6} {:>5} {:>6} {:>11} {:>10}  (seed {seed})",
        "target", "execs", "execs/s", "seeds", "new", "behav", "peak/input", "max peak"
    );
    for name in names {
        let Some(target) = targets::by_name(&name) else {
            eprintln!("natsbridge-fuzz: no target {name:?}");
            return ExitCode::from(2);
        };
        let settings = Settings {
            budget: Duration::from_secs_f64(seconds),
            seed,
            save,
            root: &root,
            max_failures: 5,
        };
        let report = fuzz(&target, &settings);
        println!(
            "{:<11} {:>10} {:>9.0} {:>6} {:>5} {:>6} {:>10.1}x {:>8} KiB",
            target.name,
            report.executions,
            report.executions as f64 / report.elapsed.as_secs_f64().max(1e-9),
            report.seeds,
            report.new_entries,
            report.signatures,
            report.worst_ratio,
            report.worst_peak / 1024
        );
        for (failure, path) in &report.failures {
            failed = true;
            println!(
                "  FAILURE {}: {failure}\n    input written to {path}",
                target.name
            );
        }
    }
    if failed {
        println!(
            "fuzzing found failures: fix them in the core, then move each input to fuzz/regressions/<target>/"
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn seed() -> ExitCode {
    let root = root();
    for (target, name, bytes) in seeds::all(&root) {
        let dir = harness::target_dir(&root, "corpus", target);
        if let Err(err) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(name), bytes))
        {
            eprintln!("natsbridge-fuzz: cannot write the seeds: {err}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Keeps, per behaviour signature, the smallest corpus entry (named seeds
/// are kept whatever their size); removes the rest.
fn minimize(names: &[String]) -> ExitCode {
    let root = root();
    let names: Vec<String> = if names.iter().any(|n| n == "all") || names.is_empty() {
        targets::all().iter().map(|t| t.name.to_owned()).collect()
    } else {
        names.to_vec()
    };
    for name in names {
        let Some(target) = targets::by_name(&name) else {
            eprintln!("natsbridge-fuzz: no target {name:?}");
            return ExitCode::from(2);
        };
        let dir = harness::target_dir(&root, "corpus", target.name);
        let mut best: std::collections::HashMap<String, (usize, std::path::PathBuf)> =
            Default::default();
        let mut remove = Vec::new();
        let files = read_dir_files(&dir);
        let before = files.len();
        for (path, bytes) in files {
            let named_seed = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy() != input_name(&bytes));
            let signature = match run_guarded(&target, &bytes).outcome {
                Outcome::Done(signature) => signature,
                Outcome::Failed(failure) => {
                    eprintln!("{}: {failure}", path.display());
                    return ExitCode::FAILURE;
                }
            };
            if named_seed {
                continue;
            }
            match best.get(&signature) {
                Some((len, _)) if *len <= bytes.len() => remove.push(path),
                _ => {
                    if let Some((_, old)) = best.insert(signature, (bytes.len(), path)) {
                        remove.push(old);
                    }
                }
            }
        }
        for path in &remove {
            let _ = std::fs::remove_file(path);
        }
        println!(
            "{}: {} entries, {} kept",
            target.name,
            before,
            before - remove.len()
        );
    }
    ExitCode::SUCCESS
}

fn replay(args: &[String]) -> ExitCode {
    let Some((name, files)) = args.split_first() else {
        eprintln!("usage: natsbridge-fuzz replay TARGET FILE...");
        return ExitCode::from(2);
    };
    let Some(target) = targets::by_name(name) else {
        eprintln!("natsbridge-fuzz: no target {name:?}");
        return ExitCode::from(2);
    };
    let mut failed = false;
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("{file}: {err}");
                return ExitCode::FAILURE;
            }
        };
        let run = run_guarded(&target, &bytes);
        println!(
            "{file}: {:?} (peak {} bytes, {:?})",
            run.outcome, run.peak, run.took
        );
        failed |= matches!(run.outcome, Outcome::Failed(_));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
