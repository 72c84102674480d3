//! The CSV reader on arbitrary bytes: `read_csv_from` (training) and `read_csv_features_from`
//! (prediction). The first byte picks the options (header, task, target column), so one corpus
//! covers every combination; the rest is the file.
#![no_main]

use backprop::data::{read_csv_features_from, read_csv_from, CsvOptions, TargetColumn, Task};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let opts = CsvOptions {
        header: [None, Some(true), Some(false)][usize::from(pick % 3)],
        task: [Task::Auto, Task::Classification, Task::Regression][usize::from(pick / 3 % 3)],
        target: match pick / 9 % 4 {
            0 => TargetColumn::Last,
            1 => TargetColumn::Index(0),
            2 => TargetColumn::Name("label".into()),
            _ => TargetColumn::Name("y*".into()),
        },
        targets: match pick / 36 % 2 {
            0 => vec![],
            _ => vec![TargetColumn::Index(1)],
        },
        ..CsvOptions::default()
    };
    let _ = read_csv_from(file, "fuzz.csv", &opts);
    let names = ["a".to_string(), "b".to_string()];
    let expected = (pick & 0x80 != 0).then_some(&names[..]);
    let _ = read_csv_features_from(file, "fuzz.csv", &opts, expected);
});
