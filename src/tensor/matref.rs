//! [`MatRef`]: the operand view of every matrix product (`gemm.rs`, `bf16_gemm.rs`).

use super::Tensor;

/// A read-only matrix view: row-major data seen either as is or transposed.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Distance between consecutive rows / columns of the logical matrix.
    pub rs: usize,
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A rank-2 tensor (or any tensor folded to a matrix), transposed if `t`.
    pub fn new(x: &'a Tensor, t: bool) -> MatRef<'a> {
        let (r, c) = x.shape().as_matrix();
        MatRef::from_slice(x.data(), r, c, t)
    }

    /// A row-major `r×c` block of data, transposed if `t`.
    pub fn from_slice(data: &'a [f32], r: usize, c: usize, t: bool) -> MatRef<'a> {
        if t {
            MatRef {
                data,
                rows: c,
                cols: r,
                rs: 1,
                cs: c,
            }
        } else {
            MatRef {
                data,
                rows: r,
                cols: c,
                rs: c,
                cs: 1,
            }
        }
    }
}
