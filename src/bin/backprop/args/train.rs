//! `backprop train`'s and `backprop cv`'s flags. Typed flags parse through the library's
//! `FromStr`; the defaults shown in `--help` come from `Pipeline::default()`.

use super::DataArgs;
use backprop::data::ScaleKind;
use backprop::nn::{Activation, Init};
use backprop::optim::LrSchedule;
use backprop::pipeline::{Network, Pipeline};
use backprop::tensor::Precision;
use backprop::train::Pretrain;
use backprop::Loss;
use clap::Args;
use std::path::PathBuf;
use std::str::FromStr;

pub const CV_HELP: &str =
    "Each of the k folds is held out once: a fresh network is trained on the other k − 1 folds
(with the same flags as `backprop train`, its --val-split taken from them for early stopping)
and scored on the held-out fold: accuracy for classes, R² for regression, and the loss. Folds
are dealt by --seed, stratified by class. The report gives each fold, then the mean and the
standard deviation over folds (population, as numpy's std). No model is saved: cv trains k of
them; train on all the data with `backprop train` for the model to keep (--out, --resume,
--checkpoint, --checkpoint-every, --history, --plot and --test-split are refused).
With --json: one record per fold and a final {\"summary\": …} on stdout.

Examples:
  backprop cv data.csv --folds 5
  backprop cv data.csv --target price --hidden 64,32 --epochs 100 --seed 1
  backprop cv                                       # built-in UCI digits";

/// `backprop train`'s flags. Every training setting is an `Option` so that `--resume` can tell
/// what the user gave (and refuse what conflicts with the checkpoint); defaults are applied
/// when the flags are turned into a library `Pipeline` (train_config.rs) and shown in `--help`.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Training data: a CSV file, `-` (stdin), or `mnist:DIR`; omit for the built-in digits.
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// A network description (JSON; see the README), instead of --hidden/--activation.
    #[arg(long, value_name = "NET.json")]
    pub arch: Option<PathBuf>,
    #[arg(long, value_name = "SIZES", help = format!(
        "Hidden layer sizes, comma-separated (e.g. 64,32); `none` for no hidden layer [default: \
         one layer of {}, or {} for data of 10,000 rows or more]",
        backprop::pipeline::Network::auto_width(0),
        backprop::pipeline::Network::auto_width(10_000)
    ))]
    pub hidden: Option<String>,
    #[arg(long, help = format!(
        "Hidden activation: relu, tanh, sigmoid, leaky_relu[:SLOPE], identity [default: {}]",
        hidden_defaults().0
    ))]
    pub activation: Option<Activation>,
    /// Output activation [default: identity (logits) for cross-entropy; sigmoid for a 0/1
    /// target under another loss].
    #[arg(long, value_name = "ACTIVATION")]
    pub output_activation: Option<Activation>,
    /// Loss: cross_entropy, hinge, bce, mse, mae, squared_error, half_sse [default:
    /// cross_entropy for classes, bce for several 0/1 targets, mse otherwise].
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Optimizer: sgd, adagrad, rmsprop, adam, adamw, rprop, quickprop, lbfgs [default: adam].
    /// lbfgs is full batch: each epoch is one L-BFGS step (up to 20 iterations with a
    /// strong-Wolfe line search) over the whole training set.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate [default: the optimizer's PyTorch default; 0.01 for sgd, 0.1 initial step
    /// for rprop, 0.1 for quickprop, 1 (the line search's first trial step) for lbfgs].
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// Momentum (sgd, rmsprop).
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f32>,
    /// Nesterov momentum (sgd).
    #[arg(long)]
    pub nesterov: bool,
    /// Remembered (s, y) pairs of L-BFGS (lbfgs) [default: 10].
    #[arg(long, value_name = "M")]
    pub history_size: Option<usize>,
    /// Weight decay (L2; decoupled for adamw).
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f32>,
    /// Learning-rate schedule, stepped each epoch: step:S[:G], exponential:G, cosine:T[:MIN],
    /// plateau[:P[:F]], warmup:E[:F], or warmup:E[:F],<another>.
    #[arg(long, value_name = "SCHEDULE")]
    pub lr_schedule: Option<LrSchedule>,
    /// Linear warm-up over this many epochs (before --lr-schedule, if any).
    #[arg(long, value_name = "EPOCHS")]
    pub warmup: Option<usize>,
    /// Parameters never updated, by state-dict name, comma-separated (e.g. layers.0.bias).
    #[arg(long, value_name = "NAMES")]
    pub freeze: Option<String>,
    #[arg(long, value_name = "N|full", help = format!(
        "Samples per update: 1 = online, 0 or `full` = the whole training set [default: {}]",
        defaults().trainer.batch_size
    ))]
    pub batch_size: Option<BatchSize>,
    #[arg(long, help = epochs_help())]
    pub epochs: Option<usize>,
    #[arg(long, help = format!(
        "Seed for initialisation, splits, shuffling and dropout [default: {}]",
        defaults().trainer.seed
    ))]
    pub seed: Option<u64>,
    #[arg(long, allow_negative_numbers = true, help = format!(
        "Fraction held out for validation (early stopping watches it) [default: {}; none below {} \
         rows, see --epochs]",
        defaults().val_split,
        thousands(small_data().max_rows)
    ))]
    pub val_split: Option<f32>,
    #[arg(long, allow_negative_numbers = true, help = format!(
        "Fraction held out for a final test report (never used for training or stopping) \
         [default: {}; {} for the built-in digits; keep a test file aside and use `evaluate`]",
        defaults().test_split,
        DEMO_TEST_SPLIT
    ))]
    pub test_split: Option<f32>,
    #[arg(long, value_name = "PATIENCE", help = format!(
        "Stop after this many epochs without improvement of the validation loss (0 = off) \
         [default: {}; below {} rows, of the training loss by {:e}, see --epochs]",
        patience(),
        thousands(small_data().max_rows),
        small_data().early_stopping.min_delta
    ))]
    pub early_stopping: Option<usize>,
    /// Stop once the validation (or training) loss reaches this.
    #[arg(long, allow_negative_numbers = true)]
    pub target_loss: Option<f32>,
    #[arg(long, help = format!(
        "Feature scaling fitted on the training part: auto (none when every feature is already \
         within [0, 1], else standard), standard, minmax, none [default: {}]",
        format!("{:?}", defaults().scale).to_lowercase()
    ))]
    pub scale: Option<ScaleKind>,
    /// Weight initialisation: pytorch, xavier_uniform, xavier_normal, kaiming_uniform,
    /// kaiming_normal, uniform:EPS [default: kaiming_uniform for relu, xavier_uniform otherwise].
    #[arg(long)]
    pub init: Option<Init>,
    /// Start from these weights instead of drawn ones, and fine-tune: a PyTorch state_dict saved
    /// with safetensors.torch.save_file — an nn.Sequential of nn.Linear layers (0.weight, 0.bias,
    /// 2.weight, …), a ModuleList (layers.0.weight, …) — or a model file; mapped in order onto
    /// the layers of --hidden/--arch, every name and shape checked. The network reads the
    /// features after --scale: give --scale none for weights trained on raw features.
    #[arg(long, value_name = "WEIGHTS.safetensors")]
    pub init_from: Option<PathBuf>,
    #[arg(long, help = format!(
        "Dropout probability after each hidden layer [default: {}]",
        hidden_defaults().1
    ))]
    pub dropout: Option<f32>,
    /// Batch normalisation on every hidden layer, before its activation (PyTorch's BatchNorm1d:
    /// momentum 0.1, eps 1e-5; batch statistics in training, running statistics in predict and
    /// evaluate). Needs batches of at least 2 samples.
    #[arg(long)]
    pub batch_norm: bool,
    /// Clip the global gradient norm.
    #[arg(long)]
    pub clip_norm: Option<f32>,
    #[arg(long, value_name = "f32|bf16", help = format!(
        "Number format of the matrix products' operands: f32, or bf16 (rounded, f32 sums; master \
         weights and optimizer state stay f32) [default: {}]",
        defaults().trainer.precision
    ))]
    pub precision: Option<Precision>,
    /// Weight the cross-entropy by class: `balanced` = n / (classes · n_c) on the training part
    /// (scikit-learn's class_weight="balanced"), for imbalanced classes.
    #[arg(long, value_name = "balanced")]
    pub class_weight: Option<String>,
    #[arg(long, value_name = "autoencoder[:E[:P]]", help = pretrain_help())]
    pub pretrain: Option<Pretrain>,
    /// Keep training when the loss grows past 10⁶ × its first value (normally a stop, like NaN).
    #[arg(long)]
    pub allow_divergence: bool,
    /// Write a checkpoint every N epochs (and at the end).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Checkpoint file (default: MODEL with .ckpt appended).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Resume from a checkpoint (the same DATA must be given again); --epochs N extends the run.
    #[arg(long, value_name = "CKPT")]
    pub resume: Option<PathBuf>,
    /// Where to write the trained model.
    #[arg(long, short, default_value = "model.safetensors", value_name = "MODEL")]
    pub out: PathBuf,
    /// Threads for large matrix products (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print an epoch line every N epochs, and the last epoch's (above the progress bar on a
    /// terminal, plain lines otherwise; --json records stay one per epoch) [default: every epoch
    /// up to 100 epochs, else every epochs/50: about 50 lines].
    #[arg(long, value_name = "N")]
    pub log_every: Option<usize>,
    /// One JSON record per epoch on stdout, then a final {"summary": …} record (numbers to 6
    /// significant digits).
    #[arg(long)]
    pub json: bool,
    /// Data-parallel training as one rank of `mpirun -n R backprop train … --distributed`: each
    /// batch is shared among the ranks and their gradients summed (same result as one process);
    /// rank 0 prints and writes the files. Needs a build with `--features mpi`.
    #[arg(long)]
    pub distributed: bool,
    /// Write per-epoch metrics as CSV.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Draw loss and accuracy curves as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// `backprop cv`'s flags: the number of folds, and `backprop train`'s.
#[derive(Args, Debug, Clone)]
pub struct CvArgs {
    /// Number of folds (at least 2).
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub folds: usize,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The library's defaults: what `--help` shows and what a flag left out gets.
pub fn defaults() -> Pipeline {
    Pipeline::default()
}

/// The default network's hidden activation and dropout.
pub fn hidden_defaults() -> (Activation, f32) {
    match defaults().network {
        Network::Hidden {
            activation,
            dropout,
            ..
        } => (activation, dropout),
        Network::Spec(_) => unreachable!("Pipeline::default() describes hidden layers"),
    }
}

/// The built-in demo's test fraction: the demo holds out a test part to report; user data
/// trains on all of it (scripts/defaults.py: iris 0.933 → 0.967, digits 0.972 → 0.981 median
/// accuracy).
pub const DEMO_TEST_SPLIT: f32 = 0.1;

fn small_data() -> backprop::pipeline::SmallData {
    defaults().small_data.unwrap_or_default()
}

/// The default early-stopping patience (0 = off).
pub fn patience() -> usize {
    defaults().trainer.early_stopping.map_or(0, |e| e.patience)
}

/// `1000` → `1,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn epochs_help() -> String {
    let (p, s) = (defaults(), small_data());
    format!(
        "Maximum number of epochs; with --resume, the total to continue to [default: {}; below {} \
         rows {}, with no validation part and a stop when the training loss has not improved by \
         {:e} for {} epochs, as scikit-learn — giving --epochs, --val-split or --early-stopping \
         turns that small-data rule off]",
        p.trainer.epochs,
        thousands(s.max_rows),
        s.max_epochs,
        s.early_stopping.min_delta,
        s.early_stopping.patience
    )
}

fn pretrain_help() -> String {
    let p: Pretrain = "autoencoder"
        .parse()
        .expect("the bare pretrain spec parses");
    format!(
        "Greedy layer-wise pre-training of the hidden layers before training, as autoencoders \
         (tied decoder): autoencoder[:EPOCHS[:DENOISE]] — epochs per layer (default {}) and the \
         fraction of inputs zeroed (default {})",
        p.epochs, p.denoise
    )
}

/// `--batch-size`: a number of samples, or `full` (stored as 0) for the whole training set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSize(pub usize);

impl FromStr for BatchSize {
    type Err = String;
    fn from_str(s: &str) -> Result<BatchSize, String> {
        match s {
            "full" => Ok(BatchSize(0)),
            s => s
                .parse()
                .map(BatchSize)
                .map_err(|_| format!("expected a number of samples or `full`, not {s:?}")),
        }
    }
}
