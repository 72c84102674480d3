"""backprop: feed-forward networks trained by backpropagation on the CPU, in Rust.

scikit-learn estimators (`MLPClassifier`, `MLPRegressor`) whose numerics, training, scaling,
splits and early stopping are the Rust library's (`backprop._core`); this package holds the
scikit-learn plumbing only. Models are the command line's model files: `est.save(path)`
writes what `backprop predict --model path` reads, and `backprop.load(path)` reads what
`backprop train --out path` writes.
"""

from ._core import __version__
from ._estimators import MLPClassifier, MLPRegressor, load

__all__ = ["MLPClassifier", "MLPRegressor", "load", "__version__"]
