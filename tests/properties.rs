//! Properties checked over many random cases (seeded, so every run checks the same cases).

use backprop::io::{Model, TaskInfo};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::{Graph, Loss, Parameters, Rng, Shape, Tape, Tensor};

fn dims(rng: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| 1 + rng.below(5)).collect()
}

#[test]
fn broadcasting_is_symmetric_and_matches_the_explicit_expansion() {
    let mut rng = Rng::seed(1);
    for _ in 0..200 {
        let rank = 1 + rng.below(3);
        let a = dims(&mut rng, rank);
        // b: a suffix of a with some dims set to 1
        let start = rng.below(a.len());
        let b: Vec<usize> = a[start..]
            .iter()
            .map(|&d| if rng.uniform() < 0.5 { 1 } else { d })
            .collect();
        let (sa, sb) = (Shape::from(a.as_slice()), Shape::from(b.as_slice()));
        assert_eq!(Shape::broadcast(&sa, &sb), Some(sa));
        assert_eq!(Shape::broadcast(&sb, &sa), Some(sa));
        // a + b computed by the graph equals the sum computed index by index
        let ta = Tensor::randn(sa, 0.0, 1.0, &mut rng);
        let tb = Tensor::randn(sb, 0.0, 1.0, &mut rng);
        let ps = Parameters::new();
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &ps);
        let (va, vb) = (g.input(&ta), g.input(&tb));
        let y = g.add(va, vb);
        let out = g.value(y).clone();
        let (ra, rb) = (a.len(), b.len());
        let strides_a = sa.strides();
        for (i, &v) in out.data().iter().enumerate() {
            // unravel i in a's shape, then index b by its aligned, non-broadcast coordinates
            let mut rem = i;
            let mut ib = 0;
            let mut bstride = 1;
            let mut coords = vec![0; ra];
            for d in 0..ra {
                coords[d] = rem / strides_a[d];
                rem %= strides_a[d];
            }
            for d in (0..rb).rev() {
                let c = if b[d] == 1 { 0 } else { coords[ra - rb + d] };
                ib += c * bstride;
                bstride *= b[d];
            }
            assert_eq!(v, ta.data()[i] + tb.data()[ib]);
        }
    }
}

#[test]
fn transpose_and_reshape_round_trip() {
    let mut rng = Rng::seed(2);
    for _ in 0..100 {
        let (r, c) = (1 + rng.below(9), 1 + rng.below(9));
        let t = Tensor::randn([r, c], 0.0, 1.0, &mut rng);
        assert_eq!(t.t().t(), t);
        assert_eq!(t.reshape([c * r]).unwrap().reshape([r, c]).unwrap(), t);
        assert!(t.reshape([r * c + 1]).is_err());
    }
}

#[test]
fn the_gradient_of_mean_sums_to_one() {
    let mut rng = Rng::seed(3);
    for _ in 0..50 {
        let shape = dims(&mut rng, 2);
        let mut ps = Parameters::new();
        let x = ps.add("x", Tensor::randn(shape.as_slice(), 0.0, 1.0, &mut rng));
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &ps);
        let xv = g.param(x);
        let m = g.mean(xv);
        let grads = g.backward(m);
        assert!((grads.get(x).unwrap().sum() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn softmax_is_a_distribution_and_cross_entropy_is_non_negative() {
    let mut rng = Rng::seed(4);
    for _ in 0..100 {
        let (n, k) = (1 + rng.below(6), 2 + rng.below(6));
        let scale = [0.1, 1.0, 30.0, 1000.0][rng.below(4)];
        let x = Tensor::randn([n, k], 0.0, scale, &mut rng);
        let t = Tensor::from_vec((0..n).map(|_| rng.below(k) as f32).collect(), [n]).unwrap();
        let ps = Parameters::new();
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &ps);
        let (xv, tv) = (g.input(&x), g.input(&t));
        let p = g.softmax(xv);
        let l = Loss::CrossEntropy.apply(&mut g, xv, tv);
        let p = g.value(p);
        assert!(p.is_finite());
        for r in 0..n {
            assert!((p.row(r).iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
        }
        let l = g.value(l).item();
        assert!(l.is_finite() && l >= 0.0, "{l}");
    }
}

#[test]
fn any_architecture_saves_and_loads_bit_identically() {
    let mut rng = Rng::seed(5);
    let dir = tempfile::tempdir().unwrap();
    for case in 0..30 {
        let inputs = 1 + rng.below(6);
        let mut spec = MlpSpec::new(inputs);
        let layers = 1 + rng.below(4);
        for l in 0..layers {
            let act = [
                Activation::Relu,
                Activation::Tanh,
                Activation::Sigmoid,
                Activation::Identity,
            ][rng.below(4)];
            let width = 1 + rng.below(7);
            spec = if l > 0 && rng.uniform() < 0.4 {
                spec.layer_from(&[l, rng.below(l)], width, act) // a skip connection
            } else {
                spec.layer(width, act)
            };
        }
        let mut params = Parameters::new();
        let net = Mlp::new(spec.clone(), &mut params, Init::XavierNormal, &mut rng).unwrap();
        let names = (0..inputs).map(|i| format!("f{i}")).collect();
        let task = TaskInfo::Regression {
            targets: (0..spec.out_features()).map(|i| format!("t{i}")).collect(),
        };
        let meta = Model::meta(
            spec,
            Loss::Mse,
            task,
            names,
            Default::default(),
            Init::XavierNormal,
            case,
        );
        let model = Model { meta, net, params };
        let path = dir.path().join(format!("m{case}.safetensors"));
        model.save(&path).unwrap();
        let back = Model::load(&path).unwrap();
        assert_eq!(back, model);
        let x = Tensor::randn([3, inputs], 0.0, 1.0, &mut rng);
        assert_eq!(back.forward(&x).unwrap(), model.forward(&x).unwrap());
    }
}
