"""scikit-learn's own estimator checks over both estimators (small networks, few epochs, so
the suite stays quick); the few expected failures are listed with their reasons."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from backprop import MLPClassifier, MLPRegressor

# Repeating a row and weighting it 2 are the same loss, but not the same run: the repeated
# row also changes the shuffled mini-batches (scikit-learn's own MLP lists this check too).
_WEIGHTS = (
    "sample weights scale each sample's loss term; a repeated row also changes the "
    "shuffled mini-batches, so the two fits differ (a stochastic optimizer)"
)
EXPECTED_FAILURES = {
    "MLPClassifier": {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS},
    "MLPRegressor": {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
        # float32 products: the kernels for one row and for a block of rows sum in
        # different orders, so predictions on a subset differ in the last bit (2e-7 here,
        # the check wants 1e-7; classes and probabilities within float32 round-off pass)
        "check_methods_subset_invariance": "float32 round-off (2e-7) between the one-row "
        "and the many-row product kernels",
    },
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01, random_state=0),
        MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01, random_state=0),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
