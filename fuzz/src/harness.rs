//! Running one input safely: under `catch_unwind`, with the counting
//! allocator measuring its peak, a hard allocation ceiling and a watchdog for
//! hangs. A panic, a peak over the target's budget, a hang or an input slower
//! than [`SLOW`] is a [`Failure`].

use std::fs::File;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::alloc;

/// The allowance every input gets on top of its per-byte budget: the fixed
/// costs of an error value, a parser's first buffers, a schema.
pub const BASE_ALLOWANCE: usize = 1 << 20;

/// Over this long, one input is a failure (the slowest seed takes ~2 ms).
pub const SLOW: Duration = Duration::from_secs(2);

/// A request for more than this many bytes above the budget stops the
/// process before the system allocator sees it (see [`crate::alloc`]).
const CEILING_FACTOR: usize = 8;

/// Without progress for this long, the watchdog stops the process.
const HANG: Duration = Duration::from_secs(20);

/// What running one input showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It finished; the string names the behaviour it took (the result kind,
    /// error kind and message shape), which is the runner's feedback.
    Done(String),
    /// It failed one of the harness's rules.
    Failed(Failure),
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The target panicked (a bug, or a broken oracle assertion).
    Panic(String),
    /// The input made its thread hold more heap than the budget allows.
    Memory {
        /// Peak live bytes.
        peak: usize,
        /// The budget for this input.
        budget: usize,
    },
    /// The input took longer than [`SLOW`].
    Slow(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Panic(message) => write!(f, "panic: {message}"),
            Failure::Memory { peak, budget } => {
                write!(f, "peak heap {peak} bytes over the budget of {budget}")
            }
            Failure::Slow(took) => write!(f, "one input took {took:?}"),
        }
    }
}

/// A structure-aware mutation: (rng, input, the corpus for splicing) -> mutant.
pub type Mutator = fn(&mut fastrand::Rng, &[u8], &[Vec<u8>]) -> Vec<u8>;

/// One fuzz target: a sans-I/O entry point of the core and how to mutate its inputs.
pub struct Target {
    /// Its name: the folder under `corpus/`, `regressions/` and `crashes/`.
    pub name: &'static str,
    /// Runs one input; returns the behaviour signature. Panics on a broken invariant.
    pub run: fn(&[u8]) -> String,
    /// Bytes of multiplier per input byte for the memory budget.
    pub bytes_per_input_byte: usize,
    /// Structure-aware mutation of a corpus entry (`others` for splicing).
    pub mutate: Mutator,
    /// The longest input the runner makes.
    pub max_len: usize,
}

impl Target {
    /// The memory budget for an input of `len` bytes.
    pub fn budget(&self, len: usize) -> usize {
        self.bytes_per_input_byte.saturating_mul(len) + BASE_ALLOWANCE
    }
}

/// The result of [`run_guarded`]: the outcome and the peak heap it took.
#[derive(Debug, Clone)]
pub struct Run {
    /// What happened.
    pub outcome: Outcome,
    /// Peak live heap bytes above the start.
    pub peak: usize,
    /// Wall time.
    pub took: Duration,
}

static IN_FLIGHT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static IN_FLIGHT_LEN: AtomicUsize = AtomicUsize::new(0);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);
static EMERGENCY_FILE: Mutex<Option<File>> = Mutex::new(None);

thread_local! {
    static PANIC_MESSAGE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Installs the quiet panic hook (messages are kept for the report, not
/// printed) and the hang watchdog. Idempotent.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if RUNNING.load(Ordering::Relaxed) {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let message = crate::harness::panic_text(info.payload());
                PANIC_MESSAGE
                    .with(|slot| *slot.borrow_mut() = Some(format!("{message}{location}")));
            } else {
                default(info);
            }
        }));
        std::thread::Builder::new()
            .name("fuzz-watchdog".into())
            .spawn(watchdog)
            .expect("the watchdog thread starts");
    });
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn watchdog() {
    let mut last = (u64::MAX, Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let generation = GENERATION.load(Ordering::Relaxed);
        if !RUNNING.load(Ordering::Relaxed) || generation != last.0 {
            last = (generation, Instant::now());
            continue;
        }
        if last.1.elapsed() > HANG {
            emergency_stop("an input hangs", 0);
        }
    }
}

/// Opens the file an emergency stop writes the input in flight to
/// (`dir/in-flight`); `None` closes it and removes it.
pub fn set_emergency_dir(dir: Option<&Path>) {
    let mut slot = EMERGENCY_FILE.lock().unwrap_or_else(|e| e.into_inner());
    *slot = None;
    if let Some(dir) = dir {
        let _ = std::fs::create_dir_all(dir);
        *slot = File::create(dir.join("in-flight")).ok();
    }
}

/// Removes `dir/in-flight` (and `dir` when it is then empty).
pub fn clear_emergency_dir(dir: &Path) {
    set_emergency_dir(None);
    let _ = std::fs::remove_file(dir.join("in-flight"));
    let _ = std::fs::remove_dir(dir);
}

/// Writes the input in flight to the emergency file and aborts. Called from
/// the allocator, so it must not allocate.
pub fn emergency_stop(why: &str, size: usize) -> ! {
    let ptr = IN_FLIGHT.load(Ordering::Relaxed);
    let len = IN_FLIGHT_LEN.load(Ordering::Relaxed);
    if let Ok(slot) = EMERGENCY_FILE.try_lock()
        && let Some(file) = slot.as_ref()
        && !ptr.is_null()
    {
        // SAFETY: the runner keeps the input alive and unchanged while it is in flight.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        let mut file = file;
        let _ = file.write_all(input);
    }
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(b"\nnatsbridge-fuzz: ");
    let _ = stderr.write_all(why.as_bytes());
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = size;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let _ = stderr.write_all(b" (request of ");
    let _ = stderr.write_all(&digits[at..]);
    let _ = stderr.write_all(b" bytes); the input is in crashes/<target>/in-flight\n");
    std::process::abort();
}

/// Runs `input` through `target` under every rule of the harness.
pub fn run_guarded(target: &Target, input: &[u8]) -> Run {
    install();
    let budget = target.budget(input.len());
    IN_FLIGHT.store(input.as_ptr().cast_mut(), Ordering::Relaxed);
    IN_FLIGHT_LEN.store(input.len(), Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Relaxed);
    RUNNING.store(true, Ordering::Relaxed);
    PANIC_MESSAGE.with(|slot| slot.borrow_mut().take());
    let started = Instant::now();
    let base = alloc::begin(budget.saturating_mul(CEILING_FACTOR));
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let peak = alloc::end(base);
    let took = started.elapsed();
    RUNNING.store(false, Ordering::Relaxed);
    IN_FLIGHT.store(std::ptr::null_mut(), Ordering::Relaxed);
    let outcome = match result {
        Err(payload) => {
            let message = PANIC_MESSAGE
                .with(|slot| slot.borrow_mut().take())
                .unwrap_or_else(|| panic_text(payload.as_ref()));
            Outcome::Failed(Failure::Panic(message))
        }
        Ok(_) if peak > budget => Outcome::Failed(Failure::Memory { peak, budget }),
        Ok(_) if took > SLOW => Outcome::Failed(Failure::Slow(took)),
        Ok(signature) => Outcome::Done(signature),
    };
    Run {
        outcome,
        peak,
        took,
    }
}

/// The folder of a target's files of one kind (`corpus`, `regressions`, `crashes`).
pub fn target_dir(root: &Path, kind: &str, target: &str) -> PathBuf {
    root.join(kind).join(target)
}

/// Every file of `dir`, sorted by name (none when it does not exist).
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.file_name().is_some_and(|n| n != "in-flight"))
        .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect();
    files.sort();
    files
}

/// A short stable name for an input: the first 16 hex digits of its SHA-256.
pub fn input_name(input: &[u8]) -> String {
    natsbridge::encoding::sha256_hex(input)[..16].to_owned()
}

/// A message's shape for signatures: words of letters only, so addresses,
/// sizes, digests and names taken from the input do not count as new behaviour.
pub fn shape(message: &str) -> String {
    // Quoted parts (datanames, buckets, type names) come from the input.
    let mut unquoted = String::with_capacity(message.len());
    let mut quote = None;
    for c in message.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (None, c) => unquoted.push(c),
            _ => {}
        }
    }
    let mut out = String::new();
    for word in unquoted.split(|c: char| !c.is_ascii_alphabetic()) {
        let hexlike = word.chars().all(|c| c.is_ascii_hexdigit());
        if word.len() >= 3 && !hexlike && word.chars().all(|c| c.is_ascii_lowercase()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            if out.len() > 120 {
                break;
            }
        }
    }
    out
}

/// The signature of a core error: its code and the shapes of its message and sources.
pub fn error_signature(err: &natsbridge::Error) -> String {
    let mut signature = format!("{}:{}", err.kind().code(), shape(err.message()));
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        signature.push_str(" <- ");
        signature.push_str(&shape(&cause.to_string()));
        source = cause.source();
    }
    signature
}
