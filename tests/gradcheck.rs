//! Finite-difference gradient checks for every primitive op and the composites.
//!
//! Each case reduces the op's output with a random projection, `L = Σ r ⊙ op(x)`, so one backward
//! covers the whole vector–Jacobian product (a plain sum can hide sign errors that cancel).
//! `case` matches on `OpKind` without a wildcard: a new op does not compile until it has a case,
//! and `every_op_kind_is_checked` runs them all and checks each case really records its op.

use backprop::{gradcheck, Graph, OpKind, Rng, Tensor, Var};

const H: f32 = 1e-3;
const TOL: f32 = 2e-2;

/// Random values in ±[lo, hi] (away from 0 so kinks and poles are avoided).
fn away(shape: &[usize], lo: f32, hi: f32, rng: &mut Rng) -> Tensor {
    let t = Tensor::rand_uniform(shape, lo, hi, rng);
    t.zip_map(&Tensor::rand_uniform(shape, 0.0, 1.0, rng), |x, s| {
        if s < 0.5 {
            -x
        } else {
            x
        }
    })
}

/// Projects `y` onto a fixed random tensor: `Σ r ⊙ y`.
fn project(g: &mut Graph, y: Var, seed: u64) -> Var {
    let r = Tensor::randn(g.shape(y), 0.0, 1.0, &mut Rng::seed(seed));
    let rv = g.input(&r);
    let p = g.mul(y, rv);
    g.sum(p)
}

type Build = Box<dyn Fn(&mut Graph, &[Var]) -> Var>;

fn case(kind: OpKind, rng: &mut Rng) -> (Vec<Tensor>, Build) {
    let m = |r: &mut Rng| Tensor::randn([3, 4], 0.0, 1.0, r);
    match kind {
        OpKind::Neg => (vec![m(rng)], Box::new(|g, v| g.neg(v[0]))),
        OpKind::Exp => (vec![m(rng)], Box::new(|g, v| g.exp(v[0]))),
        OpKind::Log => (
            vec![Tensor::rand_uniform([3, 4], 0.5, 3.0, rng)],
            Box::new(|g, v| g.log(v[0])),
        ),
        OpKind::Sigmoid => (vec![m(rng)], Box::new(|g, v| g.sigmoid(v[0]))),
        OpKind::Tanh => (vec![m(rng)], Box::new(|g, v| g.tanh(v[0]))),
        OpKind::Relu => (
            vec![away(&[3, 4], 0.1, 2.0, rng)],
            Box::new(|g, v| g.relu(v[0])),
        ),
        OpKind::LeakyRelu => (
            vec![away(&[3, 4], 0.1, 2.0, rng)],
            Box::new(|g, v| g.leaky_relu(v[0], 0.1)),
        ),
        OpKind::Powf => (
            vec![Tensor::rand_uniform([3, 4], 0.5, 2.0, rng)],
            Box::new(|g, v| g.powf(v[0], 2.5)),
        ),
        OpKind::Scale => (vec![m(rng)], Box::new(|g, v| g.scale(v[0], -1.5))),
        // flat on both sides of the threshold: the finite difference and the gradient are both 0
        OpKind::Step => (
            vec![away(&[3, 4], 0.1, 2.0, rng)],
            Box::new(|g, v| g.step(v[0])),
        ),
        // bias-style broadcasting of a row over a batch, checked for both operands
        OpKind::Add => (
            vec![m(rng), Tensor::randn([4], 0.0, 1.0, rng)],
            Box::new(|g, v| g.add(v[0], v[1])),
        ),
        OpKind::Sub => (
            vec![Tensor::randn([1, 4], 0.0, 1.0, rng), m(rng)],
            Box::new(|g, v| g.sub(v[0], v[1])),
        ),
        OpKind::Mul => (
            vec![m(rng), Tensor::randn([3, 1], 0.0, 1.0, rng)],
            Box::new(|g, v| g.mul(v[0], v[1])),
        ),
        OpKind::Div => (
            vec![m(rng), away(&[4], 0.5, 2.0, rng)],
            Box::new(|g, v| g.div(v[0], v[1])),
        ),
        OpKind::Matmul => (
            vec![m(rng), Tensor::randn([4, 5], 0.0, 1.0, rng)],
            Box::new(|g, v| g.matmul(v[0], v[1])),
        ),
        OpKind::Linear => (
            vec![
                m(rng),
                Tensor::randn([5, 4], 0.0, 1.0, rng),
                Tensor::randn([5], 0.0, 1.0, rng),
            ],
            Box::new(|g, v| g.linear(v[0], v[1], Some(v[2]))),
        ),
        OpKind::Sum => (vec![m(rng)], Box::new(|g, v| g.sum_dim(v[0], 0, false))),
        OpKind::Max => (vec![m(rng)], Box::new(|g, v| g.max_dim(v[0], 1, true))),
        OpKind::Transpose => (vec![m(rng)], Box::new(|g, v| g.transpose(v[0]))),
        OpKind::Reshape => (vec![m(rng)], Box::new(|g, v| g.reshape(v[0], [2, 6]))),
        OpKind::Concat => (
            vec![m(rng), Tensor::randn([3, 2], 0.0, 1.0, rng)],
            Box::new(|g, v| g.concat(&[v[0], v[1], v[0]])),
        ),
        OpKind::Slice => (vec![m(rng)], Box::new(|g, v| g.slice(v[0], 1, 2))),
        OpKind::LogSoftmax => (vec![m(rng)], Box::new(|g, v| g.log_softmax(v[0]))),
        OpKind::CrossEntropy => (
            vec![m(rng)],
            Box::new(|g, v| {
                let t = g.input(&Tensor::from_vec(vec![0.0, 3.0, 1.0], [3]).unwrap());
                g.cross_entropy(v[0], t)
            }),
        ),
        // training mode (batch statistics); the running statistics (inputs 3 and 4) are not read
        OpKind::BatchNorm => (
            vec![
                m(rng),
                away(&[4], 0.5, 2.0, rng),
                Tensor::randn([4], 0.0, 1.0, rng),
                Tensor::zeros([4]),
                Tensor::ones([4]),
            ],
            Box::new(|g, v| {
                g.set_training(true);
                let stats = backprop::autograd::RunningStats {
                    mean: backprop::ParamId(3),
                    var: backprop::ParamId(4),
                    momentum: 0.1,
                    eps: 1e-5,
                };
                g.batch_norm(v[0], v[1], v[2], stats)
            }),
        ),
    }
}

#[test]
fn every_op_kind_is_checked() {
    let mut rng = Rng::seed(2024);
    for (k, &kind) in OpKind::ALL.iter().enumerate() {
        let (inputs, build) = case(kind, &mut rng);
        let report = gradcheck(&inputs, H, |g, v| {
            let y = build(g, v);
            if g.grad_enabled() {
                assert_eq!(
                    g.op_kind(y),
                    Some(kind),
                    "the case for {kind:?} must end in that op"
                );
            }
            if g.value(y).numel() == 1 {
                y
            } else {
                project(g, y, k as u64)
            }
        });
        assert!(
            report.passed(TOL),
            "{kind:?}: max rel error {} (abs {})",
            report.max_rel(),
            report.max_abs()
        );
    }
}

#[test]
fn composites_are_checked() {
    let mut rng = Rng::seed(7);
    let x = Tensor::randn([3, 4], 0.0, 1.0, &mut rng);
    let cases: Vec<(&str, Build)> = vec![
        ("mean", Box::new(|g, v| g.mean(v[0]))),
        ("mean_dim", Box::new(|g, v| g.mean_dim(v[0], 1, false))),
        ("softmax", Box::new(|g, v| g.softmax(v[0]))),
        ("square", Box::new(|g, v| g.square(v[0]))),
        (
            "log_softmax_composed",
            Box::new(|g, v| g.log_softmax_composed(v[0])),
        ),
        ("sum_all", Box::new(|g, v| g.sum(v[0]))),
        // a value used twice: gradients add at the branch (x·x + x)
        (
            "branch",
            Box::new(|g, v| {
                let xx = g.mul(v[0], v[0]);
                g.add(xx, v[0])
            }),
        ),
    ];
    for (i, (name, build)) in cases.iter().enumerate() {
        let report = gradcheck(std::slice::from_ref(&x), H, |g, v| {
            let y = build(g, v);
            if g.value(y).numel() == 1 {
                y
            } else {
                project(g, y, 100 + i as u64)
            }
        });
        assert!(
            report.passed(TOL),
            "{name}: max rel error {}",
            report.max_rel()
        );
    }
}

#[test]
fn broadcasting_a_column_over_a_square_matrix() {
    // (3, 3) ⊙ (3, 1): the column must not be mistaken for a row of the same length
    let mut rng = Rng::seed(12);
    let a = Tensor::randn([3, 3], 0.0, 1.0, &mut rng);
    let c = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3, 1]).unwrap();
    let report = gradcheck(&[a.clone(), c.clone()], H, |g, v| {
        let y = g.sub(v[0], v[1]);
        project(g, y, 5)
    });
    assert!(report.passed(TOL), "{}", report.max_rel());
    let want: Vec<f32> = a
        .data()
        .iter()
        .enumerate()
        .map(|(i, x)| x - c.data()[i / 3])
        .collect();
    let ps = backprop::Parameters::new();
    let mut tape = backprop::Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let (av, cv) = (g.input(&a), g.input(&c));
    let y = g.sub(av, cv);
    assert_eq!(g.value(y).to_vec(), want);
}

#[test]
fn gradcheck_catches_a_wrong_backward() {
    // The analytic side is right for y = x² only if backward is right. Here the computation
    // mixes in a value whose gradient is deliberately hidden from backprop: scale(x, 2) is added
    // through an input node (a constant copy of x), so the analytic gradient misses a term.
    let x = Tensor::from_vec(vec![0.3, -0.7, 1.2], [3]).unwrap();
    let report = gradcheck(std::slice::from_ref(&x), H, |g, v| {
        let copy = g.value(v[0]).clone();
        let detached = g.input(&copy); // no gradient flows through this copy
        let y = g.mul(v[0], detached); // true d/dx Σ x·x = 2x, backprop sees only x
        g.sum(y)
    });
    assert!(!report.passed(TOL), "a wrong gradient passed: {report:?}");
    // analytic x vs numerical 2x: relative error 0.5 on every element
    assert!(
        (report.max_rel() - 0.5).abs() < 1e-2,
        "{}",
        report.max_rel()
    );
}

/// The model-level check used by `backprop gradcheck`: a correct regression model with targets
/// in the hundreds passes (round-off allowance scaled to the loss), a ReLU net's kinks are
/// skipped and counted, and a gradient that is wrong in one element fails.
#[test]
fn model_check_passes_correct_gradients_and_catches_a_wrong_one() {
    use backprop::nn::{analytic_gradients, check_against, check_gradients, Activation, Init};
    use backprop::nn::{Mlp, MlpSpec};
    use backprop::{Loss, Parameters};
    let spec = MlpSpec::from_sizes(&[4, 16, 1], Activation::Relu, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::KaimingUniform, &mut Rng::seed(3)).unwrap();
    let x = Tensor::randn([8, 4], 0.0, 1.0, &mut Rng::seed(4));
    let t = Tensor::randn([8, 1], 150.0, 80.0, &mut Rng::seed(5)); // like diabetes' targets
    let ok = check_gradients(&net, &params, &x, &t, Loss::Mse, 1e-3, 1e-2).unwrap();
    assert!(ok.passed(), "{ok:?}");
    assert!(ok.tensors.iter().all(|c| c.checked > 0));
    // a ReLU net on random data has units near their kink for some ±h steps: counted, not failed
    let x0 = Tensor::randn([64, 4], 0.0, 1.0, &mut Rng::seed(6));
    let t0 = Tensor::randn([64, 1], 0.0, 1.0, &mut Rng::seed(7));
    let kinky = check_gradients(&net, &params, &x0, &t0, Loss::Mse, 5e-2, 1e-2).unwrap();
    assert!(kinky.passed(), "{kinky:?}");
    assert!(
        kinky.tensors.iter().map(|c| c.kinks).sum::<usize>() > 0,
        "{kinky:?}"
    );
    // one analytic element off by 10 %: caught
    let mut wrong = analytic_gradients(&net, &params, &x, &t, Loss::Mse).unwrap();
    let i = wrong[0]
        .data()
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .unwrap()
        .0;
    wrong[0].data_mut()[i] *= 1.1;
    let bad = check_against(&net, &params, &x, &t, Loss::Mse, 1e-3, 1e-2, &wrong).unwrap();
    assert!(!bad.passed(), "{bad:?}");
    assert_eq!(bad.tensors[0].failed, 1, "{bad:?}");
}
