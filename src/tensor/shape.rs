//! Shapes: up to four dimensions, stored inline so that a shape never allocates.
//!
//! Broadcasting follows NumPy/PyTorch: shapes are aligned on their last dimension and a dimension of
//! size 1 (or a missing leading one) stretches to match the other operand.

use std::fmt;

/// The largest rank a [`Shape`] can hold.
pub const MAX_RANK: usize = 4;

/// The dimensions of a tensor, outermost first (row-major).
///
/// ```
/// use backprop::Shape;
/// let s = Shape::from([2, 3]);
/// assert_eq!(s.dims(), &[2, 3]);
/// assert_eq!(s.numel(), 6);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: usize,
}

impl Shape {
    /// A shape from a slice of dimensions.
    ///
    /// # Panics
    /// If `dims` has more than [`MAX_RANK`] entries.
    pub fn new(dims: &[usize]) -> Shape {
        assert!(
            dims.len() <= MAX_RANK,
            "shape {dims:?} has rank {} but at most {MAX_RANK} is supported",
            dims.len()
        );
        let mut d = [0; MAX_RANK];
        d[..dims.len()].copy_from_slice(dims);
        Shape {
            dims: d,
            rank: dims.len(),
        }
    }

    /// The shape of a scalar (rank 0, one element).
    pub fn scalar() -> Shape {
        Shape::default()
    }

    /// The dimensions as a slice.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank]
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of elements: the product of the dimensions (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Dimension `d`, where a negative-free index counts from the outermost dimension.
    ///
    /// # Panics
    /// If `d >= rank`.
    pub fn dim(&self, d: usize) -> usize {
        assert!(d < self.rank, "dim {d} out of range for shape {self:?}");
        self.dims[d]
    }

    /// The last dimension (the feature dimension of a batch), or 1 for a scalar.
    pub fn last(&self) -> usize {
        if self.rank == 0 {
            1
        } else {
            self.dims[self.rank - 1]
        }
    }

    /// Rows and columns when the shape is viewed as a matrix: all leading dims fold into rows.
    pub fn as_matrix(&self) -> (usize, usize) {
        let cols = self.last();
        (self.numel().checked_div(cols).unwrap_or(0), cols)
    }

    /// This shape with dimension `d` replaced by `size`.
    pub fn with_dim(&self, d: usize, size: usize) -> Shape {
        let mut s = *self;
        assert!(d < s.rank, "dim {d} out of range for shape {self:?}");
        s.dims[d] = size;
        s
    }

    /// This shape with dimension `d` removed.
    pub fn without_dim(&self, d: usize) -> Shape {
        assert!(d < self.rank, "dim {d} out of range for shape {self:?}");
        let mut v = [0; MAX_RANK];
        let mut r = 0;
        for (i, &x) in self.dims().iter().enumerate() {
            if i != d {
                v[r] = x;
                r += 1;
            }
        }
        Shape { dims: v, rank: r }
    }

    /// Row-major strides (in elements) of this shape.
    pub fn strides(&self) -> [usize; MAX_RANK] {
        let mut s = [0; MAX_RANK];
        let mut acc = 1;
        for i in (0..self.rank).rev() {
            s[i] = acc;
            acc *= self.dims[i];
        }
        s
    }

    /// The shape two operands broadcast to, or `None` if they are incompatible.
    ///
    /// ```
    /// use backprop::Shape;
    /// let out = Shape::broadcast(&Shape::from([4, 3]), &Shape::from([3]));
    /// assert_eq!(out, Some(Shape::from([4, 3])));
    /// assert_eq!(Shape::broadcast(&Shape::from([4, 3]), &Shape::from([2])), None);
    /// ```
    pub fn broadcast(a: &Shape, b: &Shape) -> Option<Shape> {
        if a == b {
            return Some(*a); // the common case, equal shapes (a field compare, no memcmp call)
        }
        let rank = a.rank.max(b.rank);
        let mut out = [0; MAX_RANK];
        for i in 0..rank {
            let da = if i < a.rank {
                a.dims[a.rank - 1 - i]
            } else {
                1
            };
            let db = if i < b.rank {
                b.dims[b.rank - 1 - i]
            } else {
                1
            };
            out[rank - 1 - i] = match (da, db) {
                _ if da == db => da,
                (1, _) => db,
                (_, 1) => da,
                _ => return None,
            };
        }
        Some(Shape { dims: out, rank })
    }

    /// Strides that read this shape as if broadcast to `out` (0 along stretched dimensions),
    /// aligned to `out`'s rank.
    pub(crate) fn broadcast_strides(&self, out: &Shape) -> [usize; MAX_RANK] {
        let own = self.strides();
        let mut s = [0; MAX_RANK];
        let off = out.rank - self.rank;
        for i in 0..self.rank {
            s[off + i] = if self.dims[i] == 1 { 0 } else { own[i] };
        }
        s
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.dims().iter().map(|d| d.to_string()).collect();
        write!(f, "({})", parts.join("×"))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Shape {
        Shape::new(&d)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Shape {
        Shape::new(d)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Shape {
        Shape::new(&d)
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Shape {
        *s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        let b = |x: &[usize], y: &[usize]| Shape::broadcast(&x.into(), &y.into());
        assert_eq!(b(&[2, 3], &[2, 3]), Some([2, 3].into()));
        assert_eq!(b(&[2, 3], &[1, 3]), Some([2, 3].into()));
        assert_eq!(b(&[1, 3], &[2, 1]), Some([2, 3].into()));
        assert_eq!(b(&[2, 3], &[]), Some([2, 3].into()));
        assert_eq!(b(&[2, 3], &[3, 3]), None);
    }

    #[test]
    fn strides_and_matrix_view() {
        let s = Shape::from([2, 3, 4]);
        assert_eq!(&s.strides()[..3], &[12, 4, 1]);
        assert_eq!(s.as_matrix(), (6, 4));
        assert_eq!(Shape::scalar().numel(), 1);
        assert_eq!(s.without_dim(1), Shape::from([2, 4]));
    }
}
