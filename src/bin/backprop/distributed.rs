//! `backprop train --distributed` under `mpirun -n R`: synchronous data-parallel training on
//! MPI (feature `mpi`). Every rank loads the data and builds the same run; the library's
//! trainer shards each global batch across ranks and sums the gradients through [`Mpi`]
//! (`backprop::train::GradientReduce`; the arithmetic is in the library's
//! `train/distributed/`): one `MPI_Iallreduce` per gradient bucket, started while backward
//! computes the rest, and per step one blocking `MPI_Allreduce` of the last bucket followed by
//! `MPI_Waitall`; except for 2 ranks on one machine (the default there, `BACKPROP_MPI_SHARED=0`
//! turns it off), whose buckets are summed at the step's end through a shared-memory window
//! ([`Shared`]: one copy, one `MPI_Barrier`, one pass of a + b; 87–89 µs against 116 µs for
//! `MPI_Allreduce` of the 0.94 MB at best, and less exposed to a loaded machine, docs/perf.md). Rank 0 alone prints and writes the model,
//! checkpoints, history and plot. An error on any rank during training aborts the whole job
//! (MPI_Abort), and a rank that dies makes mpirun stop the others: no rank is left waiting in a
//! collective.
//!
//! The non-blocking sums use the raw C API (`mpi::ffi`), not rsmpi's
//! `immediate_all_reduce_into`: its requests borrow their buffers inside a
//! `mpi::request::scope` closure, but a bucket is started from the autograd hook and waited for
//! in a later call of the trait, so no scope can enclose both in the front. Here each bucket's
//! send and receive buffers are owned by [`Mpi`] from `MPI_Iallreduce` until `MPI_Waitall` has
//! completed it (moving a `Vec` does not move its heap buffer), and [`Mpi`]'s `Drop` waits for
//! any still in flight.

use crate::args::TrainArgs;
use crate::errln;
use anyhow::{bail, Context, Result};
use backprop::pipeline::Network;
use mpi::collective::SystemOperation;
use mpi::datatype::Equivalence;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};
use mpi::Threading;
use std::mem::MaybeUninit;

/// Test hook: `RANK:STEP` makes that rank abort (SIGABRT, as a crash) at its STEP-th gradient
/// reduction (1-based, counted over the whole run), to test what the other ranks do.
const FAULT_ENV: &str = "BACKPROP_MPI_FAULT";

/// Test hook: when set, rank 0 prints the collectives of the run on stderr at the end
/// (`mpi: S steps, W waits, B buckets, C blocking collectives; T s waiting`).
const COUNT_ENV: &str = "BACKPROP_MPI_COUNT";

/// Tuning: the gradient bucket size in bytes (default 128 KiB, the library's): buckets are
/// started as soon as they hold this much.
const BUCKET_ENV: &str = "BACKPROP_MPI_BUCKET_BYTES";

/// Tuning: `0` sums the gradients with MPI all-reduces even when both ranks of a 2-rank job are on
/// one machine (by default their sums go through a shared-memory window there, [`Shared`]).
const SHARED_ENV: &str = "BACKPROP_MPI_SHARED";

/// The gradient sums of a 2-rank job on one machine: one shared-memory window
/// (`MPI_Win_allocate_shared`) with two slots per rank. A step copies its buckets into its slot,
/// meets the other rank at one `MPI_Barrier`, and adds the other's slot into its buckets in rank
/// order: a + b on both ranks, the bits of `MPI_Allreduce`, without its copies through MPI's
/// buffers. Steps alternate between the two slots, so a rank
/// that starts the next step cannot overwrite a slot another rank is still reading (it would
/// have had to pass the next barrier, which that rank has not reached).
struct Shared {
    win: ffi::MPI_Win,
    /// Each rank's region: two slots of `slot` values.
    bases: Vec<*mut f32>,
    slot: usize,
    /// The slot of the next step.
    parity: usize,
}

impl Shared {
    /// A window of two slots of `slot` values per rank on `world` (collective).
    fn new(world: &SimpleCommunicator, slot: usize) -> Shared {
        let size = world.size() as usize;
        let bytes = (2 * slot * size_of::<f32>()) as ffi::MPI_Aint;
        let mut win = MaybeUninit::uninit();
        let mut base: *mut f32 = std::ptr::null_mut();
        let mut bases = Vec::with_capacity(size);
        // SAFETY: MPI allocates `bytes` per rank and returns each rank's region, valid until
        // MPI_Win_free (`free`); the window is locked for the shared-memory reads and writes
        unsafe {
            ffi::MPI_Win_allocate_shared(
                bytes,
                size_of::<f32>() as i32,
                ffi::RSMPI_INFO_NULL,
                world.as_raw(),
                (&raw mut base).cast(),
                win.as_mut_ptr(),
            );
            let win = win.assume_init();
            for r in 0..size {
                let (mut len, mut unit, mut p) = (0, 0, std::ptr::null_mut::<f32>());
                ffi::MPI_Win_shared_query(win, r as i32, &mut len, &mut unit, (&raw mut p).cast());
                bases.push(p);
            }
            ffi::MPI_Win_lock_all(ffi::MPI_MODE_NOCHECK as i32, win);
            Shared {
                win,
                bases,
                slot,
                parity: 0,
            }
        }
    }

    /// Replaces each of `buckets` by its sum over the ranks (every rank calls it with buckets
    /// of the same lengths).
    fn sum(&mut self, world: &SimpleCommunicator, buckets: &mut [Vec<f32>]) {
        let me = world.rank() as usize;
        let at = self.parity * self.slot;
        self.parity ^= 1;
        let mut off = at;
        for b in buckets.iter() {
            // SAFETY: `off + len` ≤ 2·slot (the caller sized the window for the step); only this
            // rank writes its region
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.bases[me].add(off), b.len()) };
            off += b.len();
        }
        // SAFETY: the window is valid and locked; sync, barrier, sync make every rank's writes
        // visible to the others before any reads
        unsafe {
            ffi::MPI_Win_sync(self.win);
            ffi::MPI_Barrier(world.as_raw());
            ffi::MPI_Win_sync(self.win);
        }
        let mut off = at;
        for b in buckets.iter_mut() {
            let n = b.len();
            // SAFETY: the other rank wrote its slot before the barrier and writes it again only
            // after the next one. One pass: this rank's values from its bucket (the same as its
            // slot's), added in rank order (a + b on both ranks, NaN payloads included)
            let other =
                unsafe { std::slice::from_raw_parts(self.bases[1 - me].add(off).cast_const(), n) };
            if me == 0 {
                b.iter_mut().zip(other).for_each(|(d, s)| *d += *s);
            } else {
                // rank 0's value first, as on rank 0 (x86 keeps the first NaN's payload)
                #[allow(clippy::assign_op_pattern)]
                b.iter_mut().zip(other).for_each(|(d, s)| *d = *s + *d);
            }
            off += n;
        }
    }

    /// Frees the window (collective).
    fn free(mut self) {
        // SAFETY: no slot is read or written after this
        unsafe {
            ffi::MPI_Win_unlock_all(self.win);
            ffi::MPI_Win_free(&mut self.win);
        }
    }
}

/// `MPI_COMM_WORLD` as the trainer's gradient reduction.
struct Mpi {
    world: SimpleCommunicator,
    scratch32: Vec<f32>,
    scratch64: Vec<f64>,
    /// The buckets in flight: (send, receive) buffers, owned until their request completes.
    flight: Vec<(Vec<f32>, Vec<f32>)>,
    /// Their requests (`MPI_REQUEST_NULL` once `MPI_Testall` has completed them).
    requests: Vec<ffi::MPI_Request>,
    /// Receive buffers for the next step, by bucket (the last step's send buffers).
    spare: Vec<Vec<f32>>,
    /// Gradient reductions so far (steps, and L-BFGS evaluations).
    steps: usize,
    /// Buckets started, waits, blocking collectives.
    count: [usize; 3],
    /// Time spent waiting for the buckets.
    waited: std::time::Duration,
    /// [`BUCKET_ENV`], if set.
    bucket_bytes: Option<usize>,
    fault: Option<(usize, usize)>,
    /// Whether the sums go through [`Shared`] (every rank on this machine, more than one).
    local: bool,
    /// The window, once the first step has sized it.
    shared: Option<Shared>,
    /// The buckets of this step, with `local`.
    held: Vec<Vec<f32>>,
}

impl Mpi {
    /// Counts a gradient reduction, and aborts there if the fault hook says so.
    fn step(&mut self) {
        self.steps += 1;
        let rank = self.world.rank() as usize;
        if self.fault == Some((rank, self.steps)) {
            errln!("rank {rank}: {FAULT_ENV}: aborting at step {}", self.steps);
            std::process::abort();
        }
    }

    /// Waits for every bucket in flight and hands their sums to `done`, in order; their send
    /// buffers become the next step's receive buffers.
    fn collect(&mut self, done: &mut Vec<Vec<f32>>) {
        let t = std::time::Instant::now();
        self.wait_all();
        self.waited += t.elapsed();
        self.spare.resize_with(self.flight.len(), Vec::new);
        for (k, (send, recv)) in self.flight.drain(..).enumerate() {
            done.push(recv);
            self.spare[k] = send;
        }
    }

    /// Waits for every bucket in flight.
    fn wait_all(&mut self) {
        if self.requests.is_empty() {
            return;
        }
        let n = self.requests.len() as i32;
        // SAFETY: every request was made by MPI_Iallreduce on buffers that `flight` owns
        // and nothing has touched since; completed ones are MPI_REQUEST_NULL, which Waitall
        // accepts
        unsafe {
            ffi::MPI_Waitall(n, self.requests.as_mut_ptr(), ffi::RSMPI_STATUSES_IGNORE);
        }
        self.requests.clear();
    }
}

impl Mpi {
    /// With `local`: sums the held buckets through the window (made, or made larger, first:
    /// collective, and every rank's step has the same length).
    fn sum_local(&mut self, done: &mut Vec<Vec<f32>>) {
        let n: usize = self.held.iter().map(Vec::len).sum();
        if self.shared.as_ref().is_none_or(|s| s.slot < n) {
            if let Some(old) = self.shared.take() {
                old.free();
            }
            self.shared = Some(Shared::new(&self.world, n));
        }
        let t = std::time::Instant::now();
        if let Some(s) = &mut self.shared {
            s.sum(&self.world, &mut self.held);
        }
        self.waited += t.elapsed();
        done.append(&mut self.held);
    }

    /// Frees the window, if any (collective: every rank, after its last step).
    fn close(&mut self) {
        if let Some(s) = self.shared.take() {
            s.free();
        }
    }
}

impl Drop for Mpi {
    fn drop(&mut self) {
        // MPI must not write into a freed buffer
        self.wait_all();
    }
}

impl backprop::train::GradientReduce for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum_f32(&mut self, buf: &mut [f32]) -> backprop::Result<()> {
        self.step();
        self.count[2] += 1;
        self.scratch32.clear();
        self.scratch32.extend_from_slice(buf);
        self.world
            .all_reduce_into(&self.scratch32[..], buf, SystemOperation::sum());
        Ok(())
    }

    fn all_reduce_sum_f64(&mut self, buf: &mut [f64]) -> backprop::Result<()> {
        self.count[2] += 1;
        self.scratch64.clear();
        self.scratch64.extend_from_slice(buf);
        self.world
            .all_reduce_into(&self.scratch64[..], buf, SystemOperation::sum());
        Ok(())
    }

    fn start_sum_f32(&mut self, send: Vec<f32>) -> backprop::Result<()> {
        if self.local {
            self.held.push(send);
            self.count[0] += 1;
            return Ok(());
        }
        let n = i32::try_from(send.len()).map_err(|_| backprop::Error::InvalidParameter {
            name: "gradient bucket",
            value: send.len().to_string(),
            expected: "at most 2³¹ − 1 values (one MPI count)",
        })?;
        let k = self.flight.len();
        let mut recv = self
            .spare
            .get_mut(k)
            .map(std::mem::take)
            .unwrap_or_default();
        recv.clear();
        recv.resize(send.len(), 0.0);
        let mut request = MaybeUninit::uninit();
        // SAFETY: both buffers hold `n` f32s and move into `flight` right after, which keeps
        // them (their heap storage does not move) until `wait_all` has completed the request
        unsafe {
            ffi::MPI_Iallreduce(
                send.as_ptr().cast(),
                recv.as_mut_ptr().cast(),
                n,
                f32::equivalent_datatype().as_raw(),
                SystemOperation::sum().as_raw(),
                self.world.as_raw(),
                request.as_mut_ptr(),
            );
            self.requests.push(request.assume_init());
        }
        self.flight.push((send, recv));
        self.count[0] += 1;
        Ok(())
    }

    fn progress(&mut self) -> backprop::Result<()> {
        if !self.requests.is_empty() {
            let mut done = 0;
            let n = self.requests.len() as i32;
            // SAFETY: as in `wait_all`; Testall only completes requests, it never waits
            unsafe {
                ffi::MPI_Testall(
                    n,
                    self.requests.as_mut_ptr(),
                    &mut done,
                    ffi::RSMPI_STATUSES_IGNORE,
                );
            }
        }
        Ok(())
    }

    fn bucket_bytes(&self) -> usize {
        self.bucket_bytes.unwrap_or(128 * 1024)
    }

    fn finish_sums_f32(
        &mut self,
        last: Vec<f32>,
        done: &mut Vec<Vec<f32>>,
    ) -> backprop::Result<()> {
        // blocking: Open MPI's tuned MPI_Allreduce beats libnbc's MPI_Iallreduce (0.80 MB
        // after a 137 KB bucket on this 2-vCPU machine: 150–180 µs against 220–270 µs for
        // both non-blocking), and it moves the buckets in flight on while it runs
        self.step();
        self.count[0] += 1;
        self.count[1] += 1;
        if self.local {
            self.held.push(last);
            self.sum_local(done);
            return Ok(());
        }
        let k = self.flight.len();
        let mut recv = self
            .spare
            .get_mut(k)
            .map(std::mem::take)
            .unwrap_or_default();
        recv.clear();
        recv.resize(last.len(), 0.0);
        let t = std::time::Instant::now();
        self.world
            .all_reduce_into(&last[..], &mut recv[..], SystemOperation::sum());
        self.waited += t.elapsed();
        self.flight.push((last, recv));
        self.collect(done);
        Ok(())
    }

    fn wait_sums_f32(&mut self, done: &mut Vec<Vec<f32>>) -> backprop::Result<()> {
        self.step();
        self.count[1] += 1;
        if self.local {
            self.sum_local(done);
        } else {
            self.collect(done);
        }
        Ok(())
    }
}

/// Runs `backprop train` as one rank of an MPI job.
pub fn train(a: &TrainArgs) -> Result<()> {
    // flag mistakes are found before MPI starts, so each rank just exits with the message
    let p = crate::train_config::pipeline(a)?;
    if has_dropout(&p.network) {
        bail!("--distributed: dropout is not supported (the ranks would draw different masks and their generators would part); train without --dropout");
    }
    if has_batch_norm(&p.network) {
        bail!("--distributed: batch norm is not supported (each rank would normalise by its own share of the batch, not the whole batch, so the run would differ from one process); train without --batch-norm");
    }
    let fault = fault_point()?;
    let bucket_bytes = match std::env::var(BUCKET_ENV) {
        Ok(v) => Some(v.parse().ok().filter(|&b: &usize| b > 0).with_context(|| {
            format!("{BUCKET_ENV}={v:?}: expected a number of bytes, at least 1")
        })?),
        Err(_) => None,
    };
    let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)
        .context("--distributed: MPI is already initialised")?;
    let world = universe.world();
    let (rank, size) = (world.rank(), world.size());
    let mut a = a.clone();
    if a.threads == 0 {
        // the cores of this machine shared among the ranks on it
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let local = world.split_shared(0).size().max(1) as usize;
        a.threads = (cores / local).max(1);
    }
    // measured for 2 ranks only (docs/perf.md); more ranks would each read every rank's slot
    let local = size == 2
        && world.split_shared(0).size() == size
        && std::env::var(SHARED_ENV).map_or(true, |v| v != "0");
    let lead = rank == 0;
    if !lead {
        (a.quiet, a.json, a.history, a.plot) = (true, false, None, None);
    }
    if lead && !a.quiet {
        errln!(
            "distributed: {size} ranks × {} thread{} each; every batch of the run is shared among them",
            a.threads,
            if a.threads == 1 { "" } else { "s" }
        );
    }
    let mut mpi = Mpi {
        world,
        scratch32: vec![],
        scratch64: vec![],
        flight: vec![],
        requests: vec![],
        spare: vec![],
        steps: 0,
        count: [0; 3],
        waited: std::time::Duration::ZERO,
        bucket_bytes,
        fault,
        local,
        shared: None,
        held: vec![],
    };
    let started = std::time::Instant::now();
    let outcome = match crate::train::fit(&a, Some(&mut mpi), lead) {
        Ok(o) => o,
        Err(e) => {
            // the error may be this rank's alone (a file it cannot read): the others would wait
            // for it in the next all-reduce, so the whole job goes
            errln!("error: rank {rank} of {size}: {e:#}");
            if size > 1 {
                mpi.world.abort(2);
            }
            return Err(crate::Exit(2).into());
        }
    };
    mpi.close();
    // every collective is done: what is left (writing files, the summary) is rank 0's
    if lead && std::env::var_os(COUNT_ENV).is_some() {
        let [buckets, waits, blocking] = mpi.count;
        errln!(
            "mpi: {} steps, {waits} waits, {buckets} buckets, {blocking} blocking collectives; {:.3} s waiting",
            mpi.steps,
            mpi.waited.as_secs_f64()
        );
    }
    let done = crate::train::finish(&a, &outcome, started);
    drop(mpi);
    drop(universe);
    done
}

fn has_dropout(n: &Network) -> bool {
    match n {
        Network::Hidden { dropout, .. } => *dropout > 0.0,
        Network::Spec(s) => s.layers.iter().any(|l| l.dropout > 0.0),
    }
}

fn has_batch_norm(n: &Network) -> bool {
    match n {
        Network::Hidden { batch_norm, .. } => *batch_norm,
        Network::Spec(s) => s.layers.iter().any(|l| l.batch_norm.is_some()),
    }
}

fn fault_point() -> Result<Option<(usize, usize)>> {
    let Ok(v) = std::env::var(FAULT_ENV) else {
        return Ok(None);
    };
    let parsed = v
        .split_once(':')
        .and_then(|(r, s)| Some((r.parse().ok()?, s.parse().ok()?)));
    parsed
        .map(Some)
        .with_context(|| format!("{FAULT_ENV}={v:?}: expected RANK:STEP"))
}
