//! `backprop plot regions` and `backprop plot loss-surface` through the real binary: the SVG files
//! are well formed, the picture at a data coordinate shows what the model predicts there (read
//! from the cells' `data-*` attributes, and the cells' pixel positions checked against them), the
//! axes are in the data's own units, the loss surface's numbers are the loss, and bad input is a
//! clear error.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backprop"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A user mistake: exit code 2, one `error:` line with every needle, no panic.
fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.starts_with("error: ") && !err.contains("panicked"),
        "{args:?}: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// Every opened tag is closed in order, and the document is one `<svg>` element.
fn well_formed(svg: &str) {
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let mut stack: Vec<String> = vec![];
    for tag in svg.split('<').skip(1) {
        let tag = tag.split('>').next().expect("a closed tag");
        let name = |t: &str| t.split_whitespace().next().unwrap_or("").to_string();
        if tag.ends_with('/') {
            continue;
        } else if let Some(closing) = tag.strip_prefix('/') {
            let open = stack.pop().expect("a closing tag without an opening one");
            assert_eq!(open, name(closing), "<{open}> closed by </{closing}>");
        } else {
            stack.push(name(tag));
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

/// The attributes of every `<name …>` element.
fn elements(svg: &str, name: &str) -> Vec<HashMap<String, String>> {
    let open = format!("<{name} ");
    svg.split(&open)
        .skip(1)
        .map(|rest| {
            let body = rest.split('>').next().unwrap();
            let mut attrs = HashMap::new();
            for part in body.split("\" ") {
                if let Some((k, v)) = part.split_once("=\"") {
                    attrs.insert(
                        k.trim().to_string(),
                        v.trim_end_matches(['"', '/']).to_string(),
                    );
                }
            }
            attrs
        })
        .collect()
}

fn num(e: &HashMap<String, String>, key: &str) -> f64 {
    e.get(key)
        .unwrap_or_else(|| panic!("no {key} in {e:?}"))
        .parse()
        .unwrap()
}

/// The grid cells: rectangles with data coordinates.
fn cells(svg: &str) -> Vec<HashMap<String, String>> {
    elements(svg, "rect")
        .into_iter()
        .filter(|e| e.contains_key("data-x0"))
        .collect()
}

/// The cell whose data rectangle holds `(x, y)`.
fn cell_at(cells: &[HashMap<String, String>], x: f64, y: f64) -> &HashMap<String, String> {
    let hits: Vec<_> = cells
        .iter()
        .filter(|c| {
            num(c, "data-x0") <= x
                && x < num(c, "data-x1")
                && num(c, "data-y0") <= y
                && y < num(c, "data-y1")
        })
        .collect();
    assert_eq!(hits.len(), 1, "cells at ({x}, {y}): {hits:?}");
    hits[0]
}

/// A straight line through `(data, pixel)` pairs, checked to hold for all of them within 1.5 px:
/// the picture's pixels agree with the data coordinates the cells claim.
fn pixel_map(pairs: &[(f64, f64)]) -> impl Fn(f64) -> f64 {
    let (lo, hi) = pairs.iter().fold((pairs[0], pairs[0]), |(lo, hi), &p| {
        (
            if p.0 < lo.0 { p } else { lo },
            if p.0 > hi.0 { p } else { hi },
        )
    });
    let slope = (hi.1 - lo.1) / (hi.0 - lo.0);
    let f = move |v: f64| lo.1 + (v - lo.0) * slope;
    for &(d, p) in pairs {
        assert!(
            (f(d) - p).abs() <= 1.5,
            "data {d} at pixel {p}, expected {}",
            f(d)
        );
    }
    f
}

/// The x and y pixel maps of a picture's cells (left/bottom edges and right/top edges).
fn cell_maps(cells: &[HashMap<String, String>]) -> (impl Fn(f64) -> f64, impl Fn(f64) -> f64) {
    let mut xs = vec![];
    let mut ys = vec![];
    for c in cells {
        let (px, py) = (num(c, "x"), num(c, "y"));
        let (w, h) = (num(c, "width"), num(c, "height"));
        xs.push((num(c, "data-x0"), px));
        xs.push((num(c, "data-x1"), px + w));
        // pixel y grows downwards: the top edge is the larger data value
        ys.push((num(c, "data-y1"), py));
        ys.push((num(c, "data-y0"), py + h));
    }
    (pixel_map(&xs), pixel_map(&ys))
}

/// `(x, y, anchor, text)` of every `<text>` element.
fn texts(svg: &str) -> Vec<(f64, f64, String, String)> {
    svg.split("<text ")
        .skip(1)
        .map(|t| {
            let (head, rest) = t.split_once('>').unwrap();
            let e = &elements(&format!("<text {head}>"), "text")[0];
            let body = rest.split("</text>").next().unwrap().trim().to_string();
            let anchor = e.get("text-anchor").cloned().unwrap_or_default();
            (num(e, "x"), num(e, "y"), anchor, body)
        })
        .collect()
}

/// The threshold XOR net (hand-set, no training): the cells at the four corners show the XOR
/// truth table, and so does the colour there; the dots carry the data's values.
#[test]
fn threshold_xor_regions_follow_the_truth_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let arch = repo("examples/arch/xor-threshold.json");
    let data = repo("examples/data/xor.csv");
    ok(
        d,
        &[
            "plot", "regions", "--arch", &arch, &data, "--out", "xor.svg",
        ],
    );
    let svg = std::fs::read_to_string(d.join("xor.svg")).unwrap();
    well_formed(&svg);
    let cells = cells(&svg);
    assert!(cells.len() >= 4, "{} cells", cells.len());
    let (px, py) = cell_maps(&cells);
    let at = |x: f64, y: f64| cell_at(&cells, x, y);
    let fill = |x, y| at(x, y)["fill"].clone();
    // a value map: the cell's colour band [lo, hi) holds the net's output, 0 or 1
    for (x, y, want) in [(0., 0., 0.), (0., 1., 1.), (1., 0., 1.), (1., 1., 0.)] {
        let c = at(x, y);
        let (lo, hi) = (num(c, "data-lo"), num(c, "data-hi"));
        assert!(
            lo <= want && want <= hi,
            "XOR({x}, {y}) = {want}, cell {c:?}"
        );
        assert!(hi - lo < 0.5, "a band narrower than the two values: {c:?}");
    }
    assert_eq!(fill(0., 0.), fill(1., 1.));
    assert_eq!(fill(0., 1.), fill(1., 0.));
    assert_ne!(fill(0., 0.), fill(0., 1.));
    // the hidden units' lines x0 + x1 = 0.5 and 1.5: the middle of the square fires, the corner
    // strips outside them do not
    assert_eq!(fill(0.5, 0.5), fill(0., 1.));
    assert_eq!(fill(0.1, 0.1), fill(0., 0.));
    assert_eq!(fill(0.9, 0.9), fill(1., 1.));
    // one dot per row, with its true value, where the axes put its features
    let dots: Vec<_> = elements(&svg, "circle")
        .into_iter()
        .filter(|c| c.contains_key("data-value"))
        .collect();
    for c in &dots {
        let (x, y) = (num(c, "data-x"), num(c, "data-y"));
        assert!((px(x) - num(c, "cx")).abs() <= 1.0 && (py(y) - num(c, "cy")).abs() <= 1.0);
        assert_eq!(num(c, "data-value"), (x != y) as u8 as f64, "{c:?}");
    }
    let dots: Vec<f64> = dots.iter().map(|c| num(c, "data-value")).collect();
    assert_eq!(dots.len(), 32);
    assert_eq!(dots.iter().filter(|&&v| v == 1.0).count(), 16);
}

/// Three blobs with features in the hundreds and thousands: a model trained with standardised
/// features predicts each blob's class at its centre of the picture (so the grid went through
/// the model's scaling once, in the right orientation), and the tick labels are in the data's
/// units at the pixels the cells put those values.
#[test]
fn trained_model_regions_are_in_original_units() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let centres = [
        (200.0, 1500.0, "west"),
        (800.0, 1500.0, "east"),
        (500.0, 2800.0, "north"),
    ];
    let mut csv = String::from("width,height,where\n");
    let mut rng = backprop::Rng::seed(7);
    for i in 0..60 {
        let (x, y, name) = centres[i % 3];
        csv += &format!(
            "{:.1},{:.1},{name}\n",
            x + 40.0 * rng.normal() as f64,
            y + 150.0 * rng.normal() as f64
        );
    }
    std::fs::write(d.join("blobs.csv"), csv).unwrap();
    #[rustfmt::skip]
    ok(d, &["train", "blobs.csv", "--hidden", "8", "--epochs", "150", "--lr", "0.05",
        "--batch-size", "full", "--val-split", "0", "--early-stopping", "0", "--scale", "standard",
        "--quiet", "--out", "m.safetensors"]);
    ok(
        d,
        &[
            "plot",
            "regions",
            "m.safetensors",
            "blobs.csv",
            "--out",
            "r.svg",
        ],
    );
    let svg = std::fs::read_to_string(d.join("r.svg")).unwrap();
    well_formed(&svg);
    let cells = cells(&svg);
    for (x, y, name) in centres {
        assert_eq!(cell_at(&cells, x, y)["data-class"], name, "at ({x}, {y})");
    }
    // every dot is labelled with its row's class
    let dots: Vec<_> = elements(&svg, "circle")
        .into_iter()
        .filter(|c| c.contains_key("data-class"))
        .collect();
    assert_eq!(dots.len(), 60);
    // tick labels: numbers in the data's units, at the pixel the cells give their value
    let (px, py) = cell_maps(&cells);
    let ticks: Vec<(f64, f64, String, f64)> = texts(&svg)
        .into_iter()
        .filter_map(|(x, y, anchor, t)| Some((x, y, anchor, t.parse::<f64>().ok()?)))
        .collect();
    let x_ticks: Vec<_> = ticks.iter().filter(|t| t.2 == "middle").collect();
    let y_ticks: Vec<_> = ticks
        .iter()
        .filter(|t| t.2 == "end" && t.0 < 100.0)
        .collect();
    assert!(x_ticks.len() >= 4 && y_ticks.len() >= 4, "{ticks:?}");
    for (x, _, _, v) in &x_ticks {
        assert!((50.0..=1000.0).contains(v), "x tick {v}");
        assert!(
            (px(*v) - x).abs() <= 2.0,
            "x tick {v} at pixel {x}, not {}",
            px(*v)
        );
    }
    for (_, y, _, v) in &y_ticks {
        assert!((1000.0..=3500.0).contains(v), "y tick {v}");
        assert!(
            (py(*v) - y).abs() <= 2.0,
            "y tick {v} at pixel {y}, not {}",
            py(*v)
        );
    }
    let texts: Vec<String> = texts(&svg).into_iter().map(|t| t.3).collect();
    std::fs::write(d.join("other.csv"), "width,depth,where\n1,2,east\n").unwrap();
    fails(
        d,
        &["plot", "regions", "m.safetensors", "other.csv"],
        &["other.csv", "no column named \"height\""],
    );
    for want in ["width", "height", "east", "north", "west"] {
        assert!(texts.iter().any(|t| t == want), "no {want:?} in {texts:?}");
    }
}

/// The MSE of seed 002's single sigmoid unit σ(w·x + b) on examples/data/sigmoid-unit.csv.
fn sigmoid_unit_mse(w: f64, b: f64) -> f64 {
    let csv = std::fs::read_to_string(repo("examples/data/sigmoid-unit.csv")).unwrap();
    let rows: Vec<(f64, f64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let (x, y) = l.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    let sq: f64 = rows
        .iter()
        .map(|(x, y)| (1.0 / (1.0 + (-(w * x + b)).exp()) - y).powi(2))
        .sum();
    sq / rows.len() as f64
}

/// The loss surface of one sigmoid unit: every cell holds the loss at its weights, the grid's
/// lowest loss is where the data was made (w = 2, b = −1) and below the start, and the descent
/// path goes downhill inside the grid.
#[test]
fn loss_surface_holds_the_loss_and_the_descent_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let arch = repo("examples/arch/sigmoid-unit.json");
    let data = repo("examples/data/sigmoid-unit.csv");
    #[rustfmt::skip]
    let out = ok(d, &["plot", "loss-surface", "--arch", &arch, &data,
        "--weights", "layers.0.weight[0,0],layers.0.bias[0]", "--range", "4", "--grid", "41",
        "--start=-4,-1", "--descend", "60", "--lr", "2", "--out", "s.svg"]);
    assert!(out.contains("lowest loss"), "{out}");
    let svg = std::fs::read_to_string(d.join("s.svg")).unwrap();
    well_formed(&svg);
    let grid: Vec<_> = elements(&svg, "rect")
        .into_iter()
        .filter(|e| e.contains_key("data-loss"))
        .collect();
    assert_eq!(grid.len(), 41 * 41);
    for c in grid.iter().step_by(97) {
        let (w, b, e) = (num(c, "data-w1"), num(c, "data-w2"), num(c, "data-loss"));
        assert!((e - sigmoid_unit_mse(w, b)).abs() < 1e-5, "{c:?}");
    }
    let bounds = |k: &str| {
        grid.iter()
            .map(|c| num(c, k))
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
    };
    let (w_lo, w_hi) = bounds("data-w1");
    let (b_lo, b_hi) = bounds("data-w2");
    // centred on the net's weights (−1, 2), ±4; the bias axis grows below −2 to hold the path
    assert_eq!((w_lo, w_hi, b_hi), (-5.0, 3.0, 6.0));
    assert!(b_lo < -2.0, "{b_lo}");
    let best = grid
        .iter()
        .min_by(|a, b| num(a, "data-loss").total_cmp(&num(b, "data-loss")))
        .unwrap();
    assert!((num(best, "data-w1") - 2.0).abs() <= 0.2, "{best:?}");
    assert!((num(best, "data-w2") + 1.0).abs() <= 0.2, "{best:?}");

    let mut path: Vec<_> = elements(&svg, "circle")
        .into_iter()
        .filter(|e| e.contains_key("data-step"))
        .collect();
    path.sort_by_key(|p| num(p, "data-step") as usize);
    assert_eq!(path.len(), 61);
    let start = &path[0];
    assert_eq!((num(start, "data-w1"), num(start, "data-w2")), (-4.0, -1.0));
    assert!((num(start, "data-loss") - sigmoid_unit_mse(-4.0, -1.0)).abs() < 1e-5);
    assert!(num(best, "data-loss") <= num(start, "data-loss"));
    for pair in path.windows(2) {
        assert!(
            num(&pair[1], "data-loss") <= num(&pair[0], "data-loss") + 1e-6,
            "uphill: {pair:?}"
        );
    }
    for p in &path {
        let (w, b) = (num(p, "data-w1"), num(p, "data-w2"));
        assert!(
            (w_lo..=w_hi).contains(&w) && (b_lo..=b_hi).contains(&b),
            "{p:?}"
        );
    }
    assert!(num(&path[60], "data-loss") < 0.5 * num(start, "data-loss"));
}

/// A classifier whose loss reads the logits: the surface at the model's own weights is the
/// cross-entropy that `evaluate` reports as the log-loss, and a long descent that leaves the
/// asked range widens the grid to hold it.
#[test]
fn loss_surface_of_a_classifier_is_its_cross_entropy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut csv = String::from("a,b,y\n");
    let mut rng = backprop::Rng::seed(3);
    for i in 0..40 {
        let c = i % 2;
        csv += &format!(
            "{:.3},{:.3},{}\n",
            c as f32 + rng.normal(),
            rng.normal(),
            ["no", "yes"][c]
        );
    }
    std::fs::write(d.join("d.csv"), csv).unwrap();
    #[rustfmt::skip]
    ok(d, &["train", "d.csv", "--hidden", "3", "--epochs", "5", "--val-split", "0",
        "--quiet", "--out", "m.safetensors"]);
    let eval = ok(d, &["evaluate", "m.safetensors", "d.csv"]);
    let log_loss: f64 = eval
        .lines()
        .find_map(|l| l.strip_prefix("log-loss "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    #[rustfmt::skip]
    ok(d, &["plot", "loss-surface", "m.safetensors", "d.csv", "--weights",
        "layers.1.weight[1,0],layers.1.bias[1]", "--range", "0.5", "--grid", "11",
        "--descend", "200", "--lr", "5", "--out", "s.svg"]);
    let svg = std::fs::read_to_string(d.join("s.svg")).unwrap();
    well_formed(&svg);
    let step0 = elements(&svg, "circle")
        .into_iter()
        .find(|e| e.get("data-step").map(String::as_str) == Some("0"))
        .unwrap();
    assert!(
        (num(&step0, "data-loss") - log_loss).abs() < 1e-4,
        "{step0:?} vs {log_loss}"
    );
    let grid: Vec<_> = elements(&svg, "rect")
        .into_iter()
        .filter(|e| e.contains_key("data-loss"))
        .collect();
    let lowest = grid
        .iter()
        .map(|c| num(c, "data-loss"))
        .fold(f64::MAX, f64::min);
    assert!(lowest <= log_loss + 1e-6);
    let (w_lo, w_hi) = grid
        .iter()
        .map(|c| num(c, "data-w1"))
        .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    for p in elements(&svg, "circle")
        .iter()
        .filter(|e| e.contains_key("data-step"))
    {
        assert!(
            (w_lo..=w_hi).contains(&num(p, "data-w1")),
            "{p:?} outside [{w_lo}, {w_hi}]"
        );
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let unit = repo("examples/arch/sigmoid-unit.json");
    let unit_data = repo("examples/data/sigmoid-unit.csv");
    let xor = repo("examples/arch/xor-threshold.json");
    let xor_data = repo("examples/data/xor.csv");
    let w = "layers.0.weight[0,0],layers.0.bias[0]";
    fails(
        d,
        &["plot", "regions", "--arch", &unit, &unit_data],
        &["2 input features", "takes 1 (x0)"],
    );
    // rows wider than the model's inputs and a target
    std::fs::write(d.join("wide.csv"), "x0,x1,x2,y\n0,1,1,1\n").unwrap();
    fails(
        d,
        &["plot", "regions", "--arch", &xor, "wide.csv"],
        &["wide.csv", "expected 2 fields"],
    );
    fails(
        d,
        &[
            "plot",
            "regions",
            "--arch",
            &xor,
            "m.safetensors",
            &xor_data,
        ],
        &["only DATA"],
    );
    let surface = |weights: &str| {
        vec![
            "plot".to_string(),
            "loss-surface".into(),
            "--arch".into(),
            unit.clone(),
            unit_data.clone(),
            "--weights".into(),
            weights.into(),
        ]
    };
    let check = |weights: &str, needles: &[&str]| {
        let args = surface(weights);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(d, &args, needles);
    };
    check(
        "layers.3.weight[0,0],layers.0.bias[0]",
        &["no parameter \"layers.3.weight\"", "layers.0.weight [1, 1]"],
    );
    check(
        "layers.0.weight[0,1],layers.0.bias[0]",
        &["layers.0.weight[0, 1]", "shape is [1, 1]"],
    );
    check("layers.0.weight[0],layers.0.bias[0]", &["shape is [1, 1]"]);
    check(
        "layers.0.weight[a,0],layers.0.bias[0]",
        &["0-based integers"],
    );
    check("layers.0.weight[0,0]", &["two weights"]);
    check("layers.0.bias,layers.0.bias[0]", &["the same weight twice"]);
    let mut args = surface(w);
    args.extend(["--range".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(d, &args, &["--range"]);
    // no target column to take the loss against
    std::fs::write(d.join("x.csv"), "x0\n1\n2\n").unwrap();
    fails(
        d,
        &[
            "plot",
            "loss-surface",
            "--arch",
            &unit,
            "x.csv",
            "--weights",
            w,
        ],
        &["no target column"],
    );
}
