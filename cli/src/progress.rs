//! Progress of link payload uploads and downloads on stderr: a bar per
//! payload (bytes, rate, ETA) when stderr is a terminal, a few plain status
//! lines (start, each quarter, done) when it is not, and nothing with
//! `--json` (the core reports; this only draws).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use natsbridge::store::{Direction, Progress, TransferProgress};

/// The reporter for a command: `None` with `--json`.
pub fn reporter(json: bool) -> Option<Progress> {
    if json {
        return None;
    }
    if std::io::stderr().is_terminal() {
        Some(bars())
    } else {
        Some(lines())
    }
}

type Key = (bool, String);

fn key(progress: &TransferProgress<'_>) -> Key {
    (
        progress.direction == Direction::Upload,
        progress.dataname.to_owned(),
    )
}

fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Upload => "uploading",
        Direction::Download => "downloading",
    }
}

/// indicatif bars, one per payload in flight, removed from the map when done.
fn bars() -> Progress {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bars: Arc<Mutex<HashMap<Key, ProgressBar>>> = Arc::default();
    Progress::new(move |progress| {
        let mut bars = bars.lock().unwrap_or_else(|poison| poison.into_inner());
        let bar = bars.entry(key(progress)).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(progress.total));
            bar.set_style(style.clone());
            bar.set_prefix(format!(
                "{} {}",
                verb(progress.direction),
                crate::terminal_safe(progress.dataname)
            ));
            bar
        });
        // A retried transfer starts again from 0: the bar follows.
        bar.set_position(progress.done);
        if progress.done >= progress.total {
            bar.finish();
            bars.remove(&key(progress));
        }
    })
}

/// Plain lines: when a transfer starts, at each quarter, and when it ends.
fn lines() -> Progress {
    let quarters: Arc<Mutex<HashMap<Key, u64>>> = Arc::default();
    Progress::new(move |progress| {
        let quarter = match progress.total {
            0 => 4,
            total => progress.done.min(total) * 4 / total,
        };
        let mut seen = quarters.lock().unwrap_or_else(|poison| poison.into_inner());
        let last = seen.get(&key(progress)).copied();
        if last.is_some_and(|last| last >= quarter) {
            return;
        }
        if quarter >= 4 {
            seen.remove(&key(progress));
        } else {
            seen.insert(key(progress), quarter);
        }
        crate::status(&format!(
            "{} {}: {}% ({} of {} bytes)",
            verb(progress.direction),
            progress.dataname,
            quarter * 25,
            progress.done,
            progress.total
        ));
    })
}
