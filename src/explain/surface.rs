//! The error surface of seed 002: the training loss E(w₁, w₂) over a grid of two chosen
//! weights, every other weight held at its value, and the path gradient descent takes on it.
//!
//! E is the loss as training computes it: the forward pass on the features
//! ([`forward_for_loss`](crate::nn::Module::forward_for_loss), so a loss that reads logits
//! reads them), then the loss against the targets as [`encode_targets`] gives them, over every
//! row of the data, in evaluation mode (no dropout). The descent is full-batch gradient descent on the two weights alone,
//!
//! ```text
//! wᵢ ← wᵢ − η ∂E/∂wᵢ     (i = 1, 2; ∂E/∂wᵢ by backprop through the whole network)
//! ```
//!
//! from their current values or a given start. `backprop plot loss-surface` draws the result.
//!
//! ```
//! use backprop::data::{Dataset, Features, Targets};
//! use backprop::explain::lfd_example;
//! use backprop::explain::surface::{loss_surface, SurfaceSpec, Weight};
//! use backprop::{nn::Mlp, Loss, Tape};
//! let (spec, params, x, y) = lfd_example(); // seed 001's 1-2-1-1 tanh network
//! let net = Mlp::from_params(spec, &params)?;
//! let targets = Targets::Values { data: y, names: vec!["y".into()] };
//! let data = Dataset::new(Features::F32(x), 1, targets)?;
//! let spec = SurfaceSpec {
//!     weights: Weight::parse_pair(&params, "layers.2.weight[0,0],layers.2.bias[0]")?,
//!     half_range: [1.0, 1.0],
//!     points: 5,
//!     start: None,
//!     descend: 3,
//!     lr: 0.1,
//! };
//! let s = loss_surface(&net, &params, &data, Loss::HalfSse, &spec)?;
//! assert_eq!((s.current, s.losses.len(), s.path.len()), ([2.0, 1.0], 25, 4));
//! assert_eq!((s.node(0, 0), s.node(0, 4), s.node(1, 2)), (1.0, 3.0, 1.0));
//! // the middle node is the network as it is: ½(x(3) − 1)² with seed 001's x(3) ≈ −0.666
//! let x3 = net.predict(&params, &mut Tape::new(), &data.features_tensor())?.data()[0] as f64;
//! assert!((s.loss_at(2, 2) - 0.5 * (x3 - 1.0).powi(2)).abs() < 1e-6);
//! assert!(s.path.windows(2).all(|p| p[1].loss < p[0].loss)); // downhill
//! # Ok::<(), backprop::Error>(())
//! ```

mod problem;
mod weight;

use problem::Problem;
pub use weight::Weight;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::Mlp;
use crate::params::Parameters;
use crate::train::encode_targets;
use std::ops::Range;

/// What [`loss_surface`] computes: the two weights, the grid around them, and the descent.
#[derive(Clone, Debug, PartialEq)]
pub struct SurfaceSpec {
    /// w₁ and w₂, the grid's axes (see [`Weight::parse_pair`]).
    pub weights: [Weight; 2],
    /// The grid reaches this far either side of each weight's current value (positive).
    pub half_range: [f64; 2],
    /// Grid points along each axis, 2 to 400.
    pub points: usize,
    /// Where the descent starts; `None`: the weights' current values.
    pub start: Option<[f64; 2]>,
    /// Gradient-descent steps to take (0: none).
    pub descend: usize,
    /// The descent's learning rate η (positive).
    pub lr: f64,
}

/// One point of the descent: the two weights and the loss there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// (w₁, w₂).
    pub w: [f64; 2],
    /// E(w₁, w₂).
    pub loss: f64,
}

/// The loss over the grid and the descent path, as [`loss_surface`] returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct LossSurface {
    /// The two weights.
    pub weights: [Weight; 2],
    /// Their values in the network.
    pub current: [f64; 2],
    /// The grid's extent along w₁ and w₂: the asked range around `current`, widened (with 5 %
    /// to spare) to hold the whole descent path.
    pub axes: [Range<f64>; 2],
    /// Grid points along each axis.
    pub points: usize,
    /// E at the grid nodes, row by row: w₁ grows along a row, w₂ from row to row.
    pub losses: Vec<f64>,
    /// The descent: its start, then one entry per step (it stops early where the loss or the
    /// next step is not finite). Empty when neither a descent nor a start was asked for.
    pub path: Vec<Step>,
    /// Whether both gradients were 0 at the start, so the descent could not move.
    pub stuck: bool,
}

impl LossSurface {
    /// The value of weight `axis` (0 or 1) at grid index `i`.
    pub fn node(&self, axis: usize, i: usize) -> f64 {
        let r = &self.axes[axis];
        r.start + i as f64 * (r.end - r.start) / (self.points - 1) as f64
    }

    /// E at grid node (i along w₁, j along w₂).
    pub fn loss_at(&self, i: usize, j: usize) -> f64 {
        self.losses[j * self.points + i]
    }

    /// The lowest and highest finite loss on the grid; `None` when none is finite.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        finite_bounds(self.losses.iter().copied())
    }

    /// The grid node with the lowest finite loss, as (w₁, w₂); `None` when none is finite.
    pub fn lowest(&self) -> Option<[f64; 2]> {
        let n = self.points;
        self.losses
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .min_by(|x, y| x.1.total_cmp(y.1))
            .map(|(k, _)| [self.node(0, k % n), self.node(1, k / n)])
    }
}

impl SurfaceSpec {
    /// Refuses a range that is not positive, a grid outside 2–400 points, a learning rate that
    /// is not positive, or a start that is not finite.
    pub fn validate(&self) -> Result<()> {
        if self.half_range.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            let [a, b] = self.half_range;
            return Err(Error::invalid(
                "range",
                format!("{a}, {b}"),
                "positive numbers",
            ));
        }
        if !(2..=400).contains(&self.points) {
            return Err(Error::invalid(
                "grid",
                self.points,
                "2 to 400 points per axis",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid("lr", self.lr, "a positive learning rate"));
        }
        if let Some([a, b]) = self.start.filter(|s| s.iter().any(|v| !v.is_finite())) {
            return Err(Error::invalid(
                "start",
                format!("{a}, {b}"),
                "finite numbers",
            ));
        }
        Ok(())
    }
}

/// The loss of `net` with `params` on every row of `data` over the grid of `spec` — see the
/// [module](self) — and the descent path; `params` is left as it is.
pub fn loss_surface(
    net: &Mlp,
    params: &Parameters,
    data: &Dataset,
    loss: Loss,
    spec: &SurfaceSpec,
) -> Result<LossSurface> {
    spec.validate()?;
    if data.is_empty() {
        return Err(Error::invalid("data", "no rows", "at least one row"));
    }
    let idx: Vec<usize> = (0..data.len()).collect();
    let mut p = Problem {
        net,
        params: params.clone(),
        x: data.features_tensor(),
        t: encode_targets(loss, data, net.spec.out_features(), &idx)?,
        loss,
        w: &spec.weights,
    };
    let current = spec.weights.each_ref().map(|w| w.get(params) as f64);
    let (path, stuck) = p.descend(spec.start.unwrap_or(current), spec)?;
    let axis = |i: usize| -> Range<f64> {
        let (mut lo, mut hi) = (
            current[i] - spec.half_range[i],
            current[i] + spec.half_range[i],
        );
        if let Some((plo, phi)) = finite_bounds(path.iter().map(|s| s.w[i])) {
            let pad = 0.05 * (phi.max(hi) - plo.min(lo));
            if plo < lo {
                lo = plo - pad;
            }
            if phi > hi {
                hi = phi + pad;
            }
        }
        lo..hi
    };
    let mut s = LossSurface {
        weights: spec.weights.clone(),
        current,
        axes: [axis(0), axis(1)],
        points: spec.points,
        losses: Vec::with_capacity(spec.points * spec.points),
        path,
        stuck,
    };
    for j in 0..s.points {
        for i in 0..s.points {
            p.set([s.node(0, i), s.node(1, j)]);
            s.losses.push(p.loss()?);
        }
    }
    Ok(s)
}

/// The lowest and highest finite value.
fn finite_bounds(vals: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    vals.into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Features, Targets};
    use crate::nn::MlpSpec;

    /// One linear unit y = w·x + b under the MSE on (x, t) = (0, 1), (1, 3):
    /// E(w, b) = ½[(b − 1)² + (w + b − 3)²].
    fn unit(w: f32, b: f32) -> (Mlp, Parameters, Dataset) {
        let spec = MlpSpec::from_json(&format!(
            r#"{{"in_features": 1, "layers": [{{"units": 1, "activation": "identity",
                "init": {{"weight": [[{w}]], "bias": [{b}]}}}}]}}"#
        ))
        .unwrap();
        let mut params = Parameters::new();
        let init = crate::nn::Init::Uniform(1.0);
        let net = Mlp::new(spec, &mut params, init, &mut crate::Rng::seed(0)).unwrap();
        let targets = Targets::Values {
            data: vec![1.0, 3.0],
            names: vec!["t".into()],
        };
        let data = Dataset::new(Features::F32(vec![0.0, 1.0]), 1, targets).unwrap();
        (net, params, data)
    }

    fn spec(params: &Parameters, points: usize, descend: usize, lr: f64) -> SurfaceSpec {
        SurfaceSpec {
            weights: Weight::parse_pair(params, "layers.0.weight[0,0],layers.0.bias[0]").unwrap(),
            half_range: [1.0, 2.0],
            points,
            start: None,
            descend,
            lr,
        }
    }

    #[test]
    fn grid_and_descent_by_hand() {
        // at (w, b) = (2, 1) the unit fits both points: E = 0 there
        let (net, params, data) = unit(2.0, 1.0);
        let s = loss_surface(&net, &params, &data, Loss::Mse, &spec(&params, 3, 0, 0.1)).unwrap();
        assert_eq!(s.axes, [1.0..3.0, -1.0..3.0]);
        assert!(s.path.is_empty() && !s.stuck);
        // node (i, j) = (w, b) ∈ {1, 2, 3} × {−1, 1, 3}; E(1, −1) = ½[4 + 9] = 6.5,
        // E(3, 3) = ½[4 + 9] = 6.5, E(2, 1) = 0, E(3, 1) = ½[0 + 1] = 0.5
        assert_eq!((s.loss_at(0, 0), s.loss_at(2, 2)), (6.5, 6.5));
        assert_eq!((s.loss_at(1, 1), s.loss_at(2, 1)), (0.0, 0.5));
        assert_eq!(s.lowest(), Some([2.0, 1.0]));
        assert_eq!(s.bounds().map(|b| b.0), Some(0.0));
        // the descent from (0, 0): E = ½(1 + 9) = 5; ∂E/∂w = (w + b − 3) = −3,
        // ∂E/∂b = (b − 1) + (w + b − 3) = −4; one step of 0.5 → (1.5, 2), E = ½(1 + 0.25)
        let mut sp = spec(&params, 3, 1, 0.5);
        sp.start = Some([0.0, 0.0]);
        let s = loss_surface(&net, &params, &data, Loss::Mse, &sp).unwrap();
        assert_eq!(
            s.path,
            [
                Step {
                    w: [0.0, 0.0],
                    loss: 5.0
                },
                Step {
                    w: [1.5, 2.0],
                    loss: 0.625
                }
            ]
        );
        // the w axis [1, 3] grows to hold w = 0: 5 % of the span 3 below it
        assert!(
            (s.axes[0].start - -0.15).abs() < 1e-12 && s.axes[0].end == 3.0,
            "{:?}",
            s.axes
        );
        assert_eq!(
            params,
            unit(2.0, 1.0).1,
            "the parameters are left as they were"
        );
    }

    #[test]
    fn bad_settings_are_errors() {
        let (net, params, data) = unit(2.0, 1.0);
        let bad = [
            SurfaceSpec {
                half_range: [0.0, 1.0],
                ..spec(&params, 3, 0, 0.1)
            },
            spec(&params, 1, 0, 0.1),
            spec(&params, 401, 0, 0.1),
            spec(&params, 3, 1, -0.1),
            SurfaceSpec {
                start: Some([f64::NAN, 0.0]),
                ..spec(&params, 3, 0, 0.1)
            },
        ];
        for (sp, name) in bad.iter().zip(["range", "grid", "grid", "lr", "start"]) {
            let e = loss_surface(&net, &params, &data, Loss::Mse, sp).unwrap_err();
            assert!(e.to_string().contains(&format!("invalid {name}")), "{e}");
        }
    }
}
