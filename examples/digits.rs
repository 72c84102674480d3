//! The UCI digits data (embedded in the repository): a 64-128-10 ReLU network trained with Adam
//! on a stratified 80 % split, reporting accuracy on the 20 % it never saw.
//!
//!     cargo run --release --example digits

use backprop::data::{read_csv, split, CsvOptions, ScaleKind, Scaler, SplitSizes};
use backprop::nn::{Activation, Init, Mlp, MlpSpec};
use backprop::optim::OptimizerConfig;
use backprop::train::{evaluate, Control, Event, Fit, Trainer};
use backprop::{Loss, Parameters, Rng};

fn main() -> Result<(), backprop::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv");
    let data = read_csv(path, &CsvOptions::default())?;
    let mut rng = Rng::seed(0);
    let (mut train, _, mut test) = split(
        &data,
        SplitSizes::Fractions {
            val: 0.0,
            test: 0.2,
        },
        &mut rng,
    )?;
    let scaler = Scaler::fit(ScaleKind::Standard, &train);
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    println!(
        "{} training and {} held-out samples, {} features, 10 classes",
        train.len(),
        test.len(),
        train.n_features()
    );

    let mut params = Parameters::new();
    let spec = MlpSpec::from_sizes(&[64, 128, 10], Activation::Relu, Activation::Identity);
    let net = Mlp::new(spec, &mut params, Init::KaimingUniform, &mut rng)?;
    let opt = OptimizerConfig::adam(1e-3);
    let mut config = Trainer::new(Loss::CrossEntropy);
    config.epochs = 40;
    config.batch_size = 32;
    config.clone().optimizer(opt.clone()).fit_with(
        &net,
        &mut params,
        &train,
        Fit {
            observer: Some(&mut |e: Event| {
                if let Event::Epoch { report, .. } = e {
                    if report.epoch % 10 == 0 {
                        let acc = report.train.accuracy.unwrap_or(0.0);
                        println!(
                            "epoch {:3}  loss {:.4}  train accuracy {:.2} %",
                            report.epoch,
                            report.train.loss,
                            100.0 * acc
                        );
                    }
                }
                Control::Continue
            }),
            ..Fit::default()
        },
    )?;
    let m = evaluate(&net, &params, Loss::CrossEntropy, &test)?;
    println!(
        "held-out accuracy {:.2} % (loss {:.4})",
        100.0 * m.accuracy.unwrap_or(0.0),
        m.loss
    );
    Ok(())
}
