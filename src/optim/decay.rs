//! Weight decay, written once for every optimizer.
//!
//! L2 weight decay adds the gradient of `½λ‖θ‖²` to the loss's: `g ← g + λθ` (SGD, Adagrad,
//! RMSprop, Adam, Quickprop). Decoupled weight decay (AdamW) shrinks the weight itself before
//! the update instead: `θ ← θ·(1 − lr·λ)`.

/// The L2-decayed gradient `g + λθ`, computed whatever λ is (for branch-free vector loops; with
/// λ = 0 it is `g` up to the sign of a zero, which no update can see).
#[inline(always)]
pub(crate) fn l2(g: f32, theta: f32, lambda: f32) -> f32 {
    g + lambda * theta
}

/// [`l2`], or exactly `g` when λ = 0.
#[inline(always)]
pub(crate) fn l2_if(g: f32, theta: f32, lambda: f32) -> f32 {
    if lambda != 0.0 {
        l2(g, theta, lambda)
    } else {
        g
    }
}

/// Decoupled weight decay of a whole parameter: `θ ← θ·(1 − lr·λ)` (nothing when λ = 0).
pub(crate) fn decoupled(theta: &mut [f32], lr: f32, lambda: f32) {
    if lambda != 0.0 {
        theta.iter_mut().for_each(|x| *x *= 1.0 - lr * lambda);
    }
}
