//! Parameters: the named, trainable tensors of a model, in a fixed order.
//!
//! Layers hold [`ParamId`]s; the tensors themselves live here, so a graph can read them without
//! copying and an optimizer can update them all in one place. Names are PyTorch state-dict keys
//! (`layers.0.weight`), so weights line up with a PyTorch model of the same architecture.

use crate::tensor::Tensor;

/// The index of a parameter in its [`Parameters`]: ids count from 0 in the order the tensors
/// were added.
///
/// ```
/// use backprop::{ParamId, Parameters, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("layers.0.weight", Tensor::zeros([2, 3]));
/// let b = ps.add("layers.0.bias", Tensor::zeros([2]));
/// assert_eq!((w, b), (ParamId(0), ParamId(1)));
/// assert_eq!(ps.find("layers.0.bias"), Some(b));
/// ps[b].data_mut()[1] = 0.5; // index the store by id
/// assert_eq!(ps.tensors()[1].to_vec(), vec![0.0, 0.5]);
/// assert_eq!(ps.ids().collect::<Vec<_>>(), vec![w, b]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub usize);

/// A store of named trainable tensors.
///
/// ```
/// use backprop::{Parameters, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("layers.0.weight", Tensor::zeros([3, 2]));
/// assert_eq!(ps[w].dims(), &[3, 2]);
/// assert_eq!(ps.name(w), "layers.0.weight");
/// assert_eq!(ps.numel(), 6);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parameters {
    names: Vec<String>,
    tensors: Vec<Tensor>,
}

impl Parameters {
    /// An empty store.
    pub fn new() -> Parameters {
        Parameters::default()
    }

    /// Adds a tensor under a name and returns its id.
    ///
    /// # Panics
    /// If the name is already taken.
    pub fn add(&mut self, name: impl Into<String>, t: Tensor) -> ParamId {
        let name = name.into();
        assert!(!self.names.contains(&name), "parameter {name} added twice");
        self.names.push(name);
        self.tensors.push(t);
        ParamId(self.tensors.len() - 1)
    }

    /// The number of parameter tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The total number of scalar parameters.
    pub fn numel(&self) -> usize {
        self.tensors.iter().map(Tensor::numel).sum()
    }

    /// The state-dict name of a parameter.
    pub fn name(&self, id: ParamId) -> &str {
        &self.names[id.0]
    }

    /// The id of a named parameter.
    pub fn find(&self, name: &str) -> Option<ParamId> {
        self.names.iter().position(|n| n == name).map(ParamId)
    }

    /// All ids in order.
    pub fn ids(&self) -> impl Iterator<Item = ParamId> {
        (0..self.tensors.len()).map(ParamId)
    }

    /// `(name, tensor)` pairs in order, like PyTorch's `named_parameters()`.
    pub fn named(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.names.iter().map(String::as_str).zip(&self.tensors)
    }

    /// The tensors in order.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// The tensors in order, mutable (for optimizers and loaders).
    pub fn tensors_mut(&mut self) -> &mut [Tensor] {
        &mut self.tensors
    }
}

impl std::ops::Index<ParamId> for Parameters {
    type Output = Tensor;
    fn index(&self, id: ParamId) -> &Tensor {
        &self.tensors[id.0]
    }
}

impl std::ops::IndexMut<ParamId> for Parameters {
    fn index_mut(&mut self, id: ParamId) -> &mut Tensor {
        &mut self.tensors[id.0]
    }
}
