//! Ctrl-C and SIGTERM during training: the first sets a flag that the trainer checks after every
//! batch (it then stops, saves the model, checkpoint, history and plot, and exits 130); a
//! second one, while the first is being handled, exits at once with 130.

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // order matters: the conditional exit is armed before the flag, so the first signal
        // only sets the flag and the second (flag already set) exits
        flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))
            .context("installing the signal handler")?;
        flag::register(sig, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    Ok(stop)
}
