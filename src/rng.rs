//! The one random source of the library: a seeded ChaCha8 generator, passed explicitly.
//!
//! There is no global or thread-local generator anywhere in backprop. Every function that needs
//! randomness (initialisers, shuffling, dropout, splits) takes `&mut Rng`, so the same seed gives
//! the same numbers, in the same order, on every platform. Normal samples use the Marsaglia polar
//! method with `libm`'s portable `log`, so they too are bit-identical across platforms.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng as _, SeedableRng};

/// A seeded random generator (ChaCha8, from the `rand_chacha` crate).
///
/// ```
/// use backprop::Rng;
/// let mut a = Rng::seed(42);
/// let mut b = Rng::seed(42);
/// assert_eq!(a.uniform(), b.uniform());
/// let state = a.state();
/// let x = a.normal();
/// assert_eq!(Rng::from_state(&state).normal(), x);
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    inner: ChaCha8Rng,
}

/// Everything needed to resume a [`Rng`] exactly where it was (for checkpoints).
///
/// ```
/// use backprop::{Rng, RngState};
/// let mut rng = Rng::seed(7);
/// rng.uniform();
/// let saved: RngState = rng.state();
/// assert_eq!(saved.seed, Rng::seed(7).state().seed); // the same key,
/// assert_ne!(saved, Rng::seed(7).state()); // further along the stream
/// let next: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
/// let mut resumed = Rng::from_state(&saved);
/// assert_eq!((0..3).map(|_| resumed.next_u64()).collect::<Vec<_>>(), next);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RngState {
    /// The 32-byte ChaCha key.
    pub seed: [u8; 32],
    /// The ChaCha stream number.
    pub stream: u64,
    /// How many 32-bit words have been drawn.
    pub word_pos: u128,
}

impl Rng {
    /// A generator from a 64-bit seed (`ChaCha8Rng::seed_from_u64`).
    pub fn seed(seed: u64) -> Rng {
        Rng {
            inner: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The generator's exact position, to save in a checkpoint.
    pub fn state(&self) -> RngState {
        RngState {
            seed: self.inner.get_seed(),
            stream: self.inner.get_stream(),
            word_pos: self.inner.get_word_pos(),
        }
    }

    /// A generator resumed at a saved position.
    pub fn from_state(s: &RngState) -> Rng {
        let mut inner = ChaCha8Rng::from_seed(s.seed);
        inner.set_stream(s.stream);
        inner.set_word_pos(s.word_pos);
        Rng { inner }
    }

    /// A new generator derived from this one (for an independent stream, e.g. per ensemble member).
    pub fn fork(&mut self) -> Rng {
        Rng::seed(self.next_u64())
    }

    /// A raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform sample in `[0, 1)` with 24 bits of precision.
    pub fn uniform(&mut self) -> f32 {
        (self.inner.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A uniform sample in `[lo, hi)`.
    pub fn uniform_in(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    /// A standard normal sample (mean 0, standard deviation 1), Marsaglia's polar method.
    pub fn normal(&mut self) -> f32 {
        loop {
            let u = 2.0 * self.unit_f64() - 1.0;
            let v = 2.0 * self.unit_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return (u * (-2.0 * libm::log(s) / s).sqrt()) as f32;
            }
        }
    }

    /// A uniform integer in `0..n` (Lemire's method, unbiased).
    ///
    /// # Panics
    /// If `n == 0`.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0)");
        let n = n as u64;
        loop {
            let m = (self.inner.next_u64() as u128) * (n as u128);
            let lo = m as u64;
            if lo >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// Shuffles a slice in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i + 1);
            xs.swap(i, j);
        }
    }

    fn unit_f64(&mut self) -> f64 {
        (self.inner.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::seed(7);
        let mut b = Rng::seed(7);
        for _ in 0..100 {
            assert_eq!(a.normal().to_bits(), b.normal().to_bits());
        }
        assert_ne!(Rng::seed(7).next_u64(), Rng::seed(8).next_u64());
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::seed(1);
        let n = 20000;
        let xs: Vec<f32> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f32>() / n as f32;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n as f32;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }

    #[test]
    fn shuffle_is_a_permutation_and_resumes() {
        let mut r = Rng::seed(3);
        let _ = r.uniform();
        let st = r.state();
        let mut v: Vec<usize> = (0..50).collect();
        r.shuffle(&mut v);
        let mut w: Vec<usize> = (0..50).collect();
        Rng::from_state(&st).shuffle(&mut w);
        assert_eq!(v, w);
        let mut s = v.clone();
        s.sort();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
        assert_ne!(v, (0..50).collect::<Vec<_>>());
    }
}
