//! log-softmax and the fused softmax cross-entropy, along the last dim (one row per sample).
//!
//! `log_softmax(x)ᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m)` with `m = maxⱼ xⱼ`, so no `exp` overflows for
//! large inputs. Backward: `dxᵢ = dyᵢ − softmax(x)ᵢ · Σⱼ dyⱼ`, with `softmax = e^y`.
//!
//! `cross_entropy(x, t) = −(1/N) Σₙ log_softmax(xₙ)[tₙ]` for class indices `t`. Backward
//! (fused): `dxₙ = dy · (softmax(xₙ) − onehot(tₙ)) / N`. Both are tested equal to their
//! compositions from `max`, `sub`, `exp`, `sum`, `log` and `mul`.

use crate::autograd::{put, Backward, Graph, Op, Var};
use crate::tensor::{Shape, Tensor};

/// Writes one row's log-softmax into `y`.
pub(crate) fn log_softmax_row(x: &[f32], y: &mut [f32]) {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f32 = x.iter().map(|&v| (v - m).exp()).sum();
    let ls = s.ln();
    // (x − m) − ln s, not x − (m + ln s): the shift is exact, so large inputs keep their digits
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x - m) - ls;
    }
}

/// softmax of each row of a tensor (the last dim), for inference: `exp(log_softmax(x))`.
pub(crate) fn softmax_rows(x: &Tensor) -> Tensor {
    let k = x.shape().last();
    let mut p = x.clone();
    for (src, dst) in x
        .data()
        .chunks_exact(k)
        .zip(p.data_mut().chunks_exact_mut(k))
    {
        log_softmax_row(src, dst);
        dst.iter_mut().for_each(|v| *v = v.exp());
    }
    p
}

pub(crate) fn log_softmax_backward(x: Var, mut b: Backward) {
    let c = b.out.shape().last();
    let (y, dy) = (b.out.data(), b.dy.data());
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    for ((dxr, yr), dyr) in dx
        .data_mut()
        .chunks_exact_mut(c)
        .zip(y.chunks_exact(c))
        .zip(dy.chunks_exact(c))
    {
        let s: f32 = dyr.iter().sum();
        put(dxr, acc, |i| dyr[i] - yr[i].exp() * s);
    }
}

pub(crate) fn cross_entropy_backward(x: Var, target: Var, mut b: Backward) {
    let probs = b.aux;
    let c = probs.shape().last();
    let n = probs.numel() / c;
    let t = b.values.get(target).data();
    let g = b.dy.data()[0] / n as f32;
    let Some((dx, acc)) = b.sink.slot(x) else {
        return;
    };
    for (r, (dxr, pr)) in dx
        .data_mut()
        .chunks_exact_mut(c)
        .zip(probs.data().chunks_exact(c))
        .enumerate()
    {
        let ti = t[r] as usize;
        put(dxr, acc, |i| g * (pr[i] - if i == ti { 1.0 } else { 0.0 }));
    }
}

impl Graph<'_, '_> {
    /// log-softmax along the last dim, numerically stable for large inputs.
    pub fn log_softmax(&mut self, x: Var) -> Var {
        let s = self.shape(x);
        let c = s.last();
        self.push(Op::LogSoftmax(x), &[x], |v, y, _| {
            y.resize(s);
            for (xr, yr) in v
                .get(x)
                .data()
                .chunks_exact(c)
                .zip(y.data_mut().chunks_exact_mut(c))
            {
                log_softmax_row(xr, yr);
            }
        })
    }

    /// Mean softmax cross-entropy of `logits` `(batch, classes)` against `targets` `(batch)`
    /// holding class indices (as `f32`), like PyTorch's `F.cross_entropy`.
    ///
    /// # Panics
    /// If the shapes disagree or a target is not a class index in `0..classes`.
    pub fn cross_entropy(&mut self, logits: Var, targets: Var) -> Var {
        let (sx, st) = (self.shape(logits), self.shape(targets));
        let (n, c) = sx.as_matrix();
        assert!(
            sx.rank() == 2 && st.numel() == n,
            "cross_entropy: logits {sx:?} need (batch, classes) and targets (batch), got {st:?}"
        );
        for (i, &t) in self.value(targets).data().iter().enumerate() {
            assert!(
                t >= 0.0 && (t as usize) < c && t.fract() == 0.0,
                "cross_entropy: target {t} of sample {i} is not a class index in 0..{c}"
            );
        }
        self.push(
            Op::CrossEntropy(logits, targets),
            &[logits, targets],
            |v, y, probs| {
                probs.resize(sx);
                let t = v.get(targets).data();
                let mut total = 0.0f32;
                for (r, (xr, pr)) in v
                    .get(logits)
                    .data()
                    .chunks_exact(c)
                    .zip(probs.data_mut().chunks_exact_mut(c))
                    .enumerate()
                {
                    log_softmax_row(xr, pr);
                    total -= pr[t[r] as usize];
                    for p in pr.iter_mut() {
                        *p = p.exp();
                    }
                }
                y.resize(Shape::scalar());
                y.data_mut()[0] = total / n as f32;
            },
        )
    }
}
