//! Datasets in memory: features (compact: images stay `u8` until a batch needs `f32`) and targets
//! (class indices with their names, or one or several regression values).
//!
//! The readers, by file (no two files import each other, directly or not):
//!
//! - `cell.rs`: one field of a row (text or a number) and what it holds (missing, a number,
//!   text); [`labels`]: the task and class indices from raw target text.
//! - [`columns`]: the column plan that turns a table's raw columns into features, in three
//!   files: the plan (`plan.rs`), fitting it on training rows (`fit.rs`), and applying it to
//!   rows (`apply.rs`).
//! - [`csv`]: reading CSV text (`rows.rs`, `layout.rs`), then fitting a plan (`train.rs`) or
//!   applying a model's (`predict.rs`, or `scan.rs` for models from before plans).
//! - [`npy`] (with `npy_header.rs`): the `.npy` format; [`npy_table`]: 2-D arrays read as
//!   tables, by the same plan; [`idx`]: MNIST's IDX files.
//! - [`preprocess`]: splits, k-fold, scaling and one-hot targets, on a [`Dataset`].
//!
//! Reading a CSV from a string (a file: [`read_csv`]); the header and the class column (the
//! last, text) are detected:
//!
//! ```
//! use backprop::data::{one_hot, read_csv_from, CsvOptions, Targets};
//! let text = "x1,x2,species\n5.1,3.5,setosa\n7.0,3.2,versicolor\n6.3,3.3,virginica\n4.9,3.0,setosa\n";
//! let ds = read_csv_from(text.as_bytes(), "iris.csv", &CsvOptions::default())?;
//! assert_eq!((ds.len(), ds.n_features()), (4, 2));
//! assert_eq!(ds.feature_names, ["x1", "x2"]);
//! assert_eq!(ds.features_tensor().row(1), &[7.0, 3.2]);
//! let Targets::Classes { labels, names } = ds.targets() else { panic!("not classes") };
//! assert_eq!(names, &["setosa", "versicolor", "virginica"]);
//! assert_eq!(labels, &[0, 1, 2, 0]);
//! assert_eq!(one_hot(labels, 3).row(2), &[0.0, 0.0, 1.0]);
//!
//! // A bad row is an error naming the file and the line
//! let err = read_csv_from("a,b,y\n1,2,0\n3,1\n".as_bytes(), "bad.csv", &CsvOptions::default());
//! assert!(err.unwrap_err().to_string().starts_with("bad.csv:3:"));
//! # Ok::<(), backprop::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::tensor::pool::{self, SharedMut};
use crate::tensor::Tensor;

/// Feature storage, row-major `len × n_features`.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Plain `f32` values.
    F32(Vec<f32>),
    /// Bytes, read as `byte as f32 · scale` (e.g. pixels with `scale = 1/255`).
    U8 {
        /// The raw bytes.
        data: Vec<u8>,
        /// The factor applied when converting to `f32`.
        scale: f32,
    },
}

/// What a model should predict for each sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class indices `0..names.len()`.
    Classes {
        /// One class index per sample.
        labels: Vec<u32>,
        /// The class names, indexed by class (e.g. `["setosa", …]`, or `["0", "1", …]`).
        names: Vec<String>,
    },
    /// Regression targets, row-major `len × names.len()`.
    Values {
        /// The values.
        data: Vec<f32>,
        /// The target column names.
        names: Vec<String>,
    },
}

/// A dataset: `len` samples of `n_features` features each, with targets.
///
/// ```
/// use backprop::data::{Dataset, Features, Targets};
/// let ds = Dataset::new(
///     Features::F32(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]),
///     2,
///     Targets::Classes { labels: vec![0, 1, 1, 0], names: vec!["0".into(), "1".into()] },
/// ).unwrap();
/// assert_eq!(ds.len(), 4);
/// assert_eq!(ds.num_classes(), Some(2));
/// let mut x = vec![0.0; 4];
/// ds.gather_features(&[3, 1], &mut x);
/// assert_eq!(x, vec![1.0, 1.0, 0.0, 1.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    features: Features,
    n_features: usize,
    targets: Targets,
    /// The target columns' names as the file's header gave them (empty when it had none, or the
    /// data did not come from a file with a header): a model remembers them so `predict` and
    /// `evaluate` find the same columns without `--target`.
    pub target_columns: Vec<String>,
    /// Feature (column) names, `n_features` of them.
    pub feature_names: Vec<String>,
    /// How the raw columns of the file became these features (dropped columns, one-hot
    /// categories, fill values for missing values), when the data came from a table (CSV or
    /// npy): a model saves it so that `predict` and `evaluate` read new files the same way.
    pub columns: Option<ColumnPlan>,
    /// Per-sample weights of the training loss ([`Dataset::with_weights`]); `None` = all 1.
    weights: Option<Vec<f32>>,
}

impl Dataset {
    /// A dataset from features and targets; checks that their lengths agree and labels are in range.
    pub fn new(features: Features, n_features: usize, targets: Targets) -> Result<Dataset> {
        let flen = match &features {
            Features::F32(v) => v.len(),
            Features::U8 { data, .. } => data.len(),
        };
        if n_features == 0 || flen % n_features != 0 {
            return Err(Error::invalid(
                "n_features",
                n_features,
                "a positive divisor of the feature count",
            ));
        }
        let n = flen / n_features;
        let tlen = match &targets {
            Targets::Classes { labels, names } => {
                if let Some((i, &l)) = labels
                    .iter()
                    .enumerate()
                    .find(|(_, &l)| l as usize >= names.len())
                {
                    return Err(Error::invalid(
                        "label",
                        format!("{l} (sample {i})"),
                        "a class index below the number of class names",
                    ));
                }
                labels.len()
            }
            Targets::Values { data, names } => {
                if names.is_empty() || data.len() % names.len() != 0 {
                    return Err(Error::invalid(
                        "targets",
                        data.len(),
                        "a multiple of the number of target names",
                    ));
                }
                data.len() / names.len()
            }
        };
        if tlen != n {
            return Err(Error::invalid("targets", tlen, "one target row per sample"));
        }
        let feature_names = (0..n_features).map(|i| format!("x{i}")).collect();
        Ok(Dataset {
            features,
            n_features,
            targets,
            target_columns: vec![],
            feature_names,
            columns: None,
            weights: None,
        })
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        match &self.features {
            Features::F32(v) => v.len() / self.n_features,
            Features::U8 { data, .. } => data.len() / self.n_features,
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of features per sample.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The feature storage.
    pub fn features(&self) -> &Features {
        &self.features
    }

    /// The features, mutable (for in-place preprocessing).
    pub fn features_mut(&mut self) -> &mut Features {
        &mut self.features
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// A 64-bit FNV-1a hash (16 hex digits) of the feature count, every feature value (as stored),
    /// and every target (with class and target names), in order: equal data gives an equal
    /// fingerprint, so a resumed run can check it was given the data it started on.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(&(self.n_features as u64).to_le_bytes());
        match &self.features {
            Features::F32(v) => v.iter().for_each(|x| eat(&x.to_bits().to_le_bytes())),
            Features::U8 { data, scale } => {
                eat(data);
                eat(&scale.to_bits().to_le_bytes());
            }
        }
        match &self.targets {
            Targets::Classes { labels, names } => {
                labels.iter().for_each(|l| eat(&l.to_le_bytes()));
                names.iter().for_each(|n| {
                    eat(n.as_bytes());
                    eat(&[0]);
                });
            }
            Targets::Values { data, names } => {
                data.iter().for_each(|x| eat(&x.to_bits().to_le_bytes()));
                names.iter().for_each(|n| {
                    eat(n.as_bytes());
                    eat(&[0]);
                });
            }
        }
        // weights only when there are some: unweighted data keeps the fingerprint it had
        if let Some(w) = &self.weights {
            eat(b"weights");
            w.iter().for_each(|x| eat(&x.to_bits().to_le_bytes()));
        }
        format!("{h:016x}")
    }

    /// Applies `f(target index, value)` to every regression target value (no-op for classes).
    pub fn map_target_values(&mut self, f: impl Fn(usize, f32) -> f32) {
        if let Targets::Values { data, names } = &mut self.targets {
            let k = names.len().max(1);
            data.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = f(i % k, *v));
        }
    }

    /// The number of classes for a classification dataset.
    pub fn num_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { names, .. } => Some(names.len()),
            Targets::Values { .. } => None,
        }
    }

    /// Values per target row: 1 for classes (the index), else the number of regression targets.
    pub fn target_width(&self) -> usize {
        match &self.targets {
            Targets::Classes { .. } => 1,
            Targets::Values { names, .. } => names.len(),
        }
    }

    /// Copies the features of samples `idx` into `out` (`idx.len() × n_features`, as `f32`).
    pub fn gather_features(&self, idx: &[usize], out: &mut [f32]) {
        let d = self.n_features;
        assert_eq!(
            out.len(),
            idx.len() * d,
            "gather_features: output has the wrong length"
        );
        // Large batches are copied by the worker pool, rows split between threads (a copy:
        // the same bytes whatever the thread count).
        let out_p = SharedMut(out.as_mut_ptr());
        pool::rows(idx.len(), d, 1 << 15, &|r| {
            // SAFETY: the row ranges are disjoint and inside `out` (its length was checked).
            let dst = unsafe { out_p.slice(r.start * d..r.end * d) };
            self.gather_rows(&idx[r], dst);
        });
    }

    fn gather_rows(&self, idx: &[usize], out: &mut [f32]) {
        let d = self.n_features;
        for (dst, &i) in out.chunks_exact_mut(d).zip(idx) {
            match &self.features {
                Features::F32(v) => dst.copy_from_slice(&v[i * d..(i + 1) * d]),
                Features::U8 { data, scale } => {
                    for (o, &b) in dst.iter_mut().zip(&data[i * d..(i + 1) * d]) {
                        *o = b as f32 * scale;
                    }
                }
            }
        }
    }

    /// Copies the targets of samples `idx` into `out`: class indices as `f32`, or the values.
    pub fn gather_targets(&self, idx: &[usize], out: &mut [f32]) {
        let w = self.target_width();
        assert_eq!(
            out.len(),
            idx.len() * w,
            "gather_targets: output has the wrong length"
        );
        match &self.targets {
            Targets::Classes { labels, .. } => {
                for (o, &i) in out.iter_mut().zip(idx) {
                    *o = labels[i] as f32;
                }
            }
            Targets::Values { data, .. } => {
                for (dst, &i) in out.chunks_exact_mut(w).zip(idx) {
                    dst.copy_from_slice(&data[i * w..(i + 1) * w]);
                }
            }
        }
    }

    /// All features as a `(len, n_features)` tensor.
    pub fn features_tensor(&self) -> Tensor {
        let idx: Vec<usize> = (0..self.len()).collect();
        let mut out = vec![0.0; self.len() * self.n_features];
        self.gather_features(&idx, &mut out);
        Tensor::from_vec(out, [self.len(), self.n_features]).expect("internal error: feature shape")
    }

    /// The samples at `idx`, in that order, as a new dataset.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let d = self.n_features;
        let features = match &self.features {
            Features::F32(v) => Features::F32(
                idx.iter()
                    .flat_map(|&i| v[i * d..(i + 1) * d].iter().copied())
                    .collect(),
            ),
            Features::U8 { data, scale } => Features::U8 {
                data: idx
                    .iter()
                    .flat_map(|&i| data[i * d..(i + 1) * d].iter().copied())
                    .collect(),
                scale: *scale,
            },
        };
        let targets = match &self.targets {
            Targets::Classes { labels, names } => Targets::Classes {
                labels: idx.iter().map(|&i| labels[i]).collect(),
                names: names.clone(),
            },
            Targets::Values { data, names } => {
                let w = names.len();
                Targets::Values {
                    data: idx
                        .iter()
                        .flat_map(|&i| data[i * w..(i + 1) * w].iter().copied())
                        .collect(),
                    names: names.clone(),
                }
            }
        };
        Dataset {
            features,
            n_features: d,
            targets,
            target_columns: self.target_columns.clone(),
            feature_names: self.feature_names.clone(),
            columns: self.columns.clone(),
            weights: self
                .weights
                .as_ref()
                .map(|w| idx.iter().map(|&i| w[i]).collect()),
        }
    }
}

/// Sample weights (scikit-learn's `sample_weight`): the training loss of a batch becomes
/// `Σ wᵢ·lossᵢ / Σ wᵢ` over its samples. They go with the samples through [`Dataset::subset`]
/// and so through every split; validation and test metrics stay unweighted.
impl Dataset {
    /// The dataset with one weight per sample: finite, ≥ 0, and not all 0.
    ///
    /// ```
    /// use backprop::data::{Dataset, Features, Targets};
    /// let ds = Dataset::new(Features::F32(vec![0.0, 1.0, 2.0]), 1,
    ///     Targets::Values { data: vec![0.0, 1.0, 2.0], names: vec!["y".into()] })?;
    /// let ds = ds.with_weights(vec![1.0, 0.0, 3.0])?;
    /// assert_eq!(ds.subset(&[2, 0]).weights(), Some(&[3.0, 1.0][..]));
    /// assert!(ds.clone().with_weights(vec![1.0]).is_err()); // one per sample
    /// assert!(ds.clone().with_weights(vec![1.0, -1.0, 1.0]).is_err());
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn with_weights(mut self, weights: Vec<f32>) -> Result<Dataset> {
        if weights.len() != self.len() {
            let n = weights.len();
            return Err(Error::invalid("sample weights", n, "one weight per sample"));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::invalid("sample weight", w, "a finite number ≥ 0"));
        }
        if !weights.iter().any(|&w| w > 0.0) {
            return Err(Error::invalid(
                "sample weights",
                "all 0",
                "some weight above 0",
            ));
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// The sample weights, if any.
    pub fn weights(&self) -> Option<&[f32]> {
        self.weights.as_deref()
    }

    /// The weights of samples `idx` scaled to mean 1 over them (so that a mean loss weighted by
    /// them is `Σ wᵢ·lossᵢ / Σ wᵢ`), into `out`; `None` when the dataset has no weights. A batch
    /// whose weights are all 0 gets zeros: it contributes nothing. Returns false (and leaves
    /// `out` alone) when the dataset has no weights.
    pub fn batch_weights(&self, idx: &[usize], out: &mut Vec<f32>) -> bool {
        let Some(w) = self.weights.as_ref() else {
            return false;
        };
        out.clear();
        out.extend(idx.iter().map(|&i| w[i]));
        let sum: f64 = out.iter().map(|&v| v as f64).sum();
        let f = if sum > 0.0 {
            idx.len() as f64 / sum
        } else {
            0.0
        };
        out.iter_mut().for_each(|v| *v = (*v as f64 * f) as f32);
        true
    }
}

mod cell;
pub mod columns;
pub use self::columns::{Column, ColumnPlan, DropReason, Impute, PlanStats};
pub mod csv;
pub use self::csv::{
    read_csv, read_csv_features, read_csv_features_from, read_csv_from, sniff_delimiter,
    CsvOptions, FeatureTable, MissingTarget, TargetColumn, Task, Unknown,
};
pub mod idx;
pub use self::idx::{read_idx_images, read_idx_labels, read_mnist_dir};
pub mod labels;
pub use self::labels::class_labels;
pub mod npy;
mod npy_header;
pub use self::npy::{read_npy, read_npy_dataset};
pub mod npy_table;
pub use self::npy_table::{read_npy_features, read_npy_table};
pub mod preprocess;
pub use self::preprocess::{one_hot, split, ScaleKind, Scaler, SplitSizes};
