//! `backprop train --distributed` under `mpirun -n R`: synchronous data-parallel training on
//! MPI (feature `mpi`). Every rank loads the data and builds the same run; the library's
//! trainer shards each global batch across ranks and calls [`Mpi`]'s all-reduce to sum the
//! gradients (`backprop::train::GradientReduce`; the arithmetic is in the library's
//! `train/distributed.rs`). Rank 0 alone prints and writes the model, checkpoints, history and
//! plot. An error on any rank during training aborts the whole job (MPI_Abort), and a rank that
//! dies makes mpirun stop the others: no rank is left waiting in a collective.

use crate::args::TrainArgs;
use crate::errln;
use anyhow::{bail, Context, Result};
use backprop::pipeline::Network;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};
use mpi::Threading;

/// Test hook: `RANK:STEP` makes that rank abort (SIGABRT, as a crash) at its STEP-th gradient
/// all-reduce (1-based, counted over the whole run), to test what the other ranks do.
const FAULT_ENV: &str = "BACKPROP_MPI_FAULT";

/// `MPI_COMM_WORLD` as the trainer's gradient reduction.
struct Mpi {
    world: SimpleCommunicator,
    scratch32: Vec<f32>,
    scratch64: Vec<f64>,
    steps: usize,
    fault: Option<(usize, usize)>,
}

impl backprop::train::GradientReduce for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum_f32(&mut self, buf: &mut [f32]) -> backprop::Result<()> {
        self.steps += 1;
        if self.fault == Some((self.rank(), self.steps)) {
            errln!(
                "rank {}: {FAULT_ENV}: aborting at step {}",
                self.rank(),
                self.steps
            );
            std::process::abort();
        }
        self.scratch32.clear();
        self.scratch32.extend_from_slice(buf);
        self.world
            .all_reduce_into(&self.scratch32[..], buf, SystemOperation::sum());
        Ok(())
    }

    fn all_reduce_sum_f64(&mut self, buf: &mut [f64]) -> backprop::Result<()> {
        self.scratch64.clear();
        self.scratch64.extend_from_slice(buf);
        self.world
            .all_reduce_into(&self.scratch64[..], buf, SystemOperation::sum());
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
        steps: 0,
        fault,
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
    // every collective is done: what is left (writing files, the summary) is rank 0's
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
