//! Sample weights (issue 24): the weighted loss by hand, its gradient by finite differences,
//! weights carried through splits, and training with weight 0 = training without the row.

use backprop::data::{split, Dataset, Features, SplitSizes, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::train::Trainer;
use backprop::{Graph, Loss, Parameters, Rng, Tape, Tensor};

fn value(loss: Loss, y: &[f32], shape: [usize; 2], t: &[f32], tshape: &[usize], w: &[f32]) -> f32 {
    let ps = Parameters::new();
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let y = g.input(&Tensor::from_vec(y.to_vec(), shape).unwrap());
    let t = g.input(&Tensor::from_vec(t.to_vec(), tshape).unwrap());
    let e = loss.apply_weighted(&mut g, y, t, w);
    g.value(e).item()
}

#[test]
fn weighted_losses_by_hand() {
    // two samples, weights 0.5 and 1.5 (mean 1): Σ w·l / Σ w = (0.5·l₀ + 1.5·l₁) / 2
    let w = [0.5, 1.5];
    let y = [1.0, -1.0, 2.0, 0.0];
    let t = [0.0, 0.0, 1.0, 1.0];
    // per-sample MSE: (1 + 1)/2 = 1 and (1 + 1)/2 = 1 → 1
    assert_eq!(value(Loss::Mse, &y, [2, 2], &t, &[2, 2], &w), 1.0);
    // MAE: sample 0: (1 + 1)/2 = 1, sample 1: (1 + 1)/2 = 1 → 1; with uneven errors:
    let y2 = [3.0, 0.0, 1.0, 1.0];
    // sample 0: (3 + 0)/2 = 1.5, sample 1: 0 → (0.5·1.5 + 1.5·0)/2 = 0.375
    assert_eq!(value(Loss::Mae, &y2, [2, 2], &t, &[2, 2], &w), 0.375);
    // half SSE is a sum: ½ Σ w·(y − t)² = ½ (0.5·9 + 0) = 2.25
    assert_eq!(value(Loss::HalfSse, &y2, [2, 2], &t, &[2, 2], &w), 2.25);
    // cross-entropy, two classes with margins 2 (class 0) and 1 (class 1)
    let ce = |z: f32| (1.0 + (-z).exp()).ln();
    let v = value(
        Loss::CrossEntropy,
        &[2.0, 0.0, 0.0, 1.0],
        [2, 2],
        &[0.0, 1.0],
        &[2],
        &w,
    );
    assert!(
        (v - (0.5 * ce(2.0) + 1.5 * ce(1.0)) / 2.0).abs() < 1e-6,
        "{v}"
    );
    // hinge: sample 0 (class 0): max(0, 0 − 2 + 1) = 0; sample 1 (class 1): max(0, 0 − 1 + 1) = 0
    let v = value(
        Loss::Hinge,
        &[2.0, 0.0, 0.0, 1.0],
        [2, 2],
        &[0.0, 1.0],
        &[2],
        &w,
    );
    assert_eq!(v, 0.0);
    // ... and with a violated margin on sample 1 only: 1.5·(0.5 − 0 + 1)/2 = 1.125
    let v = value(
        Loss::Hinge,
        &[2.0, 0.0, 0.5, 0.0],
        [2, 2],
        &[0.0, 1.0],
        &[2],
        &w,
    );
    assert!((v - 1.125).abs() < 1e-6, "{v}");
}

#[test]
fn weights_of_one_give_the_plain_loss() {
    let mut rng = Rng::seed(1);
    let y = Tensor::randn([5, 3], 0.0, 1.0, &mut rng);
    let t = Tensor::rand_uniform([5, 3], 0.0, 1.0, &mut rng);
    let labels = Tensor::from_vec(vec![0.0, 2.0, 1.0, 1.0, 0.0], [5]).unwrap();
    for loss in Loss::ALL {
        let tt = if loss.takes_classes() { &labels } else { &t };
        let ps = Parameters::new();
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &ps);
        let (yv, tv) = (g.input(&y), g.input(tt));
        let plain = loss.apply(&mut g, yv, tv);
        let weighted = loss.apply_weighted(&mut g, yv, tv, &[1.0; 5]);
        let (a, b) = (g.value(plain).item(), g.value(weighted).item());
        assert!(
            (a - b).abs() <= 1e-6 * a.abs().max(1.0),
            "{loss}: {a} vs {b}"
        );
    }
}

#[test]
fn weighted_losses_pass_the_gradient_check() {
    let mut rng = Rng::seed(2);
    let y = Tensor::randn([4, 3], 0.0, 1.0, &mut rng);
    let t = Tensor::rand_uniform([4, 3], 0.0, 1.0, &mut rng);
    let labels = Tensor::from_vec(vec![0.0, 2.0, 1.0, 1.0], [4]).unwrap();
    let w = [0.2, 1.8, 0.0, 2.0];
    for loss in Loss::ALL {
        let tt = if loss.takes_classes() {
            labels.clone()
        } else {
            t.clone()
        };
        let report = backprop::gradcheck(std::slice::from_ref(&y), 1e-3, |g, v| {
            let tv = g.input(&tt);
            loss.apply_weighted(g, v[0], tv, &w)
        });
        assert!(report.passed(1e-2), "{loss}: {report:?}");
        // and the weights matter: sample 2 (weight 0) gets no gradient at all
        let gy = &report.inputs[0].analytic;
        let row = |r: usize| &gy.data()[r * 3..r * 3 + 3];
        assert_eq!(row(2), &[0.0; 3], "{loss}");
        assert!(
            row(1).iter().any(|v| *v != 0.0) || loss == Loss::Hinge,
            "{loss}"
        );
    }
}

fn table(rows: usize) -> Dataset {
    let mut rng = Rng::seed(5);
    let x = Tensor::randn([rows, 2], 0.0, 1.0, &mut rng).data().to_vec();
    let labels = (0..rows)
        .map(|i| (x[2 * i] + x[2 * i + 1] > 0.0) as u32)
        .collect();
    let names = vec!["a".into(), "b".into()];
    Dataset::new(Features::F32(x), 2, Targets::Classes { labels, names }).unwrap()
}

#[test]
fn weights_go_with_their_rows_through_splits() {
    let ds = table(40);
    let w: Vec<f32> = (0..40).map(|i| i as f32).collect();
    let ds = ds.with_weights(w).unwrap();
    let sizes = SplitSizes::Fractions {
        val: 0.25,
        test: 0.0,
    };
    let (train, val, _) = split(&ds, sizes, &mut Rng::seed(0)).unwrap();
    for part in [&train, &val] {
        let x = part.features_tensor();
        for (i, &wi) in part.weights().unwrap().iter().enumerate() {
            // find the row in the original data by its features
            let orig = (0..40)
                .find(|&j| ds.features_tensor().row(j) == x.row(i))
                .unwrap();
            assert_eq!(wi, orig as f32);
        }
    }
    assert_ne!(ds.fingerprint(), table(40).fingerprint());
    let mut out = vec![];
    assert!(ds.batch_weights(&[1, 3], &mut out));
    assert_eq!(out, [0.5, 1.5]);
    assert!(!table(4).batch_weights(&[1], &mut out));
    assert!(table(3).with_weights(vec![0.0; 3]).is_err());
    assert!(table(3).with_weights(vec![1.0, f32::NAN, 1.0]).is_err());
}

#[test]
fn weight_zero_trains_like_a_missing_row() {
    // full batch, same start: the weighted mean over the batch is the mean over the rows kept
    let ds = table(30);
    let keep: Vec<usize> = (0..30).filter(|i| i % 3 != 0).collect();
    let w: Vec<f32> = (0..30)
        .map(|i| if i % 3 == 0 { 0.0 } else { 2.5 })
        .collect();
    let train = |data: &Dataset| {
        let spec = MlpSpec::from_sizes(&[2, 5, 2], Activation::Tanh, Activation::Identity);
        let mut params = Parameters::new();
        let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(7)).unwrap();
        Trainer::new(Loss::CrossEntropy)
            .optimizer(OptimizerConfig::sgd(0.5))
            .batch_size(0)
            .epochs(20)
            .fit(&net, &mut params, data)
            .unwrap();
        params
    };
    let weighted = train(&ds.clone().with_weights(w).unwrap());
    let kept = train(&ds.subset(&keep));
    let plain = train(&ds);
    let diff = |a: &Parameters, b: &Parameters| -> f32 {
        let (a, b) = (a.tensors(), b.tensors());
        a.iter()
            .zip(b)
            .flat_map(|(x, y)| x.data().iter().zip(y.data()).map(|(p, q)| (p - q).abs()))
            .fold(0.0, f32::max)
    };
    assert!(diff(&weighted, &kept) < 1e-4, "{}", diff(&weighted, &kept));
    assert!(
        diff(&weighted, &plain) > 1e-2,
        "the weights changed nothing"
    );
}
