//! How long a cache line takes to go from one core of the pool to the other and back: the
//! price of every hand-over between the caller and a worker (a job's start, a part's result read
//! by the other thread, the shared counters).
//!
//! On a virtual machine this is a fact of the host, not of the CPU model, and it can change while
//! a process runs: on the 2-vCPU AMD EPYC (Zen 4) VMs this project ran on, a round trip took
//! 55–90 ns when the host ran the two vCPUs on cores that share an L3 and 340–380 ns when it ran
//! them on different dies — and in the second case two threads trained the benchmark MLP at batch
//! 128 *slower* than one (docs/perf.md). The benchmark prints it beside the FMA peak, so a
//! 2-thread figure can be read against the placement it got.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Round trips per repeat.
const TRIPS: u64 = 2000;
/// Repeats; the fastest counts, as for the FMA peak.
const REPEATS: usize = 7;
/// A repeat that takes longer than this is abandoned (a thread descheduled on a busy machine).
const GIVE_UP: Duration = Duration::from_millis(100);

/// One cache line of its own: the flag the two threads hand back and forth.
#[repr(align(128))]
struct Line(AtomicU64);

/// The time for one round trip of a cache line between the pool's first two threads (the
/// caller and a worker), each waiting for the other's write before it writes: the fastest of a
/// few repeats of 2,000 trips. `None` on a machine with one core, or when the two threads could
/// not run at the same time (a busy machine). Takes a few ms. Changes the process's
/// [`super::num_threads`] for its duration (and restores it).
///
/// ```
/// if let Some(t) = backprop::tensor::core_round_trip() {
///     assert!(t > std::time::Duration::ZERO);
/// }
/// ```
pub fn core_round_trip() -> Option<Duration> {
    if super::pool::cores() < 2 {
        return None;
    }
    let before = super::gemm::threads_setting();
    super::set_num_threads(2);
    let best = (0..REPEATS).filter_map(|_| once()).min();
    super::set_num_threads(before);
    best
}

/// One repeat on two threads of the pool: part 0 writes odd numbers and waits for the next even
/// one, part 1 answers. `None` if the two parts did not run at the same time.
fn once() -> Option<Duration> {
    let arrived = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let line = Line(AtomicU64::new(0));
    let took = Mutex::new(None);
    let start = Instant::now();
    // waits until `line` holds `want`; false if the repeat was abandoned
    let wait_for = |want: u64| {
        let mut spins = 0u32;
        while line.0.load(Ordering::Acquire) != want {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024)
                && (failed.load(Ordering::Relaxed) || start.elapsed() > GIVE_UP)
            {
                failed.store(true, Ordering::Relaxed);
                return false;
            }
        }
        true
    };
    super::pool::run(2, &|part| {
        // both parts must be running: a caller that claims both would wait for itself
        arrived.fetch_add(1, Ordering::SeqCst);
        while arrived.load(Ordering::SeqCst) < 2 {
            if start.elapsed() > GIVE_UP {
                failed.store(true, Ordering::Relaxed);
                return;
            }
            std::hint::spin_loop();
        }
        if part == 0 {
            let t0 = Instant::now();
            for i in 0..TRIPS {
                line.0.store(2 * i + 1, Ordering::Release);
                if !wait_for(2 * i + 2) {
                    return;
                }
            }
            *took.lock().unwrap_or_else(|e| e.into_inner()) = Some(t0.elapsed() / TRIPS as u32);
        } else {
            for i in 0..TRIPS {
                if !wait_for(2 * i + 1) {
                    return;
                }
                line.0.store(2 * i + 2, Ordering::Release);
            }
        }
    });
    if failed.load(Ordering::Relaxed) {
        return None;
    }
    took.into_inner().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_is_measured_on_two_cores() {
        let t = core_round_trip();
        if super::super::pool::cores() < 2 {
            assert_eq!(t, None);
            return;
        }
        // a busy test machine may not give both threads a core at once; when it does, a round
        // trip is well under a millisecond (tens to hundreds of ns)
        if let Some(t) = t {
            assert!(t > Duration::ZERO && t < Duration::from_millis(1), "{t:?}");
        }
    }
}
