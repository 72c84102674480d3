//! A network with a skip connection: the output layer reads both the hidden layer and the input
//! directly (Rumelhart: "connections can skip intermediate layers"). With a single hidden unit,
//! XOR needs the skip: the output combines x₁, x₂ and the hidden unit's AND-like feature.
//!
//!     cargo run --release --example skip

use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::train::{Fit, Trainer};
use backprop::{Loss, Parameters, Rng, Tape};

fn main() -> Result<(), backprop::Error> {
    let data = Dataset::new(
        Features::F32(vec![0., 0., 0., 1., 1., 0., 1., 1.]),
        2,
        Targets::Classes {
            labels: vec![0, 1, 1, 0],
            names: vec!["0".into(), "1".into()],
        },
    )?;
    // x(0) (2) → layer 1: 1 sigmoid unit → layer 2 reads [x(1), x(0)] (3 inputs) → 1 logit
    let spec =
        MlpSpec::new(2)
            .layer(1, Activation::Sigmoid)
            .layer_from(&[1, 0], 1, Activation::Identity);
    let mut params = Parameters::new();
    let net = Mlp::new(spec, &mut params, Init::XavierUniform, &mut Rng::seed(0))?;
    for (name, t) in params.named() {
        println!("{name:16} {:?}", t.dims());
    }
    let opt = OptimizerConfig::adam(0.1);
    let mut config = Trainer::new(Loss::BceWithLogits);
    config.epochs = 1000;
    config.batch_size = 0;
    let h =
        config
            .clone()
            .optimizer(opt.clone())
            .fit_with(&net, &mut params, &data, Fit::default())?;
    let last = h.epochs.last().expect("at least one epoch");
    println!(
        "after {} epochs: loss {:.4}, accuracy {:.2}",
        last.epoch,
        last.train.loss,
        last.train.accuracy.unwrap_or(0.0)
    );
    let out = net.predict(&params, &mut Tape::new(), &data.features_tensor())?;
    println!("logits {:?}", out.data());
    Ok(())
}
