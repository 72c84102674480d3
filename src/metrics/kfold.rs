//! The k-fold split of cross-validation: every sample is held out exactly once.

use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// A k-fold splitter: shuffles the samples with a seeded [`Rng`] and deals them round-robin
/// into k folds, so fold sizes differ by at most one. Stratified for classes (as
/// scikit-learn's `StratifiedKFold(shuffle=True)`): the samples of each class are shuffled and
/// dealt in turn, class after class, continuing the round, so every fold holds each class's
/// share to within one sample.
///
/// ```
/// use backprop::metrics::KFold;
/// use backprop::Rng;
/// let folds = KFold::new(3)?.split(7, &mut Rng::seed(1))?;
/// assert_eq!(folds.len(), 3);
/// let mut held: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
/// held.sort();
/// assert_eq!(held, (0..7).collect::<Vec<_>>()); // each sample held out once
/// assert_eq!(folds[0].train.len() + folds[0].test.len(), 7);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KFold {
    k: usize,
}

/// One round of cross-validation: the samples to train on and the fold held out, both as
/// ascending sample indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Every sample outside the fold.
    pub train: Vec<usize>,
    /// The held-out fold.
    pub test: Vec<usize>,
}

impl KFold {
    /// A splitter into `k` folds; `k` must be at least 2.
    ///
    /// ```
    /// assert!(backprop::metrics::KFold::new(1).is_err());
    /// ```
    pub fn new(k: usize) -> Result<KFold> {
        if k < 2 {
            return Err(too_many(k, None));
        }
        Ok(KFold { k })
    }

    /// The number of folds.
    pub fn folds(&self) -> usize {
        self.k
    }

    /// `n` samples in k shuffled folds, without regard to labels (at most one fold per sample).
    ///
    /// ```
    /// use backprop::metrics::KFold;
    /// let folds = KFold::new(2)?.split(5, &mut backprop::Rng::seed(7))?;
    /// assert_eq!((folds[0].test.len(), folds[1].test.len()), (3, 2));
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn split(&self, n: usize, rng: &mut Rng) -> Result<Vec<Fold>> {
        self.deal(n, vec![(0..n).collect()], rng)
    }

    /// Stratified folds of samples labelled with class indices: each class is spread over the
    /// folds as evenly as its count allows.
    ///
    /// ```
    /// use backprop::metrics::KFold;
    /// let labels = [0, 0, 0, 0, 1, 1];
    /// for f in KFold::new(2)?.split_stratified(&labels, &mut backprop::Rng::seed(7))? {
    ///     let ones = f.test.iter().filter(|&&i| labels[i] == 1).count();
    ///     assert_eq!((f.test.len(), ones), (3, 1)); // two 0s and one 1 in each fold
    /// }
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn split_stratified(&self, labels: &[u32], rng: &mut Rng) -> Result<Vec<Fold>> {
        let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
        let mut groups = vec![Vec::new(); classes];
        labels
            .iter()
            .enumerate()
            .for_each(|(i, &l)| groups[l as usize].push(i));
        self.deal(labels.len(), groups, rng)
    }

    /// The folds `backprop cv` holds out: [`split_stratified`](Self::split_stratified) by the
    /// class labels of a classification dataset, [`split`](Self::split) for regression.
    ///
    /// ```
    /// use backprop::data::{Dataset, Features, Targets};
    /// use backprop::metrics::KFold;
    /// let names = vec!["a".into(), "b".into()];
    /// let targets = Targets::Classes { labels: vec![0, 1, 0, 1], names };
    /// let data = Dataset::new(Features::F32(vec![0.0; 4]), 1, targets)?;
    /// for f in KFold::new(2)?.split_dataset(&data, &mut backprop::Rng::seed(3))? {
    ///     let b = f.test.iter().filter(|&&i| i % 2 == 1).count();
    ///     assert_eq!((f.test.len(), b), (2, 1));
    /// }
    /// # Ok::<(), backprop::Error>(())
    /// ```
    pub fn split_dataset(&self, data: &Dataset, rng: &mut Rng) -> Result<Vec<Fold>> {
        match data.targets() {
            Targets::Classes { labels, .. } => self.split_stratified(labels, rng),
            Targets::Values { .. } => self.split(data.len(), rng),
        }
    }

    /// Shuffles each group in turn and deals its samples round-robin into the folds, the
    /// round continuing from group to group. (An empty or one-sample group draws nothing from
    /// `rng`.)
    fn deal(&self, n: usize, mut groups: Vec<Vec<usize>>, rng: &mut Rng) -> Result<Vec<Fold>> {
        let k = self.k;
        if k > n {
            return Err(too_many(k, Some(n)));
        }
        let mut held = vec![Vec::with_capacity(n / k + 1); k];
        let mut next = 0;
        for g in &mut groups {
            rng.shuffle(g);
            for &i in g.iter() {
                held[next].push(i);
                next = (next + 1) % k;
            }
        }
        let mut fold_of = vec![0; n];
        for (f, test) in held.iter_mut().enumerate() {
            test.sort_unstable();
            test.iter().for_each(|&i| fold_of[i] = f);
        }
        Ok(held
            .into_iter()
            .enumerate()
            .map(|(f, test)| Fold {
                train: (0..n).filter(|&i| fold_of[i] != f).collect(),
                test,
            })
            .collect())
    }
}

fn too_many(k: usize, n: Option<usize>) -> Error {
    let value = match n {
        Some(n) => format!("{k} folds of {n} samples"),
        None => format!("{k} folds"),
    };
    Error::invalid(
        "folds",
        value,
        "at least 2 folds and at most one per sample",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_by_hand() {
        // labels 1 1 1 0 0 0 0 0 0, 3 folds: class 0 (six samples) deals two to each fold,
        // then class 1 (three samples) continues the round from fold 0: one to each fold
        let labels = [1, 1, 1, 0, 0, 0, 0, 0, 0];
        let folds = KFold::new(3)
            .unwrap()
            .split_stratified(&labels, &mut Rng::seed(5))
            .unwrap();
        for f in &folds {
            let ones = f.test.iter().filter(|&&i| labels[i] == 1).count();
            assert_eq!((f.test.len(), ones), (3, 1), "{f:?}");
        }
    }

    #[test]
    fn too_many_folds_is_an_error() {
        assert!(KFold::new(0).is_err());
        let e = KFold::new(5)
            .unwrap()
            .split(4, &mut Rng::seed(0))
            .unwrap_err();
        assert!(e.to_string().contains("5 folds of 4 samples"), "{e}");
        assert!(KFold::new(3)
            .unwrap()
            .split_stratified(&[], &mut Rng::seed(0))
            .is_err());
    }
}
