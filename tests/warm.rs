//! `Pipeline::prepare_warm`: more training of a trained model (scikit-learn's `warm_start` and
//! `partial_fit`), from the run's `Outcome::state` or with a fresh optimizer.

use backprop::data::{read_csv_from, CsvOptions, Dataset};
use backprop::pipeline::{Network, Pipeline};

fn xor() -> Dataset {
    let csv = format!("a,b,y\n{}", "0,0,0\n0,1,1\n1,0,1\n1,1,0\n".repeat(8));
    read_csv_from(csv.as_bytes(), "xor.csv", &CsvOptions::default()).unwrap()
}

fn pipeline() -> Pipeline {
    let mut p = Pipeline {
        network: Network::hidden(&[8]),
        val_split: 0.0,
        small_data: None,
        ..Pipeline::default()
    };
    p.trainer.epochs = 5;
    p
}

#[test]
fn a_warm_run_continues_the_state_or_starts_a_fresh_optimizer() {
    let data = xor();
    let mut p = pipeline();
    let first = p.run(&data, None, Default::default()).unwrap();
    assert_eq!(first.state.epoch, 5);
    // on from the state: epochs count on, the history holds all of them
    p.trainer.epochs = 7;
    let warm = p.prepare_warm(first.model.clone(), Some(first.state.clone()), &data);
    let more = warm.unwrap().run(Default::default()).unwrap();
    assert_eq!(more.history.epochs.len(), 7);
    assert_eq!(more.history.epochs[..5], first.history.epochs[..]);
    assert_ne!(more.model.params, first.model.params);
    // the same continuation again gives the same bytes
    let again = p.prepare_warm(first.model.clone(), Some(first.state.clone()), &data);
    assert_eq!(
        again
            .unwrap()
            .run(Default::default())
            .unwrap()
            .model
            .to_bytes(),
        more.model.to_bytes()
    );
    // a fresh optimizer: 7 new epochs from the trained weights, the scaler kept
    let fresh = p.prepare_warm(first.model.clone(), None, &data).unwrap();
    assert_eq!(fresh.model.meta.scaler, first.model.meta.scaler);
    assert_eq!(
        fresh.run(Default::default()).unwrap().history.epochs.len(),
        7
    );
}

#[test]
fn a_warm_run_refuses_other_data() {
    let data = xor();
    let p = pipeline();
    let first = p.run(&data, None, Default::default()).unwrap();
    let three = read_csv_from(
        "a,b,c,y\n0,0,0,0\n1,1,1,1\n".as_bytes(),
        "x.csv",
        &CsvOptions::default(),
    )
    .unwrap();
    let err = p
        .prepare_warm(first.model.clone(), None, &three)
        .unwrap_err();
    assert!(err.to_string().contains("features"), "{err}");
    let other = read_csv_from(
        "a,b,y\n0,0,u\n1,1,v\n".as_bytes(),
        "x.csv",
        &CsvOptions::default(),
    )
    .unwrap();
    let err = p.prepare_warm(first.model, None, &other).unwrap_err();
    assert!(err.to_string().contains("task"), "{err}");
}
