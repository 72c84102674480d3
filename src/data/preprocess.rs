//! Preparing a dataset for training: seeded (stratified) train/validation/test splits, feature
//! scaling fitted on the training part only, and one-hot targets.
//!
//! Standard scaling is `x' = (x − mean) / std` with the population standard deviation (as
//! scikit-learn's `StandardScaler`); min-max scaling is `x' = (x − min) / (max − min)`. A constant
//! column would divide by zero, so its divisor is 1 (as scikit-learn): it becomes all zeros.

use super::{Dataset, Features, Targets};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// How many samples go to validation and test; training gets the rest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitSizes {
    /// Fractions of the dataset, each in `[0, 1)`, summing to less than 1. The totals are
    /// `round(len · fraction)`.
    Fractions {
        /// The validation fraction.
        val: f32,
        /// The test fraction.
        test: f32,
    },
    /// Sample counts, `val + test ≤ len`.
    Counts {
        /// Validation samples.
        val: usize,
        /// Test samples.
        test: usize,
    },
}

/// Splits `ds` into `(train, val, test)`, shuffled with `rng` (same seed, same split).
///
/// For classification the split is **stratified**: every class is split in the same
/// proportions. Class `c` with `n_c` of the `n` samples gets `⌊n_c · total / n⌋` samples of a
/// part whose size is `total`, and the samples still missing go one each to the classes with the
/// largest remainders (ties to the lower class index). So the part sizes are exact and each
/// class's share is within one sample of its exact proportion. Test is allocated after
/// validation, from what each class has left. Within each part the order is shuffled.
///
/// ```
/// use backprop::data::{preprocess::{split, SplitSizes}, Dataset, Features, Targets};
/// use backprop::Rng;
/// let labels: Vec<u32> = (0..100).map(|i| (i % 4 == 0) as u32).collect(); // 75 / 25
/// let ds = Dataset::new(Features::F32((0..100).map(|i| i as f32).collect()), 1,
///     Targets::Classes { labels, names: vec!["a".into(), "b".into()] }).unwrap();
/// let (train, val, test) = split(&ds, SplitSizes::Fractions { val: 0.2, test: 0.2 }, &mut Rng::seed(1)).unwrap();
/// assert_eq!((train.len(), val.len(), test.len()), (60, 20, 20));
/// let ones = |d: &Dataset| match d.targets() {
///     Targets::Classes { labels, .. } => labels.iter().sum::<u32>(),
///     _ => 0,
/// };
/// assert_eq!((ones(&train), ones(&val), ones(&test)), (15, 5, 5));
/// ```
pub fn split(
    ds: &Dataset,
    sizes: SplitSizes,
    rng: &mut Rng,
) -> Result<(Dataset, Dataset, Dataset)> {
    let n = ds.len();
    let (v, t) = match sizes {
        SplitSizes::Fractions { val, test } => {
            let ok = |f: f32| (0.0..1.0).contains(&f);
            if !(ok(val) && ok(test) && val + test < 1.0) {
                let value = format!("val {val}, test {test}");
                return Err(Error::invalid(
                    "split",
                    value,
                    "fractions in [0, 1) summing to less than 1",
                ));
            }
            let v = (n as f64 * val as f64).round() as usize;
            (v, ((n as f64 * test as f64).round() as usize).min(n - v))
        }
        SplitSizes::Counts { val, test } if val.saturating_add(test) <= n => (val, test),
        SplitSizes::Counts { val, test } => {
            let value = format!("val {val} + test {test} of {n} samples");
            return Err(Error::invalid(
                "split",
                value,
                "at most the number of samples",
            ));
        }
    };
    let mut groups: Vec<Vec<usize>> = match ds.targets() {
        Targets::Classes { labels, names } => {
            let mut g = vec![Vec::new(); names.len()];
            labels
                .iter()
                .enumerate()
                .for_each(|(i, &l)| g[l as usize].push(i));
            g
        }
        Targets::Values { .. } => vec![(0..n).collect()],
    };
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    let val_counts = allocate(&sizes, v, &sizes);
    let left: Vec<usize> = sizes.iter().zip(&val_counts).map(|(s, v)| s - v).collect();
    let test_counts = allocate(&sizes, t, &left);
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for ((g, &vc), &tc) in groups.iter_mut().zip(&val_counts).zip(&test_counts) {
        rng.shuffle(g);
        val.extend_from_slice(&g[..vc]);
        test.extend_from_slice(&g[vc..vc + tc]);
        train.extend_from_slice(&g[vc + tc..]);
    }
    for part in [&mut train, &mut val, &mut test] {
        rng.shuffle(part);
    }
    Ok((ds.subset(&train), ds.subset(&val), ds.subset(&test)))
}

/// Shares of `total` proportional to `sizes` (largest remainder), each at most its `cap`.
fn allocate(sizes: &[usize], total: usize, caps: &[usize]) -> Vec<usize> {
    let n: usize = sizes.iter().sum();
    if n == 0 {
        return vec![0; sizes.len()];
    }
    let exact: Vec<f64> = sizes
        .iter()
        .map(|&s| s as f64 * total as f64 / n as f64)
        .collect();
    let mut out: Vec<usize> = exact
        .iter()
        .zip(caps)
        .map(|(&e, &c)| (e.floor() as usize).min(c))
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    // Stable sort: equal remainders keep the lower class first.
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let mut missing = total.saturating_sub(out.iter().sum());
    while missing > 0 && out.iter().zip(caps).any(|(o, c)| o < c) {
        for &c in &order {
            if missing > 0 && out[c] < caps[c] {
                out[c] += 1;
                missing -= 1;
            }
        }
    }
    out
}

/// Which scaling [`Scaler::fit`] should compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleKind {
    /// Leave the features as they are.
    #[default]
    None,
    /// Zero mean and unit variance per feature.
    Standard,
    /// Each feature to `[0, 1]` over the training data.
    MinMax,
    /// Leave features that already lie within `[0, 1]` (pixels, one-hot codes, 0/1 flags)
    /// alone, and standardise otherwise: standardising a border pixel with std 1.4·10⁻⁴ turns it
    /// into values in the thousands (MNIST: 96.7 % test accuracy standardised, 97.9 % as is).
    Auto,
}

impl std::str::FromStr for ScaleKind {
    type Err = Error;

    /// `auto`, `standard`, `minmax` (or `min_max`, the name in model files) or `none`.
    ///
    /// ```
    /// use backprop::data::ScaleKind;
    /// assert_eq!("minmax".parse::<ScaleKind>().unwrap(), ScaleKind::MinMax);
    /// assert!("zscore".parse::<ScaleKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<ScaleKind> {
        Ok(match s {
            "auto" => ScaleKind::Auto,
            "standard" => ScaleKind::Standard,
            "minmax" | "min_max" => ScaleKind::MinMax,
            "none" => ScaleKind::None,
            s => return Err(Error::invalid("scale", s, "auto, standard, minmax or none")),
        })
    }
}

/// A fitted per-feature scaling, applied identically to training, validation, test and
/// prediction data. Fit it on the training part only, so no information leaks from the others.
///
/// ```
/// use backprop::data::{preprocess::{ScaleKind, Scaler}, Dataset, Features, Targets};
/// let mut ds = Dataset::new(Features::F32(vec![1.0, 5.0, 3.0, 5.0]), 2,
///     Targets::Values { data: vec![0.0, 1.0], names: vec!["y".into()] }).unwrap();
/// let scaler = Scaler::fit(ScaleKind::Standard, &ds);
/// assert_eq!(scaler, Scaler::Standard { mean: vec![2.0, 5.0], std: vec![1.0, 1.0] });
/// scaler.transform(&mut ds);
/// assert_eq!(ds.features(), &Features::F32(vec![-1.0, 0.0, 1.0, 0.0]));
/// let mut row = [4.0, 7.0];
/// scaler.transform_row(&mut row);
/// assert_eq!(row, [2.0, 2.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Scaler {
    /// No scaling.
    #[default]
    None,
    /// `x' = (x − mean) / std`.
    Standard {
        /// Per-feature mean.
        mean: Vec<f32>,
        /// Per-feature divisor: the population standard deviation, or 1 for a constant feature.
        std: Vec<f32>,
    },
    /// `x' = (x − min) / (max − min)`, dividing by 1 where `max == min`.
    MinMax {
        /// Per-feature minimum.
        min: Vec<f32>,
        /// Per-feature maximum.
        max: Vec<f32>,
    },
}

impl Scaler {
    /// Fits a scaling of kind `kind` on `train` (statistics accumulated in `f64`). An empty
    /// dataset gives the identity (mean 0, std 1; min 0, max 1).
    pub fn fit(kind: ScaleKind, train: &Dataset) -> Scaler {
        let (d, n) = (train.n_features(), train.len());
        let for_each = |f: &mut dyn FnMut(usize, f64)| match train.features() {
            Features::F32(v) => v.iter().enumerate().for_each(|(i, &x)| f(i % d, x as f64)),
            Features::U8 { data, scale } => data
                .iter()
                .enumerate()
                .for_each(|(i, &b)| f(i % d, (b as f32 * scale) as f64)),
        };
        let in_unit = || {
            let mut ok = true;
            for_each(&mut |_, x| ok &= (0.0..=1.0).contains(&x));
            ok
        };
        match kind {
            ScaleKind::None => Scaler::None,
            ScaleKind::Auto if in_unit() => Scaler::None,
            ScaleKind::Auto => Scaler::fit(ScaleKind::Standard, train),
            _ if n == 0 && kind == ScaleKind::Standard => Scaler::Standard {
                mean: vec![0.0; d],
                std: vec![1.0; d],
            },
            _ if n == 0 => Scaler::MinMax {
                min: vec![0.0; d],
                max: vec![1.0; d],
            },
            ScaleKind::Standard => {
                let mut sum = vec![0.0f64; d];
                for_each(&mut |j, x| sum[j] += x);
                let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
                let mut sq = vec![0.0f64; d];
                for_each(&mut |j, x| sq[j] += (x - mean[j]) * (x - mean[j]));
                let std = sq.iter().map(|s| (s / n as f64).sqrt() as f32);
                let std = std.map(|s| if s > 0.0 { s } else { 1.0 }).collect();
                Scaler::Standard {
                    mean: mean.iter().map(|&m| m as f32).collect(),
                    std,
                }
            }
            ScaleKind::MinMax => {
                let (mut min, mut max) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d]);
                for_each(&mut |j, x| {
                    min[j] = min[j].min(x);
                    max[j] = max[j].max(x);
                });
                let to_f32 = |v: Vec<f64>| v.into_iter().map(|m| m as f32).collect();
                Scaler::MinMax {
                    min: to_f32(min),
                    max: to_f32(max),
                }
            }
        }
    }

    /// Checks a scaler read from a file: both vectors of one length, every value finite, and no
    /// zero divisor. The message says what is wrong.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let (a, b, names) = match self {
            Scaler::None => return Ok(()),
            Scaler::Standard { mean, std } => (mean, std, ("mean", "std")),
            Scaler::MinMax { min, max } => (min, max, ("min", "max")),
        };
        if a.len() != b.len() {
            return Err(format!(
                "scaler has {} {} values but {} {} values; expected one of each per feature",
                a.len(),
                names.0,
                b.len(),
                names.1
            ));
        }
        if a.iter().chain(b).any(|v| !v.is_finite()) {
            return Err("scaler holds a value that is not finite".into());
        }
        if matches!(self, Scaler::Standard { std, .. } if std.contains(&0.0)) {
            return Err("scaler std holds a 0; expected positive divisors".into());
        }
        Ok(())
    }

    /// The number of features it was fitted on (`None` for [`Scaler::None`]).
    pub fn n_features(&self) -> Option<usize> {
        match self {
            Scaler::None => None,
            Scaler::Standard { mean, .. } => Some(mean.len()),
            Scaler::MinMax { min, .. } => Some(min.len()),
        }
    }

    /// Scales every sample of `ds` in place; `u8` features become `f32` first (unless `None`).
    ///
    /// # Panics
    /// If `ds` has a different number of features than the data the scaler was fitted on.
    pub fn transform(&self, ds: &mut Dataset) {
        let Some(d) = self.n_features() else { return };
        assert_eq!(
            ds.n_features(),
            d,
            "Scaler::transform: fitted on {d} features, dataset has {}",
            ds.n_features()
        );
        let features = ds.features_mut();
        if let Features::U8 { data, scale } = features {
            *features = Features::F32(data.iter().map(|&b| b as f32 * *scale).collect());
        }
        if let Features::F32(v) = features {
            v.chunks_exact_mut(d)
                .for_each(|row| self.transform_row(row));
        }
    }

    /// Scales one sample in place.
    ///
    /// # Panics
    /// If `row` does not have the fitted number of features.
    pub fn transform_row(&self, row: &mut [f32]) {
        let n = row.len();
        let width = |d: usize| {
            assert_eq!(
                n, d,
                "Scaler::transform_row: fitted on {d} features, row has {n}"
            )
        };
        match self {
            Scaler::None => {}
            Scaler::Standard { mean, std } => {
                width(mean.len());
                row.iter_mut()
                    .zip(mean)
                    .zip(std)
                    .for_each(|((x, m), s)| *x = (*x - m) / s);
            }
            Scaler::MinMax { min, max } => {
                width(min.len());
                for ((x, lo), hi) in row.iter_mut().zip(min).zip(max) {
                    *x = (*x - lo) / if hi > lo { hi - lo } else { 1.0 };
                }
            }
        }
    }
}

/// One-hot rows: a `(labels.len(), classes)` tensor with a 1 at each label's column.
///
/// ```
/// use backprop::data::preprocess::one_hot;
/// assert_eq!(one_hot(&[2, 0], 3).to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// ```
///
/// # Panics
/// If a label is `>= classes`.
pub fn one_hot(labels: &[u32], classes: usize) -> Tensor {
    let mut t = Tensor::zeros([labels.len(), classes]);
    for (i, &l) in labels.iter().enumerate() {
        assert!(
            (l as usize) < classes,
            "one_hot: label {l} is not below the {classes} classes"
        );
        t.data_mut()[i * classes + l as usize] = 1.0;
    }
    t
}
