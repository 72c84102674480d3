//! A persistent pool of worker threads that spin briefly before they sleep.
//!
//! [`run`]`(parts, f)` calls `f(0), f(1), …, f(parts − 1)` — each part claimed by whichever
//! thread is free, the caller included — and returns when all are done. Callers split their OUTPUT into the parts
//! (rows of a product, ranges of a parameter), never a sum, so every value is computed by the
//! same instructions whichever thread runs it: results do not depend on the thread count.
//!
//! Why not rayon: a rayon worker that has gone to sleep takes tens of µs to wake, more than a
//! whole product of the benchmark MLP at batch 32. The workers here spin on an atomic counter
//! for about [`SPIN`] iterations (tens of µs) after each job before parking, so the steps of a
//! training loop — products, element-wise passes, the optimizer — keep them awake, and a job
//! starts on a spinning worker in well under a µs. One caller at a time: a second thread that
//! calls [`run`] while the pool is busy runs all its parts itself (same results).
//!
//! On wasm32 there are no threads: [`run`] calls the parts in order.

/// Spin iterations before a worker parks (each a `spin_loop` hint, ~10–40 ns).
#[cfg(not(target_arch = "wasm32"))]
const SPIN: u32 = 1 << 14;

/// Parts run so far on a worker thread (not the caller): lets a test check that a second
/// thread really worked.
static WORKER_PARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Internal, for tests: how many parts of pool jobs (in this process) ran on a worker thread
/// rather than on the calling thread. Not part of the stable API.
#[doc(hidden)]
pub fn worker_parts() -> usize {
    WORKER_PARTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The machine's cores, asked once: `available_parallelism` reads the cgroup quota files on
/// every call (allocating), too slow for a question asked before every product.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Calls `f(i)` for every `i < parts`, spread over up to [`super::num_threads`] threads.
pub(crate) fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let threads = super::num_threads().min(parts);
        if threads > 1 {
            if let Some(p) = imp::pool() {
                // a job that panicked (and was caught by the caller) poisons `busy`: the pool is
                // still sound (`run` waited for every part), so take the lock and clear the mark
                // rather than run serially from then on
                let busy = match p.busy.try_lock() {
                    Ok(g) => Some(g),
                    Err(std::sync::TryLockError::Poisoned(e)) => {
                        p.busy.clear_poison();
                        Some(e.into_inner())
                    }
                    Err(std::sync::TryLockError::WouldBlock) => None,
                };
                if let Some(_busy) = busy {
                    return p.run(threads, parts, f);
                }
            }
        }
    }
    for i in 0..parts {
        f(i);
    }
}

/// Splits `0..len` into at most [`super::num_threads`] contiguous ranges of at least `min`
/// elements (multiples of 16) and calls `f` on each through [`run`]: for element-wise passes
/// where every output element depends only on the same element of the inputs.
pub(crate) fn ranges(len: usize, min: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
    let threads = super::num_threads().min(len / min.max(1)).max(1);
    if threads == 1 {
        return f(0..len);
    }
    let step = len.div_ceil(threads).div_ceil(16) * 16;
    run(len.div_ceil(step), &|i| {
        f(i * step..((i + 1) * step).min(len))
    });
}

/// Splits rows `0..rows` (of `width` elements each) into at most [`super::num_threads`]
/// contiguous ranges of at least `min` elements and calls `f` on each through [`run`]: for
/// passes that write whole rows of an output (e.g. gathering a batch).
pub(crate) fn rows(
    rows: usize,
    width: usize,
    min: usize,
    f: &(dyn Fn(std::ops::Range<usize>) + Sync),
) {
    let threads = super::num_threads()
        .min(rows * width / min.max(1))
        .min(rows)
        .max(1);
    if threads == 1 {
        return f(0..rows);
    }
    let step = rows.div_ceil(threads);
    run(rows.div_ceil(step), &|i| {
        f(i * step..((i + 1) * step).min(rows))
    });
}

/// A raw pointer that threads working on disjoint ranges of one slice may share.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub *mut f32);
// SAFETY: users only touch disjoint ranges from different threads (see `ranges`).
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// Elements `r` of the slice this pointer was taken from.
    ///
    /// # Safety
    /// `r` must lie inside that slice, and no other live reference may overlap it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, r: std::ops::Range<usize>) -> &mut [f32] {
        std::slice::from_raw_parts_mut(self.0.add(r.start), r.len())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::SPIN;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Condvar, Mutex, OnceLock};

    /// A job as the workers see it: the closure with its lifetime erased (see `Pool::run`).
    #[derive(Clone, Copy)]
    struct Job {
        f: *const (dyn Fn(usize) + Sync),
        threads: usize,
        parts: usize,
        generation: u64,
    }
    // SAFETY: the closure is `Sync`, and `Pool::run` keeps it alive until every claimed part
    // is done; no part can be claimed after that (see `claim`).
    unsafe impl Send for Job {}

    pub(super) struct Pool {
        /// Held by the thread whose job is running.
        pub(super) busy: Mutex<()>,
        job: Mutex<Option<Job>>,
        /// Bumped once per job; workers wait for it to change.
        generation: AtomicU64,
        /// The current job's generation (high 32 bits) and next unclaimed part (low 32 bits).
        /// Parts are claimed one at a time by whichever thread is free — the caller included —
        /// so a worker that the OS has not scheduled (an oversubscribed machine) delays nothing
        /// but the parts it has already claimed.
        ticket: AtomicU64,
        /// Parts of the current job finished.
        done: AtomicUsize,
        sleepers: AtomicUsize,
        panicked: AtomicBool,
        wake: Condvar,
        sleep: Mutex<()>,
        workers: usize,
    }

    static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();

    /// The pool, started on first use with one worker per extra core (`None` if no thread
    /// could be spawned).
    pub(super) fn pool() -> Option<&'static Pool> {
        *POOL.get_or_init(|| {
            let cores = super::cores();
            let workers = cores.saturating_sub(1).max(1);
            let p: &'static Pool = Box::leak(Box::new(Pool {
                busy: Mutex::new(()),
                job: Mutex::new(None),
                generation: AtomicU64::new(0),
                ticket: AtomicU64::new(0),
                done: AtomicUsize::new(0),
                sleepers: AtomicUsize::new(0),
                panicked: AtomicBool::new(false),
                wake: Condvar::new(),
                sleep: Mutex::new(()),
                workers,
            }));
            for id in 1..=workers {
                let spawned = std::thread::Builder::new()
                    .name(format!("backprop-worker-{id}"))
                    .spawn(move || p.work(id));
                if spawned.is_err() {
                    return None;
                }
            }
            Some(p)
        })
    }

    impl Pool {
        /// The next part of job `generation`, if any is left.
        fn claim(&self, generation: u64, parts: usize) -> Option<usize> {
            let tag = generation & 0xffff_ffff;
            let mut t = self.ticket.load(SeqCst);
            loop {
                let next = (t & 0xffff_ffff) as usize;
                if t >> 32 != tag || next >= parts {
                    return None;
                }
                match self.ticket.compare_exchange(t, t + 1, SeqCst, SeqCst) {
                    Ok(_) => return Some(next),
                    Err(now) => t = now,
                }
            }
        }

        /// Runs `parts` parts on up to `threads` threads (the caller and `threads − 1`
        /// workers); the caller holds `busy`.
        pub(super) fn run(&self, threads: usize, parts: usize, f: &(dyn Fn(usize) + Sync)) {
            let threads = threads.min(self.workers + 1);
            // SAFETY (lifetime erasure): this function does not return before `done` counts
            // every part, and once all parts are claimed no thread calls `f` again.
            let f: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
            let generation = self.generation.load(SeqCst) + 1;
            *self.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(Job {
                f,
                threads,
                parts,
                generation,
            });
            self.done.store(0, SeqCst);
            self.ticket.store((generation & 0xffff_ffff) << 32, SeqCst);
            self.generation.store(generation, SeqCst);
            if self.sleepers.load(SeqCst) > 0 {
                let _g = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
                self.wake.notify_all();
            }
            let mut own = Ok(());
            while let Some(i) = self.claim(generation, parts) {
                // SAFETY: `f` is alive (it is our argument).
                let r =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*f)(i) }));
                if own.is_ok() {
                    own = r;
                }
                self.done.fetch_add(1, SeqCst);
            }
            let mut spins = 0u32;
            while self.done.load(SeqCst) != parts {
                if spins < SPIN {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            if let Err(e) = own {
                std::panic::resume_unwind(e);
            }
            if self.panicked.swap(false, SeqCst) {
                panic!("a backprop worker thread panicked");
            }
        }

        fn work(&self, id: usize) {
            let mut seen = 0u64;
            loop {
                let mut spins = 0u32;
                loop {
                    let g = self.generation.load(SeqCst);
                    if g != seen {
                        seen = g;
                        break;
                    }
                    if spins < SPIN {
                        std::hint::spin_loop();
                        spins += 1;
                        continue;
                    }
                    let guard = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
                    self.sleepers.fetch_add(1, SeqCst);
                    if self.generation.load(SeqCst) == seen {
                        drop(self.wake.wait(guard).unwrap_or_else(|e| e.into_inner()));
                    }
                    self.sleepers.fetch_sub(1, SeqCst);
                    spins = 0;
                }
                let job = *self.job.lock().unwrap_or_else(|e| e.into_inner());
                let Some(job) = job else { continue };
                if id >= job.threads {
                    continue;
                }
                while let Some(i) = self.claim(job.generation, job.parts) {
                    // SAFETY: the part was claimed, so the caller is still waiting for it.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
                        (*job.f)(i)
                    }));
                    if r.is_err() {
                        self.panicked.store(true, SeqCst);
                    }
                    super::WORKER_PARTS.fetch_add(1, SeqCst);
                    self.done.fetch_add(1, SeqCst);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_part_runs_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let hits: Vec<AtomicUsize> = (0..7).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..100 {
            super::run(7, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
        }
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 100));
    }

    /// A panic in a part reaches the caller, and the pool stays a pool afterwards (it used to
    /// turn serial for good: the panic poisoned its lock).
    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn a_panicking_job_leaves_the_pool_usable() {
        if crate::tensor::num_threads() < 2 {
            return; // one core: the pool is never used
        }
        let r = std::panic::catch_unwind(|| {
            super::run(4, &|i| assert!(i != 2, "part 2 fails"));
        });
        assert!(r.is_err(), "the panic reaches the caller");
        let pool = super::imp::pool().expect("a pool on a machine with 2 threads");
        super::run(4, &|_| {});
        assert!(!pool.busy.is_poisoned(), "the pool's lock is usable again");
    }
}
