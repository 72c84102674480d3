//! The playground's 2-D data sets, drawn with the library's seeded [`Rng`] and written as CSV
//! text (`x1,x2,label`), so that a built-in set goes through the same reader as an uploaded
//! file — and the page can hand the very same file to `backprop explain` and `backprop predict`.
//!
//! Points lie in about [−1, 1]²; `noise` (0 to 1) blurs the classes:
//!
//! - `gaussians`: two round clouds around (−½, −½) (class 0) and (½, ½) (class 1), standard
//!   deviation 0.1 + 0.4·noise;
//! - `xor`: uniform in [−1, 1]², kept 0.05 off the axes, class 1 where x1 and x2 have different
//!   signs; then moved by 0.2·noise·N(0, 1), so noise pushes points over the boundary;
//! - `circles`: class 0 inside radius ½, class 1 on the ring from 0.7 to 1, moved as for xor;
//! - `spiral`: two interleaved arms of 1.75 turns out to radius 1, moved by 0.1·noise·N(0, 1).

use backprop::Rng;
use std::f32::consts::PI;

/// The names [`generate`] knows.
pub const KINDS: [&str; 4] = ["gaussians", "xor", "circles", "spiral"];

/// `n` points of the named set as CSV text with a header `x1,x2,label` (labels `0` and `1`),
/// or an error naming the known sets.
///
/// ```
/// let csv = backprop_web::datasets::generate("xor", 4, 0.0, 1).unwrap();
/// assert_eq!(csv.lines().count(), 5);
/// assert!(csv.starts_with("x1,x2,label\n"));
/// ```
pub fn generate(kind: &str, n: usize, noise: f32, seed: u64) -> Result<String, String> {
    if !(0.0..=1.0).contains(&noise) {
        return Err(format!("noise {noise}: expected a number from 0 to 1"));
    }
    if !(2..=100_000).contains(&n) {
        return Err(format!("{n} points: expected 2 to 100000"));
    }
    let mut rng = Rng::seed(seed);
    let half = n / 2;
    let mut points: Vec<(f32, f32, u8)> = Vec::with_capacity(n);
    match kind {
        "gaussians" => {
            let sd = 0.1 + 0.4 * noise;
            for i in 0..n {
                let (c, m) = if i < half { (0, -0.5) } else { (1, 0.5) };
                points.push((m + sd * rng.normal(), m + sd * rng.normal(), c));
            }
        }
        "xor" => {
            let away = |v: f32| if v >= 0.0 { v + 0.05 } else { v - 0.05 };
            for _ in 0..n {
                let x = away(rng.uniform_in(-0.95, 0.95));
                let y = away(rng.uniform_in(-0.95, 0.95));
                let c = u8::from((x > 0.0) != (y > 0.0));
                let j = 0.2 * noise;
                points.push((x + j * rng.normal(), y + j * rng.normal(), c));
            }
        }
        "circles" => {
            for i in 0..n {
                let (c, r) = if i < half {
                    (0, rng.uniform_in(0.0, 0.5))
                } else {
                    (1, rng.uniform_in(0.7, 1.0))
                };
                let t = rng.uniform_in(0.0, 2.0 * PI);
                let j = 0.2 * noise;
                let (x, y) = (r * t.sin(), r * t.cos());
                points.push((x + j * rng.normal(), y + j * rng.normal(), c));
            }
        }
        "spiral" => {
            for i in 0..n {
                let (c, k, m) = if i < half {
                    (0, i, half)
                } else {
                    (1, i - half, n - half)
                };
                let f = k as f32 / m as f32;
                let t = 1.75 * f * 2.0 * PI + if c == 1 { PI } else { 0.0 };
                let j = 0.1 * noise;
                let (x, y) = (f * t.sin(), f * t.cos());
                points.push((x + j * rng.normal(), y + j * rng.normal(), c));
            }
        }
        other => {
            return Err(format!(
                "unknown data set {other:?}; expected one of {}",
                KINDS.join(", ")
            ))
        }
    }
    let mut csv = String::from("x1,x2,label\n");
    for (x, y, c) in points {
        // `{}` prints the shortest text that reads back as the same f32
        csv.push_str(&format!("{x},{y},{c}\n"));
    }
    Ok(csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(csv: &str) -> Vec<(f32, f32, u8)> {
        csv.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn noiseless_sets_follow_their_rules() {
        for (x, y, c) in parse(&generate("xor", 200, 0.0, 3).unwrap()) {
            assert!(x.abs() >= 0.05 && y.abs() >= 0.05 && x.abs() <= 1.0 && y.abs() <= 1.0);
            assert_eq!(c == 1, (x > 0.0) != (y > 0.0), "({x}, {y}) labelled {c}");
        }
        for (x, y, c) in parse(&generate("circles", 200, 0.0, 3).unwrap()) {
            let r = x.hypot(y);
            assert!(if c == 0 {
                r <= 0.5 + 1e-6
            } else {
                (0.7 - 1e-6..=1.0 + 1e-6).contains(&r)
            });
        }
        let g = parse(&generate("gaussians", 400, 0.0, 3).unwrap());
        let mean0 = g.iter().filter(|p| p.2 == 0).map(|p| p.0).sum::<f32>() / 200.0;
        assert!((mean0 + 0.5).abs() < 0.05, "class 0 centred at {mean0}");
        let s = parse(&generate("spiral", 100, 0.0, 3).unwrap());
        assert_eq!(s.iter().filter(|p| p.2 == 1).count(), 50);
        assert!(s.iter().all(|p| p.0.hypot(p.1) <= 1.0 + 1e-6));
    }

    #[test]
    fn seeded_and_checked() {
        assert_eq!(
            generate("spiral", 50, 0.3, 9),
            generate("spiral", 50, 0.3, 9)
        );
        assert_ne!(
            generate("spiral", 50, 0.3, 9),
            generate("spiral", 50, 0.3, 10)
        );
        assert!(generate("moons", 50, 0.0, 1).unwrap_err().contains("xor"));
        assert!(generate("xor", 50, 2.0, 1).unwrap_err().contains("noise"));
    }
}
