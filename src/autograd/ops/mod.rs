//! The primitive ops. Each file opens with its math; each op's forward and backward sit side by
//! side. Graph methods (`g.relu(x)`, `g.matmul(a, b)`, …) are defined next to the kernels they run.

pub(crate) mod batch_norm;
pub(crate) mod binary;
pub(crate) mod elementwise;
pub(crate) mod matmul;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod softmax;
