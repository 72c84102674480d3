//! Command-line arguments (clap derive). Parsed once here, converted to library configs in the
//! command modules; nothing below them sees clap types.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Train feed-forward neural networks by backpropagation on the CPU.
#[derive(Parser, Debug)]
#[command(name = "backprop", version, about, long_about = None, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a network on a CSV file, an MNIST directory, or (with no DATA) the built-in digits.
    #[command(
        after_help = "Examples:\n  backprop train                                  # built-in UCI digits\n  backprop train data.csv --target price --hidden 64,32 --epochs 100\n  backprop train mnist:../shared/datasets/mnist --hidden 256,128 --optimizer sgd --lr 0.05 --momentum 0.9"
    )]
    Train(Box<TrainArgs>),
    /// Predict with a trained model: CSV out (class and probabilities, or values).
    #[command(
        after_help = "Example:\n  backprop predict model.safetensors new.csv > predictions.csv\n  cat new.csv | backprop predict model.safetensors -"
    )]
    Predict(PredictArgs),
    /// Evaluate a trained model on labelled data: accuracy, confusion matrix, P/R/F1; or MSE/MAE/R².
    #[command(after_help = "Example:\n  backprop evaluate model.safetensors test.csv")]
    Evaluate(EvaluateArgs),
    /// Show every number of one backprop step in the notation of the lecture notes.
    #[command(
        after_help = "Examples:\n  backprop explain --example lfd          # Learning From Data's worked example\n  backprop explain --spec net.json\n  backprop explain --model model.safetensors --data data.csv --row 3"
    )]
    Explain(ExplainArgs),
    /// Compare analytic and numerical gradients of a model on data, per parameter tensor.
    #[command(after_help = "Example:\n  backprop gradcheck model.safetensors data.csv")]
    Gradcheck(GradcheckArgs),
    /// Layers, shapes, activations, parameter counts and preprocessing of a model file.
    #[command(after_help = "Example:\n  backprop summary model.safetensors")]
    Summary(SummaryArgs),
    /// Measure training speed (samples/s, GFLOP/s, XOR step time, memory).
    #[command(
        after_help = "Example:\n  backprop bench --batch-sizes 1,32,128,1024 --data ../shared/datasets/mnist"
    )]
    Bench(BenchArgs),
}

/// Where data comes from: a CSV path, `-` for stdin, or `mnist:DIR`.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Target column by name or 0-based index (default: the last column).
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// classification, regression, or auto (inferred from the target column).
    #[arg(long, default_value = "auto", value_name = "TASK")]
    pub task: String,
    /// Whether the CSV has a header row: yes, no, or auto.
    #[arg(long, default_value = "auto", value_name = "yes|no|auto")]
    pub header: String,
}

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Training data: a CSV file, `-` (stdin), or `mnist:DIR`; omit for the built-in digits.
    pub data: Option<String>,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Hidden layer sizes, comma-separated (e.g. 64,32); `none` for no hidden layer.
    #[arg(long, default_value = "64", value_name = "SIZES")]
    pub hidden: String,
    /// Hidden activation: relu, tanh, sigmoid, leaky_relu[:SLOPE], identity.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Output activation (default: identity, i.e. logits for classification).
    #[arg(long, value_name = "ACTIVATION")]
    pub output_activation: Option<String>,
    /// Loss: cross_entropy, hinge, bce, mse, mae, squared_error, half_sse (default: cross_entropy
    /// for classes, mse for regression).
    #[arg(long)]
    pub loss: Option<String>,
    /// Optimizer: sgd, adagrad, rmsprop, adam, adamw, rprop.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate (default: the optimizer's PyTorch default; 0.01 for sgd, 0.1 initial step for rprop).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Momentum (sgd, rmsprop).
    #[arg(long)]
    pub momentum: Option<f32>,
    /// Nesterov momentum (sgd).
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay (L2; decoupled for adamw).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Samples per update: 1 = online, 0 or `full` = the whole training set.
    #[arg(long, default_value = "32", value_name = "N|full")]
    pub batch_size: String,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Seed for initialisation, splits, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction held out for validation (early stopping watches it).
    #[arg(long, default_value_t = 0.1)]
    pub val_split: f32,
    /// Fraction held out for the final test report (never used for training or stopping).
    #[arg(long, default_value_t = 0.1)]
    pub test_split: f32,
    /// Stop after this many epochs without improvement of the validation loss (0 = off).
    #[arg(long, default_value_t = 10, value_name = "PATIENCE")]
    pub early_stopping: usize,
    /// Stop once the validation (or training) loss reaches this.
    #[arg(long)]
    pub target_loss: Option<f32>,
    /// Feature scaling fitted on the training part: standard, minmax, none.
    #[arg(long, default_value = "standard")]
    pub scale: String,
    /// Weight initialisation: pytorch, xavier_uniform, xavier_normal, kaiming_uniform,
    /// kaiming_normal, uniform:EPS (default: kaiming_uniform for relu, xavier_uniform otherwise).
    #[arg(long)]
    pub init: Option<String>,
    /// Dropout probability after each hidden layer.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f32,
    /// Clip the global gradient norm.
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// Write a checkpoint every N epochs (and at the end).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Checkpoint file (default: MODEL with .ckpt appended).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Resume from a checkpoint (the same DATA must be given again).
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
    /// One JSON record per epoch on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write per-epoch metrics as CSV.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Draw loss and accuracy curves as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// A model file written by `backprop train`.
    pub model: PathBuf,
    /// Data in the training layout (the target column may be present or absent); `-` = stdin.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct EvaluateArgs {
    /// A model file written by `backprop train`.
    pub model: PathBuf,
    /// Labelled data in the training layout; `-` = stdin; `mnist:DIR` uses the test files.
    pub data: String,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    /// A built-in example: `lfd` (Learning From Data's 1-2-1-1 tanh network, x = 2, y = 1).
    #[arg(long)]
    pub example: Option<String>,
    /// A JSON spec with explicit weights (see `backprop explain --help`).
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// A model file (with --data and --row).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Data for --model.
    #[arg(long)]
    pub data: Option<String>,
    /// Which data row (0-based).
    #[arg(long, default_value_t = 0)]
    pub row: usize,
    /// Learning rate for the update step.
    #[arg(long)]
    pub lr: Option<f32>,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct GradcheckArgs {
    /// A model file.
    pub model: PathBuf,
    /// Data in the training layout (the first --rows rows are used).
    pub data: String,
    /// How many rows to use.
    #[arg(long, default_value_t = 8)]
    pub rows: usize,
    /// Finite-difference step.
    #[arg(long, default_value_t = 1e-3)]
    pub eps: f32,
    /// Pass threshold on the relative error.
    #[arg(long, default_value_t = 1e-2)]
    pub tol: f32,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SummaryArgs {
    /// A model file.
    pub model: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Batch sizes of the MLP 784-256-128-10 benchmark.
    #[arg(
        long,
        alias = "batch",
        default_value = "1,32,128,1024",
        value_name = "B,B,…"
    )]
    pub batch_sizes: String,
    /// MNIST directory (synthetic data of the same shape if it has no MNIST files).
    #[arg(long, default_value = "../shared/datasets/mnist", value_name = "DIR")]
    pub data: PathBuf,
    /// Use synthetic data even if MNIST is there.
    #[arg(long)]
    pub synthetic: bool,
    /// Threads for matrix products (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Timed epochs per batch size, after one warm-up epoch (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Batch 1: timed single-sample steps per repeat (scaled to an epoch of 60,000).
    #[arg(long, default_value_t = 5000)]
    pub steps: usize,
    /// XOR: steps per timed repeat.
    #[arg(long, default_value_t = 100_000)]
    pub xor_steps: usize,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Skip the MNIST MLP benchmark.
    #[arg(long)]
    pub no_mlp: bool,
    /// Skip the XOR step benchmark.
    #[arg(long)]
    pub no_xor: bool,
}
