//! XOR with a 2-2-1 sigmoid network trained by full-batch backprop, printing the loss as it falls
//! and the four outputs at the end.
//!
//!     cargo run --release --example xor

use backprop::data::{Dataset, Features, Targets};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::train::{Control, Event, Fit, Trainer};
use backprop::{Loss, Parameters, Rng, Tape};

fn main() -> Result<(), backprop::Error> {
    let inputs = vec![0., 0., 0., 1., 1., 0., 1., 1.];
    let data = Dataset::new(
        Features::F32(inputs),
        2,
        Targets::Classes {
            labels: vec![0, 1, 1, 0],
            names: vec!["0".into(), "1".into()],
        },
    )?;
    let mut params = Parameters::new();
    let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
    let net = Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(3))?;
    let opt = OptimizerConfig::sgd(0.5).with_momentum(0.9);
    let mut config = Trainer::new(Loss::Mse);
    config.epochs = 2000;
    config.batch_size = 0;
    config.clone().optimizer(opt.clone()).fit_with(
        &net,
        &mut params,
        &data,
        Fit {
            observer: Some(&mut |e: Event| {
                if let Event::Epoch { report, .. } = e {
                    if report.epoch % 200 == 0 {
                        println!(
                            "epoch {:4}  loss {:.5}  accuracy {:.2}",
                            report.epoch,
                            report.train.loss,
                            report.train.accuracy.unwrap_or(0.0)
                        );
                    }
                }
                Control::Continue
            }),
            ..Fit::default()
        },
    )?;
    let out = net.predict(&params, &mut Tape::new(), &data.features_tensor())?;
    for (i, y) in out.data().iter().enumerate() {
        let x = data.features_tensor().row(i).to_vec();
        println!("xor({}, {}) = {y:.3}", x[0], x[1]);
    }
    Ok(())
}
