//! Ctrl-C and SIGTERM during training. The first sets a flag that the trainer checks after every
//! batch (it then stops, saves the model, checkpoint, history and plot, and exits 130). More
//! signals within [`SAME_INTERRUPT`] of the first are the same interrupt: `timeout -s INT`
//! signals the process and then its whole group, so two arrive together, and a Ctrl-C pressed
//! twice in a hurry means the same. A signal after that exits at once with 130, saying that what
//! is not yet written is lost.
//!
//! The signal handler only sets the flag (async-signal-safe); the timing and the exit are done
//! by a thread that `signal_hook`'s iterator wakes.

use crate::errln;
use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;
use signal_hook::iterator::Signals;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long after the first signal another one still counts as the same interrupt.
const SAME_INTERRUPT: Duration = Duration::from_secs(1);

pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        flag::register(sig, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    let signals = Signals::new([SIGINT, SIGTERM]).context("installing the signal handler")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(signals))
        .context("starting the signal thread")?;
    Ok(stop)
}

/// Counts the signals: the first starts the interrupt, one within [`SAME_INTERRUPT`] of it is
/// part of it, a later one ends the process.
fn watch(mut signals: Signals) {
    let mut first: Option<Instant> = None;
    for _ in signals.forever() {
        match first {
            None => first = Some(Instant::now()),
            Some(t) if t.elapsed() < SAME_INTERRUPT => {}
            Some(t) => {
                errln!(
                    "interrupted again ({:.1} s after the first): exiting now, without saving what is not yet written",
                    t.elapsed().as_secs_f64()
                );
                std::process::exit(130);
            }
        }
    }
}
