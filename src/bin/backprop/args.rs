//! Command-line arguments (clap derive). Parsed once here, converted to library configs in the
//! command modules; nothing below them sees clap types.

use backprop::tensor::Precision;
use backprop::Loss;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod train;
pub use train::{
    defaults, hidden_defaults, patience, BatchSize, CvArgs, TrainArgs, DEMO_TEST_SPLIT,
};

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
        after_help = "Examples:\n  backprop train                                  # built-in UCI digits\n  backprop train data.csv --target price --hidden 64,32 --epochs 100\n  backprop train encoder.csv --target 'y*' --arch examples/arch/encoder-8-3-8.json\n  backprop train mnist:../shared/datasets/mnist --hidden 256,128 --optimizer sgd --lr 0.05 --momentum 0.9 --lr-schedule cosine:20\n  backprop train data.csv --resume model.safetensors.ckpt --epochs 300   # continue a run"
    )]
    Train(Box<TrainArgs>),
    /// Stratified k-fold cross-validation: train on k − 1 folds, score the held-out fold; mean
    /// and standard deviation.
    #[command(
        after_help = train::CV_HELP,
        mut_arg("out", |a| a.hide(true)),
        mut_arg("resume", |a| a.hide(true)),
        mut_arg("checkpoint", |a| a.hide(true)),
        mut_arg("checkpoint_every", |a| a.hide(true)),
        mut_arg("history", |a| a.hide(true)),
        mut_arg("plot", |a| a.hide(true)),
        mut_arg("test_split", |a| a.hide(true)),
        mut_arg("distributed", |a| a.hide(true)),
        mut_arg("log_every", |a| a.help("Print an epoch line every N epochs of each fold, and its last [default: none; a line per fold]")),
        mut_arg("json", |a| a.help("One JSON record per fold on stdout, then a final {\"summary\": …} record (the text report goes to stderr)")),
    )]
    Cv(Box<CvArgs>),
    /// The column plan `train` would fit, without training: the target, and per column its role
    /// (number, category, date, dropped and why), levels, missing values and their fill.
    #[command(
        after_help = "Examples:\n  backprop inspect penguins.csv --target Species\n  backprop inspect data.csv --json"
    )]
    Inspect(InspectArgs),
    /// Predict with a trained model: CSV out (class and probabilities, or values).
    #[command(
        after_help = "Columns are matched to the model's by header name (in any order; others are ignored with a note).\nExample:\n  backprop predict model.safetensors new.csv > predictions.csv\n  backprop predict model.safetensors new.csv --id passenger_id > predictions.csv\n  cat new.csv | backprop predict model.safetensors -\n  backprop predict --arch examples/arch/xor-threshold.json examples/data/xor.csv   # a hand-set net",
        mut_arg("task", |a| a.hide(true)),
        mut_arg("impute", |a| a.hide(true)),
        mut_arg("keep", |a| a.hide(true)),
        mut_arg("sample_weight", |a| a.hide(true)),
        mut_arg("drop", |a| a.hide(true)),
        mut_arg("missing_target", |a| a.hide(true)),
        mut_arg("target", |a| a.help("The target column(s), if the file names them differently from the model [default: the model's target columns, by name]")),
    )]
    Predict(PredictArgs),
    /// Evaluate a trained model on labelled data: accuracy, confusion matrix, P/R/F1; or MSE/MAE/R².
    #[command(
        after_help = "Columns are matched to the model's by header name (in any order; others are ignored with a note).\nExample:\n  backprop evaluate model.safetensors test.csv",
        mut_arg("task", |a| a.hide(true)),
        mut_arg("impute", |a| a.hide(true)),
        mut_arg("keep", |a| a.hide(true)),
        mut_arg("sample_weight", |a| a.hide(true)),
        mut_arg("drop", |a| a.hide(true)),
        mut_arg("target", |a| a.help("The target column(s), if the file names them differently from the model [default: the model's target columns, by name]")),
    )]
    Evaluate(EvaluateArgs),
    /// Show every number of one backprop step in the notation of the lecture notes.
    #[command(
        after_help = EXPLAIN_HELP
    )]
    Explain(ExplainArgs),
    /// Compare analytic and numerical gradients of a model on data, per parameter tensor.
    #[command(after_help = "Example:\n  backprop gradcheck model.safetensors data.csv")]
    Gradcheck(GradcheckArgs),
    /// Layers, shapes, activations, parameter counts and preprocessing of a model file.
    #[command(after_help = "Example:\n  backprop summary model.safetensors")]
    Summary(SummaryArgs),
    /// Export a model for other runtimes: one ONNX graph with the scaling, the one-hot
    /// categories, missing-value fills, every layer and the output probabilities.
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Measure training speed (samples/s, GFLOP/s, XOR step time, memory).
    #[command(
        after_help = "Example:\n  backprop bench --batch-sizes 1,32,128,1024 --data ../shared/datasets/mnist"
    )]
    Bench(BenchArgs),
    /// Pictures as SVG: decision regions of a 2-input model, or the loss surface over two weights.
    #[command(subcommand, after_help = PLOT_HELP)]
    Plot(PlotCommand),
}

const PLOT_HELP: &str = "Examples:
  backprop plot regions model.safetensors data.csv --out regions.svg
  backprop plot regions --arch examples/arch/xor-threshold.json examples/data/xor.csv --out xor.svg
  backprop plot loss-surface model.safetensors data.csv --weights 'layers.1.weight[0,0],layers.1.bias[0]' --descend 50 --lr 0.5 --out surface.svg
(`backprop train --plot FILE.svg` draws the training curves.)";

/// `backprop plot …`: which picture.
#[derive(Subcommand, Debug)]
pub enum PlotCommand {
    /// Decision regions (classes) or the predicted value (regression) of a model with 2 input
    /// features over a grid, with the data points on top; axes in the data's own units.
    #[command(
        after_help = "Examples:\n  backprop plot regions model.safetensors data.csv --out regions.svg\n  backprop plot regions --arch examples/arch/xor-threshold.json examples/data/xor.csv --out xor.svg"
    )]
    Regions(RegionsArgs),
    /// The loss over a grid of two chosen weights (all others fixed), as a heat map with
    /// contours, and the path of gradient descent on those two weights.
    #[command(after_help = SURFACE_HELP)]
    LossSurface(SurfaceArgs),
}

const SURFACE_HELP: &str = "Weights are named as in the model's parameters (`backprop summary` lists the layers;
layer k has layers.k.weight, shape (out, in), and layers.k.bias, shape (out)), with a 0-based
index in brackets: layers.0.weight[1,0] is unit 1's weight from input 0 of the first layer.

The loss is the model's training loss (or --loss) on every row of DATA, as training computes
it (a loss that reads logits reads them). The grid is centred on the weights' current values,
±--range. With --descend N, full-batch gradient descent runs N steps on those two weights only
(w ← w − lr·∂E/∂w; every other weight fixed) from the current values or --start, and its path is
drawn; the grid grows to hold the whole path.

Examples:
  backprop plot loss-surface model.safetensors data.csv --weights 'layers.1.weight[0,0],layers.1.bias[0]'
  backprop plot loss-surface --arch examples/arch/sigmoid-unit.json examples/data/sigmoid-unit.csv \\
      --weights 'layers.0.weight[0,0],layers.0.bias[0]' --range 4 --start=-4,-1 --descend 60 --lr 2 --out surface.svg";

/// A model file and a data file, or `--arch NET.json` and a data file.
#[derive(Args, Debug, Clone)]
pub struct ModelData {
    /// MODEL DATA: a model file written by `backprop train` and data in its layout (with --arch,
    /// only DATA).
    #[arg(value_name = "MODEL DATA", num_args = 1..=2, required = true)]
    pub files: Vec<String>,
    /// A hand-set network description (every weight given in `init`) instead of a model file.
    #[arg(long, value_name = "NET.json")]
    pub arch: Option<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct RegionsArgs {
    #[command(flatten)]
    pub input: ModelData,
    /// Where to write the SVG picture.
    #[arg(long, short, default_value = "regions.svg", value_name = "FILE.svg")]
    pub out: PathBuf,
    /// Grid cells along each axis.
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub grid: usize,
    /// Room around the data on each side, as a fraction of its range.
    #[arg(long, default_value_t = 0.1, value_name = "FRACTION")]
    pub margin: f64,
    /// One colour per class, without shading by the predicted probability.
    #[arg(long)]
    pub flat: bool,
    /// Regression with several targets: the one to draw, by name or 0-based index [default: the first].
    #[arg(long, value_name = "NAME|INDEX")]
    pub output: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SurfaceArgs {
    #[command(flatten)]
    pub input: ModelData,
    /// The two weights, comma-separated: NAME[i,j] (e.g. layers.0.weight[0,1],layers.1.bias[0]).
    #[arg(long, value_name = "W1,W2", required = true)]
    pub weights: String,
    /// Half-width of the grid around the current values: R for both weights, or R1,R2.
    #[arg(long, default_value = "2", value_name = "R[,R]")]
    pub range: String,
    /// Grid points along each axis.
    #[arg(long, default_value_t = 51, value_name = "N")]
    pub grid: usize,
    /// Run N steps of gradient descent on the two weights and draw the path.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub descend: usize,
    /// Learning rate of --descend.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub lr: f32,
    /// Where the descent starts: W1,W2 [default: the weights' current values].
    #[arg(long, value_name = "W1,W2", allow_hyphen_values = true)]
    pub start: Option<String>,
    /// The loss [default: the model's training loss; mse for --arch].
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Where to write the SVG picture.
    #[arg(
        long,
        short,
        default_value = "loss-surface.svg",
        value_name = "FILE.svg"
    )]
    pub out: PathBuf,
}

const EXPORT_HELP: &str =
    "The ONNX graph's input is `features` (float, n × columns): one column per input
column of the training file (file order, without dropped and target columns; the model's
metadata entry `input_columns`), a date column as its fractional year (metadata `dates`), a
categorical column as the 0-based index of its category in the metadata entry `categories`
(another index: an unseen category, all zeros), NaN for a missing value. Outputs: `probabilities` and `class`
(int64) for a classifier, `values` for regression. Class names: metadata entry `classes`.

Example:
  backprop export model.safetensors --onnx model.onnx";

const EXPLAIN_HELP: &str = "Examples:
  backprop explain --example lfd          # Learning From Data's worked example
  backprop explain --spec examples/explain/mazur.json --digits 9
  backprop explain --spec net.json --loss half_sse --format json
  backprop explain --model model.safetensors --data data.csv --row 3

The --spec file is a network description with explicit weights, plus the sample:
  {\"in_features\": 2, \"input\": [0.05, 0.10], \"target\": [0.01, 0.99],
   \"loss\": \"half_sse\", \"lr\": 0.5,
   \"layers\": [
     {\"units\": 2, \"activation\": \"sigmoid\", \"bias\": \"shared\", \"trainable\": {\"bias\": false},
      \"init\": {\"weight\": [[0.15, 0.20], [0.25, 0.30]], \"bias\": [0.35]}},
     {\"units\": 2, \"activation\": \"sigmoid\", \"bias\": \"shared\", \"trainable\": {\"bias\": false},
      \"init\": {\"weight\": [[0.40, 0.45], [0.50, 0.55]], \"bias\": [0.60]}}]}
Each layer: units, activation (identity, sigmoid, tanh, relu, leaky_relu:A, softmax, step),
inputs ([k, …]: 0 = the input, k = layer k; skip connections), bias (per_unit, shared, none),
trainable ({\"weight\": bool, \"bias\": bool}), tie ({\"layer\": k, \"transpose\": true}), and
init.weight as one row of input weights per unit (PyTorch's (out, in) layout) with init.bias.
The seed layout also works: per layer {\"activation\": …, \"W\": [[bias row], [input 1 row], …]},
(1 + inputs) rows × units columns.";

/// Where data comes from: a CSV path, `-` for stdin, or `mnist:DIR`.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Target column(s) by name or 0-based index, comma-separated; a name may be a pattern
    /// with * and ? (e.g. 'y*') [default: the last column].
    #[arg(long, value_name = "COL[,COL…]")]
    pub target: Option<String>,
    /// classification, regression, or auto (inferred from the target column).
    #[arg(long, default_value = "auto", value_name = "TASK")]
    pub task: String,
    /// Whether the CSV has a header row: yes, no, or auto.
    #[arg(long, default_value = "auto", value_name = "yes|no|auto")]
    pub header: String,
    /// Columns to leave out (e.g. an ID), by name or 0-based index, comma-separated; a model
    /// remembers them, so predict and evaluate leave them out too.
    #[arg(long, value_name = "COL[,COL…]")]
    pub drop: Option<String>,
    /// The CSV field separator: , ; | or tab (also \t) [default: detected: , ; or tab].
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// Missing feature values (empty, NA, NaN, ?) when training: median or mean for numbers and
    /// dates, the most frequent level for categories (fitted on the training file and saved in
    /// the model), or error to refuse them [default: median].
    #[arg(long, value_name = "median|mean|error")]
    pub impute: Option<String>,
    /// Text columns to use as categories although they look like an identifier or free text
    /// (which are dropped), by name or 0-based index, comma-separated.
    #[arg(long, value_name = "COL[,COL…]")]
    pub keep: Option<String>,
    /// A column of per-row sample weights (numbers ≥ 0; 0 leaves a row out): the loss is
    /// Σ wᵢ·lossᵢ / Σ wᵢ. Not a feature; a model remembers it, so predict and evaluate leave
    /// it out.
    #[arg(long, value_name = "COL")]
    pub sample_weight: Option<String>,
    /// Rows whose target value is missing: skip (left out of training and evaluation, counted)
    /// or error [default: skip].
    #[arg(long, value_name = "skip|error")]
    pub missing_target: Option<String>,
    /// A category the model never saw (predict, evaluate): zeros (all its one-hot features 0,
    /// counted on stderr) or error [default: zeros].
    #[arg(long, value_name = "zeros|error")]
    pub unknown: Option<String>,
    /// Targets for .npy features: `X.npy --labels y.npy` (a single .npy array holds its target
    /// as a column instead: the last, or --target INDEX).
    #[arg(long, value_name = "y.npy")]
    pub labels: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// A CSV file (or `-` for stdin, or a .npy table).
    pub data: String,
    /// The plan as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data_args: DataArgs,
}

#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// A model file written by `backprop train` (omit with --arch).
    #[arg(value_name = "MODEL")]
    pub model_or_data: String,
    /// Data in the training layout (the target column may be present or absent); `-` = stdin.
    pub data: Option<String>,
    /// Run a hand-set network description (every weight given in `init`) instead of a model.
    #[arg(long, value_name = "NET.json")]
    pub arch: Option<PathBuf>,
    /// A key column of DATA (name or 0-based index) copied as the first column of the
    /// predictions, to join them back.
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
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
    /// A JSON spec: a network description whose layers give `init` weights, plus "input",
    /// "target" and optionally "loss" and "lr" (or the seed layout with "W"; see --help).
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
    /// Learning rate for the update step [default: the spec's "lr", else 0.1].
    #[arg(long)]
    pub lr: Option<f32>,
    /// The loss e: half_sse (E = ½Σ(t − o)²), squared_error, mse, cross_entropy, bce, …
    /// [default: the spec's or model's loss; squared_error for the lfd example].
    #[arg(long)]
    pub loss: Option<Loss>,
    /// table (the lecture notes' layout) or json (every number at full f32 precision).
    #[arg(long, default_value = "table", value_name = "table|json")]
    pub format: String,
    /// Significant digits in the tables (1–9).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub digits: usize,
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
    /// A model file (or a network description with --arch).
    #[arg(required_unless_present = "arch")]
    pub model: Option<PathBuf>,
    /// Describe a hand-set network description instead of a model file.
    #[arg(long, value_name = "NET.json", conflicts_with = "model")]
    pub arch: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A model file written by `backprop train`.
    pub model: PathBuf,
    /// Write the model as an ONNX graph (IR 8, opset 13) to this file.
    #[arg(long, value_name = "FILE.onnx", required = true)]
    pub onnx: PathBuf,
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
    /// Number format of the products' operands: f32 or bf16 (f32 sums).
    #[arg(long, default_value_t = Precision::F32, value_name = "f32|bf16")]
    pub precision: Precision,
    /// Run backward, then the optimizer (no updates inside backward), to measure the difference.
    #[arg(long)]
    pub unfused: bool,
}
