//! Fused ops equal their compositions from primitives, in value and in gradient.

use backprop::{Graph, Parameters, Rng, Tape, Tensor, Var};

/// Runs `f` on a graph with `inputs` as parameters; returns the output and all input gradients.
fn run(inputs: &[Tensor], f: impl Fn(&mut Graph, &[Var]) -> Var) -> (Tensor, Vec<Tensor>) {
    let mut ps = Parameters::new();
    let ids: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| ps.add(format!("p{i}"), t.clone()))
        .collect();
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let vars: Vec<Var> = ids.iter().map(|&id| g.param(id)).collect();
    let y = f(&mut g, &vars);
    let out = g.value(y).clone();
    // project onto a fixed random tensor so the whole Jacobian is exercised
    let r = Tensor::randn(*out.shape(), 0.0, 1.0, &mut Rng::seed(99));
    let rv = g.input(&r);
    let p = g.mul(y, rv);
    let l = g.sum(p);
    let grads = g.backward(l);
    (
        out,
        ids.iter()
            .map(|&id| grads.get(id).unwrap().clone())
            .collect(),
    )
}

fn assert_same(a: &(Tensor, Vec<Tensor>), b: &(Tensor, Vec<Tensor>), tol: f32) {
    assert!(
        a.0.max_abs_diff(&b.0) <= tol,
        "values differ: {:?} vs {:?}",
        a.0,
        b.0
    );
    for (x, y) in a.1.iter().zip(&b.1) {
        assert!(x.max_abs_diff(y) <= tol, "gradients differ: {x:?} vs {y:?}");
    }
}

#[test]
fn linear_equals_matmul_transpose_add() {
    let mut rng = Rng::seed(1);
    // tiny (plain loop), one and two rows (dot-product kernel), 64 rows (copied Wᵀ), 300 (view)
    for &(n, i, o) in &[
        (1, 3, 2),
        (7, 5, 4),
        (1, 300, 40),
        (2, 70, 50),
        (64, 100, 30),
        (300, 40, 20),
    ] {
        let ins = [
            Tensor::randn([n, i], 0.0, 1.0, &mut rng),
            Tensor::randn([o, i], 0.0, 1.0, &mut rng),
            Tensor::randn([o], 0.0, 1.0, &mut rng),
        ];
        let fused = run(&ins, |g, v| g.linear(v[0], v[1], Some(v[2])));
        let composed = run(&ins, |g, v| g.linear_composed(v[0], v[1], Some(v[2])));
        assert_same(&fused, &composed, 1e-4);
        let fused = run(&ins[..2], |g, v| g.linear(v[0], v[1], None));
        let composed = run(&ins[..2], |g, v| g.linear_composed(v[0], v[1], None));
        assert_same(&fused, &composed, 1e-4);
    }
}

#[test]
fn log_softmax_equals_its_composition_even_for_large_inputs() {
    let mut rng = Rng::seed(2);
    let x = Tensor::randn([4, 6], 0.0, 3.0, &mut rng);
    assert_same(
        &run(std::slice::from_ref(&x), |g, v| g.log_softmax(v[0])),
        &run(&[x], |g, v| g.log_softmax_composed(v[0])),
        1e-5,
    );
    // 1000 would overflow a naive exp; both forms shift by the row max
    let big = Tensor::from_vec(vec![1000.0, 999.0, -1000.0, 0.0, 1e4, 1e4], [2, 3]).unwrap();
    let (y, _) = run(std::slice::from_ref(&big), |g, v| g.log_softmax(v[0]));
    assert!(y.is_finite());
    assert!((y.data()[0] - -0.313_261_7).abs() < 1e-5, "{:?}", y); // −ln(1 + e⁻¹)
    assert!((y.data()[4] - -std::f32::consts::LN_2).abs() < 1e-6);
    assert_same(
        &run(std::slice::from_ref(&big), |g, v| g.log_softmax(v[0])),
        &run(&[big], |g, v| g.log_softmax_composed(v[0])),
        1e-5,
    );
}

#[test]
fn softmax_rows_sum_to_one_and_ignore_shifts() {
    let mut rng = Rng::seed(3);
    let x = Tensor::randn([5, 7], 0.0, 2.0, &mut rng);
    let (p, _) = run(std::slice::from_ref(&x), |g, v| g.softmax(v[0]));
    for r in 0..5 {
        assert!((p.row(r).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    let (q, _) = run(&[x.map(|v| v + 50.0)], |g, v| g.softmax(v[0]));
    assert!(p.max_abs_diff(&q) < 1e-5);
}

#[test]
fn cross_entropy_equals_its_composition() {
    let mut rng = Rng::seed(4);
    let logits = Tensor::randn([6, 5], 0.0, 2.0, &mut rng);
    let labels = [0usize, 4, 2, 2, 1, 3];
    let targets = Tensor::from_vec(labels.iter().map(|&l| l as f32).collect(), [6]).unwrap();
    let mut onehot = Tensor::zeros([6, 5]);
    for (i, &l) in labels.iter().enumerate() {
        onehot.data_mut()[i * 5 + l] = 1.0;
    }
    let fused = run(std::slice::from_ref(&logits), |g, v| {
        let t = g.input(&targets);
        g.cross_entropy(v[0], t)
    });
    let composed = run(&[logits], |g, v| {
        let t = g.input(&onehot);
        g.cross_entropy_composed(v[0], t)
    });
    assert_same(&fused, &composed, 1e-5);
    assert!(fused.0.item() >= 0.0);
}
