//! `backprop train --distributed` under `mpirun` (feature `mpi`; needs Open MPI's `mpirun` on the
//! PATH): R ranks give the 1-process model (every weight within 1e-5 relative), two R-rank runs
//! give the same bytes, one rendezvous per step, 3 ranks share an uneven last batch, a rank
//! that dies stops the job quickly, and its checkpoint resumes with another number of ranks
//! (1 and 3).
//! Run: `cargo test --features mpi --test suite mpi::` (as root mpirun needs --allow-run-as-root,
//! which these tests pass).

#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_needs_the_mpi_build() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_backprop"))
        .args(["train", "--distributed", "--epochs", "1", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--features mpi"), "{err}");
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use backprop::io::{Checkpoint, Model};
    use backprop::Rng;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    const BATCH: &str = "16";
    const EPOCHS: usize = 6;

    /// 101 rows of 6 features and 3 classes (with --val-split 0.1: 91 training rows, so batches
    /// of 16 end with one of 11, shared 3/4/4 by 3 ranks).
    fn data_dir() -> &'static Path {
        static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let mut rng = Rng::seed(11);
            let mut csv = String::from("a,b,c,d,e,f,y\n");
            for i in 0..101 {
                let x: Vec<f32> = (0..6).map(|_| rng.normal()).collect();
                let y = (i % 3) as f32;
                let row: Vec<String> = x.iter().map(|v| format!("{:.4}", v + 0.8 * y)).collect();
                csv += &format!("{},k{}\n", row.join(","), i % 3);
            }
            std::fs::write(dir.path().join("data.csv"), csv).unwrap();
            dir
        })
        .path()
    }

    fn train_args(out: &Path, epochs: usize) -> Vec<String> {
        let data = data_dir().join("data.csv");
        let args = [
            "train",
            data.to_str().unwrap(),
            "--hidden",
            "12",
            "--optimizer",
            "sgd",
            "--lr",
            "0.05",
            "--momentum",
            "0.9",
            "--batch-size",
            BATCH,
            "--epochs",
            &epochs.to_string(),
            "--seed",
            "3",
            "--checkpoint-every",
            "1",
            "--quiet",
            "--threads",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--history",
            &format!("{}.history.csv", out.display()),
        ];
        args.iter().map(|s| s.to_string()).collect()
    }

    /// Runs `cmd` and kills it after `limit`.
    fn run_for(mut cmd: Command, limit: Duration) -> (Output, Duration) {
        let start = Instant::now();
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mpirun (Open MPI) on the PATH: see .ci/mpi.sh");
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > limit {
                child.kill().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (child.wait_with_output().unwrap(), start.elapsed())
    }

    fn mpirun(ranks: usize, args: &[String], env: &[(&str, &str)]) -> (Output, Duration) {
        let mut cmd = Command::new("mpirun");
        cmd.args([
            "-n",
            &ranks.to_string(),
            "--allow-run-as-root",
            "--oversubscribe",
        ])
        .args(["--mca", "btl_vader_single_copy_mechanism", "none"])
        .arg(env!("CARGO_BIN_EXE_backprop"))
        .args(args)
        .arg("--distributed");
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_for(cmd, Duration::from_secs(120))
    }

    fn ok(o: &Output) {
        assert!(
            o.status.success(),
            "{}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// One training run's model (and its directory, kept alive).
    struct Run {
        dir: tempfile::TempDir,
    }

    impl Run {
        fn model(&self) -> PathBuf {
            self.dir.path().join("m.safetensors")
        }
        fn params(&self) -> Vec<f32> {
            let m = Model::load(self.model()).unwrap();
            m.params
                .tensors()
                .iter()
                .flat_map(|t| t.data().to_vec())
                .collect()
        }
        /// The history without its wall-time column.
        fn history(&self) -> String {
            let h = std::fs::read_to_string(format!("{}.history.csv", self.model().display()));
            h.unwrap()
                .lines()
                .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
                .collect()
        }
    }

    fn train(ranks: Option<usize>, extra: &[&str], env: &[(&str, &str)]) -> (Run, Output) {
        let dir = tempfile::tempdir().unwrap();
        let run = Run { dir };
        let mut args = train_args(&run.model(), EPOCHS);
        if extra.contains(&"--threads") {
            let at = args.iter().position(|a| a == "--threads").unwrap();
            args.drain(at..at + 2);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = match ranks {
            Some(r) => mpirun(r, &args, env).0,
            None => {
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_backprop"));
                cmd.args(&args);
                run_for(cmd, Duration::from_secs(120)).0
            }
        };
        (run, out)
    }

    /// Options whose result would depend on the number of ranks are refused before MPI starts.
    #[test]
    fn dropout_and_batch_norm_are_refused() {
        for (flags, why) in [
            (&["--dropout", "0.2"][..], "dropout is not supported"),
            (&["--batch-norm"][..], "batch norm is not supported"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut args = train_args(&dir.path().join("m.safetensors"), 2);
            args.push("--distributed".into());
            args.extend(flags.iter().map(|s| s.to_string()));
            let out = Command::new(env!("CARGO_BIN_EXE_backprop"))
                .args(args)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{flags:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(why), "{flags:?}: {err}");
            assert!(!dir.path().join("m.safetensors").exists());
        }
    }

    /// The 1-process and the 2-rank runs, shared by the tests.
    fn reference() -> &'static (Run, Run) {
        static R: OnceLock<(Run, Run)> = OnceLock::new();
        R.get_or_init(|| {
            let (one, o) = train(None, &[], &[]);
            ok(&o);
            let (two, o) = train(Some(2), &[], &[]);
            ok(&o);
            (one, two)
        })
    }

    fn assert_close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len());
        let mut worst = 0.0f32;
        for (x, y) in a.iter().zip(b) {
            let rel = (x - y).abs() / x.abs().max(y.abs()).max(1e-3);
            worst = worst.max(rel);
        }
        assert!(
            worst <= 1e-5,
            "{what}: a weight differs by {worst:e} relative"
        );
    }

    #[test]
    fn two_ranks_train_the_one_process_model() {
        let (one, two) = reference();
        assert_close(&one.params(), &two.params(), "2 ranks vs 1 process");
        // the reported metrics are global: the whole training set's, not rank 0's half
        let (h1, h2) = (one.history(), two.history());
        assert_eq!(h1.lines().count(), EPOCHS + 1);
        for (a, b) in h1.lines().zip(h2.lines()).skip(1) {
            let nums =
                |l: &str| -> Vec<f32> { l.split(',').filter_map(|v| v.parse().ok()).collect() };
            assert_close(&nums(a), &nums(b), "history");
        }
    }

    #[test]
    fn two_rank_runs_write_the_same_bytes() {
        let (_, two) = reference();
        let (again, o) = train(Some(2), &[], &[]);
        ok(&o);
        let bytes = |r: &Run| std::fs::read(r.model()).unwrap();
        assert!(bytes(two) == bytes(&again), "model files differ");
        assert_eq!(two.history(), again.history());
        let ckpt = |r: &Run| Checkpoint::load(format!("{}.ckpt", r.model().display())).unwrap();
        let (c1, c2) = (ckpt(two), ckpt(&again));
        assert_eq!(c1.model.params, c2.model.params);
        assert_eq!(c1.state.optimizer_state, c2.state.optimizer_state);
        assert_eq!(c1.state.rng.state(), c2.state.rng.state());
    }

    #[test]
    fn one_rendezvous_per_step() {
        // 91 training rows in batches of 16: 6 steps per epoch, each one wait for its gradient
        // buckets (one bucket: this network's gradient is under 128 KiB), the stop requests
        // riding along; per epoch two blocking collectives (metric sums, the epoch's stop)
        let (_, o) = train(Some(2), &[], &[("BACKPROP_MPI_COUNT", "1")]);
        ok(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        let steps = 6 * EPOCHS;
        let want = format!(
            "mpi: {steps} steps, {steps} waits, {steps} buckets, {} blocking collectives",
            2 * EPOCHS
        );
        assert!(err.contains(&want), "want {want:?} in: {err}");
    }

    #[test]
    fn small_buckets_give_the_same_bytes() {
        // 64-byte buckets cut 6-12-3's gradient in two (extras, b₁, W₁ | b₀, W₀): the first
        // in flight while backward goes on and the last is summed; a sum of two ranks is a + b
        // however it is cut
        let (_, two) = reference();
        let env = [
            ("BACKPROP_MPI_COUNT", "1"),
            ("BACKPROP_MPI_BUCKET_BYTES", "64"),
        ];
        let (cut, o) = train(Some(2), &[], &env);
        ok(&o);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{} buckets", 2 * 6 * EPOCHS)),
            "{err}"
        );
        let bytes = |r: &Run| std::fs::read(r.model()).unwrap();
        assert!(bytes(two) == bytes(&cut), "model files differ");
    }

    #[test]
    fn shared_memory_sums_give_the_all_reduce_bytes() {
        // 2 ranks on one machine sum through a shared-memory window by default; with
        // BACKPROP_MPI_SHARED=0 through MPI all-reduces: a + b either way
        let (_, two) = reference();
        let (mpi, o) = train(Some(2), &[], &[("BACKPROP_MPI_SHARED", "0")]);
        ok(&o);
        let bytes = |r: &Run| std::fs::read(r.model()).unwrap();
        assert!(bytes(two) == bytes(&mpi), "model files differ");
    }

    #[test]
    fn ranks_of_two_threads_give_the_same_bytes() {
        // hybrid: 2 ranks × 2 threads (products split their output between threads, never a
        // sum; only the main thread calls MPI)
        let (_, two) = reference();
        let (hybrid, o) = train(Some(2), &["--threads", "2"], &[]);
        ok(&o);
        let bytes = |r: &Run| std::fs::read(r.model()).unwrap();
        assert!(bytes(two) == bytes(&hybrid), "model files differ");
    }

    #[test]
    fn three_ranks_share_an_uneven_last_batch() {
        let (one, _) = reference();
        let (three, o) = train(Some(3), &["--log-every", "1"], &[]);
        ok(&o);
        assert_close(&one.params(), &three.params(), "3 ranks vs 1 process");
        // the order of a 3-way sum is Open MPI's, fixed for a fixed rank count and bucket size
        let (again, o) = train(Some(3), &[], &[]);
        ok(&o);
        let bytes = |r: &Run| std::fs::read(r.model()).unwrap();
        assert!(bytes(&three) == bytes(&again), "3-rank model files differ");
    }

    #[test]
    fn a_dead_rank_stops_the_job_and_its_checkpoint_resumes_on_other_rank_counts() {
        let (_, two) = reference();
        // 91 training rows in batches of 16: 6 all-reduces per epoch; die in epoch 4's 2nd batch
        let (broken, o) = train(Some(2), &[], &[("BACKPROP_MPI_FAULT", "1:20")]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("rank 1") && err.contains("signal 6"),
            "mpirun should say rank 1 died: {err}"
        );
        assert!(!broken.model().exists(), "no model after a crash");
        let ckpt = format!("{}.ckpt", broken.model().display());
        assert_eq!(Checkpoint::load(&ckpt).unwrap().state.epoch, 3);
        for ranks in [None, Some(3)] {
            let (resumed, o) = train(ranks, &["--resume", &ckpt], &[]);
            ok(&o);
            assert_close(&two.params(), &resumed.params(), "resumed vs uninterrupted");
        }
    }

    #[test]
    fn a_dead_rank_ends_the_job_in_bounded_time() {
        // a run of 100,000 epochs (minutes) whose rank 1 dies in its first epoch: rank 0 must not
        // be left waiting for it
        let dir = tempfile::tempdir().unwrap();
        let args = train_args(&dir.path().join("m.safetensors"), 100_000);
        let (o, took) = mpirun(2, &args, &[("BACKPROP_MPI_FAULT", "1:3")]);
        assert!(!o.status.success());
        assert!(took < Duration::from_secs(60), "took {took:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("rank 1"), "{err}");
    }

    #[test]
    fn an_error_on_one_rank_aborts_every_rank() {
        // rank-local failure: one rank cannot read its resume file → MPI_Abort, not a hang
        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("not-a-checkpoint.ckpt");
        std::fs::write(&bogus, b"junk").unwrap();
        let mut args = train_args(&dir.path().join("m.safetensors"), EPOCHS);
        args.extend(["--resume".into(), bogus.display().to_string()]);
        let (o, took) = mpirun(2, &args, &[]);
        assert!(!o.status.success());
        assert!(took < Duration::from_secs(60), "took {took:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not-a-checkpoint.ckpt"), "{err}");
    }
}
