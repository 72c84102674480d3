//! k-fold cross-validation of a [`Pipeline`]: each fold in turn is held out as the test part
//! while a fresh network trains on the others, each fold's run a [`Prepared`] like any other.

use super::{Pipeline, Prepared};
use crate::data::Dataset;
use crate::error::Result;
use crate::metrics::{Fold, KFold};
use crate::rng::Rng;
use crate::train::Metrics;

/// The folds of one cross-validation (stratified for classes, drawn with the trainer's seed),
/// made by [`Pipeline::cross_validation`].
///
/// ```
/// use backprop::data::{read_csv_from, CsvOptions};
/// use backprop::pipeline::{Network, Pipeline};
///
/// let csv = format!("a,b,y\n{}", "0,0,0\n0,1,1\n1,0,1\n1,1,0\n".repeat(8));
/// let data = read_csv_from(csv.as_bytes(), "xor.csv", &CsvOptions::default())?;
/// let mut p = Pipeline::default();
/// p.network = Network::hidden(&[8]);
/// p.trainer.epochs = 3;
/// let cv = p.cross_validation(&data, 4)?;
/// let mut scores = vec![];
/// for i in 0..cv.len() {
///     let outcome = cv.prepare(i)?.run(Default::default())?;
///     scores.push(backprop::pipeline::cv::score(&outcome.test.expect("a held-out fold")));
/// }
/// assert_eq!(scores.len(), 4);
/// assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CrossValidation<'a> {
    pipeline: Pipeline,
    data: &'a Dataset,
    folds: Vec<Fold>,
}

impl Pipeline {
    /// Splits `data` into `k` folds for cross-validation. The runs save nothing and hold out no
    /// test part of their own (each fold is the test part in turn).
    pub fn cross_validation<'a>(&self, data: &'a Dataset, k: usize) -> Result<CrossValidation<'a>> {
        let folds = KFold::new(k)?.split_dataset(data, &mut Rng::seed(self.trainer.seed))?;
        let mut pipeline = self.clone();
        (pipeline.out, pipeline.checkpoint) = (None, None);
        (pipeline.checkpoint_every, pipeline.test_split) = (None, 0.0);
        Ok(CrossValidation {
            pipeline,
            data,
            folds,
        })
    }
}

impl CrossValidation<'_> {
    /// The number of folds.
    pub fn len(&self) -> usize {
        self.folds.len()
    }

    /// Always false: there are at least two folds.
    pub fn is_empty(&self) -> bool {
        self.folds.is_empty()
    }

    /// The row indices of fold `i` (sorted).
    pub fn fold(&self, i: usize) -> &[usize] {
        &self.folds[i].test
    }

    /// The run of fold `i`: trained on every other fold, tested on this one.
    pub fn prepare(&self, i: usize) -> Result<Prepared> {
        let f = &self.folds[i];
        let (train, test) = (self.data.subset(&f.train), self.data.subset(&f.test));
        self.pipeline.prepare(&train, Some(&test))
    }
}

/// A fold's score: accuracy for classes, R² for values (NaN when neither was measured).
pub fn score(m: &Metrics) -> f64 {
    m.accuracy.or(m.r2).unwrap_or(f32::NAN) as f64
}

/// The mean and the population standard deviation (numpy's `std`, ddof 0) of fold scores.
///
/// ```
/// let (m, s) = backprop::pipeline::cv::mean_std(&[1.0, 3.0]);
/// assert_eq!((m, s), (2.0, 1.0));
/// ```
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}
