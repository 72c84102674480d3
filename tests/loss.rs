//! Every loss: a value worked by hand, and a finite-difference check of its gradient.

use backprop::{gradcheck, Graph, Loss, Parameters, Rng, Tape, Tensor};

fn value(loss: Loss, y: &Tensor, t: &Tensor) -> f32 {
    let ps = Parameters::new();
    let mut tape = Tape::new();
    let mut g = Graph::new(&mut tape, &ps);
    let (yv, tv) = (g.input(y), g.input(t));
    let l = loss.apply(&mut g, yv, tv);
    g.value(l).item()
}

fn t(d: &[f32], s: &[usize]) -> Tensor {
    Tensor::from_slice(d, s).unwrap()
}

#[test]
fn values_by_hand() {
    // y = [[1, 2], [3, 4]], t = [[0, 2], [5, 4]] → diffs 1, 0, −2, 0
    let (y, tt) = (t(&[1., 2., 3., 4.], &[2, 2]), t(&[0., 2., 5., 4.], &[2, 2]));
    assert_eq!(value(Loss::HalfSse, &y, &tt), 2.5); // ½(1 + 4)
    assert_eq!(value(Loss::SquaredError, &y, &tt), 2.5); // (1 + 4)/2 samples
    assert_eq!(value(Loss::Mse, &y, &tt), 1.25); // 5/4 elements
    assert_eq!(value(Loss::Mae, &y, &tt), 0.75); // 3/4
                                                 // BCE on logits: y = 0, t = 1 → ln 2; y = 2, t = 0 → 2 + ln(1 + e⁻²) = 2.126928
    let b = value(
        Loss::BceWithLogits,
        &t(&[0., 2.], &[2, 1]),
        &t(&[1., 0.], &[2, 1]),
    );
    assert!(
        (b - (std::f32::consts::LN_2 + 2.126_928) / 2.0).abs() < 1e-5,
        "{b}"
    );
    // cross-entropy: logits [0, 0] class 1 → ln 2; logits [ln 3, 0, 0]… use [0, ln 3] class 1 → ln(4/3)
    let ce = value(
        Loss::CrossEntropy,
        &t(&[0., 0., 0., 3f32.ln()], &[2, 2]),
        &t(&[1., 1.], &[2]),
    );
    assert!(
        (ce - (std::f32::consts::LN_2 + (4f32 / 3.).ln()) / 2.0).abs() < 1e-6,
        "{ce}"
    );
    // hinge (cs231n's example): scores [3.2, 5.1, −1.7], class 0 → max(0, 5.1−3.2+1) + max(0, −1.7−3.2+1) = 2.9
    // scores [1.3, 4.9, 2.0], class 1 → 0 + 0 = 0; scores [2.2, 2.5, −3.1], class 2 → 6.3 + 6.6 = 12.9
    let h = value(
        Loss::Hinge,
        &t(&[3.2, 5.1, -1.7, 1.3, 4.9, 2.0, 2.2, 2.5, -3.1], &[3, 3]),
        &t(&[0., 1., 2.], &[3]),
    );
    assert!((h - (2.9 + 0.0 + 12.9) / 3.0).abs() < 1e-5, "{h}");
}

#[test]
fn every_loss_passes_a_gradient_check() {
    let mut rng = Rng::seed(3);
    for loss in Loss::ALL {
        let y = Tensor::randn([4, 3], 0.0, 1.0, &mut rng);
        let target = if loss.takes_classes() {
            t(&[0., 2., 1., 2.], &[4])
        } else if loss == Loss::BceWithLogits {
            Tensor::rand_uniform([4, 3], 0.0, 1.0, &mut rng).map(|v| v.round())
        } else {
            // keep |y − t| away from 0 for MAE's kink
            y.zip_map(&Tensor::rand_uniform([4, 3], 0.2, 1.0, &mut rng), |a, d| {
                a + if d > 0.6 { d } else { -d }
            })
        };
        let report = gradcheck(std::slice::from_ref(&y), 1e-3, |g, v| {
            let tv = g.input(&target);
            loss.apply(g, v[0], tv)
        });
        assert!(report.passed(2e-2), "{loss}: {}", report.max_rel());
    }
}

#[test]
fn names_round_trip() {
    for loss in Loss::ALL {
        assert_eq!(loss.to_string().parse::<Loss>().unwrap(), loss);
    }
    assert!("nope".parse::<Loss>().unwrap_err().contains("expected"));
}
