//! Tables for an [`Explanation`]: numbers to 4 significant digits by default (any number with
//! [`Explanation::table`]), trailing zeros dropped (`-1.855`, `0.7`, `1`), so they read like the
//! lecture notes.

use super::Explanation;
use std::fmt;

/// `v` to 4 significant digits without trailing zeros; scientific outside 1e-4..1e5.
#[cfg(test)]
pub(crate) fn sig4(v: f32) -> String {
    sig(v, 4)
}

/// `v` to `d` significant digits (1–9) without trailing zeros; scientific outside 1e-4..1e5.
pub(crate) fn sig(v: f32, d: usize) -> String {
    let d = d.clamp(1, 9) as i32;
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..5).contains(&mag) {
        return format!("{v:.*e}", (d - 1) as usize);
    }
    let s = format!("{:.*}", (d - 1 - mag).max(0) as usize, v);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn vector(v: &[f32], d: usize) -> String {
    let items: Vec<String> = v.iter().map(|&x| sig(x, d)).collect();
    format!("[{}]", items.join(", "))
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Lines of right-aligned columns.
fn grid(rows: &[Vec<String>]) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let w: Vec<usize> = (0..n)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| width(c))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&w).map(|(c, &w)| format!("{c:>w$}")).collect();
            cells.join("  ")
        })
        .collect()
}

/// Joins blocks of lines side by side, each left-aligned in its own width, with `gap` between.
fn side_by_side(blocks: &[Vec<String>], gap: &str) -> String {
    let height = blocks.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = blocks
        .iter()
        .map(|b| b.iter().map(|l| width(l)).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for i in 0..height {
        let cells: Vec<String> = blocks
            .iter()
            .zip(&widths)
            .map(|(b, &w)| format!("{:<w$}", b.get(i).map_or("", String::as_str)))
            .collect();
        out.push_str("  ");
        out.push_str(cells.join(gap).trim_end());
        out.push('\n');
    }
    out
}

fn with_header(header: String, lines: Vec<String>) -> Vec<String> {
    std::iter::once(header).chain(lines).collect()
}

impl Explanation {
    fn forward_table(&self, d: usize) -> String {
        let big_l = self.layers.len();
        let mut l = vec!["l".to_string(), "0".into()];
        let mut theta = vec!["θ".to_string(), String::new()];
        let mut s = vec!["s(l)".to_string(), String::new()];
        let mut x = vec![
            "x(l)".to_string(),
            vector(&[&[1.0], &self.input[..]].concat(), d),
        ];
        for (i, layer) in self.layers.iter().enumerate() {
            l.push((i + 1).to_string());
            theta.push(layer.activation.to_string());
            s.push(vector(&layer.s, d));
            // hidden outputs carry the constant 1 that the next layer's bias multiplies
            let shown = if i + 1 < big_l {
                [&[1.0], &layer.x[..]].concat()
            } else {
                layer.x.clone()
            };
            x.push(vector(&shown, d));
        }
        side_by_side(&[l, theta, s, x], "  ")
    }

    fn backward_table(&self, d: usize) -> String {
        let mut l = vec!["l".to_string()];
        let mut delta = vec!["δ(l)".to_string()];
        for (i, layer) in self.layers.iter().enumerate().rev() {
            l.push((i + 1).to_string());
            delta.push(vector(&layer.delta, d));
        }
        side_by_side(&[l, delta], "  ")
    }

    fn layer_matrices(&self, i: usize, d: usize) -> String {
        let layer = &self.layers[i];
        let mut labels = vec![String::new()];
        if layer.bias {
            labels.push("1".into());
        }
        for &k in &layer.sources {
            let n = if k == 0 {
                self.input.len()
            } else {
                self.layers[k - 1].x.len()
            };
            labels.extend((1..=n).map(|j| format!("x({k})_{j}")));
        }
        let cells = |m: &[Vec<f32>]| -> Vec<String> {
            let rows: Vec<Vec<String>> = m
                .iter()
                .map(|r| r.iter().map(|&v| sig(v, d)).collect())
                .collect();
            grid(&rows)
        };
        let l = i + 1;
        let blocks = [
            labels,
            with_header(format!("W({l})"), cells(&layer.weights)),
            with_header(format!("∂e/∂W({l})"), cells(&layer.grad)),
            with_header(format!("W({l}) − η·∂e/∂W({l})"), cells(&layer.updated)),
        ];
        side_by_side(&blocks, "    ")
    }
}

impl Explanation {
    /// The tables with numbers to `digits` significant digits (1–9).
    pub fn table(&self, digits: usize) -> String {
        let d = digits;
        let big_l = self.layers.len();
        let mut f = String::new();
        f += "Forward: s(l) = W(l)ᵀ x(l−1), x(l) = [1; θ(s(l))]\n";
        f += &self.forward_table(d);
        f += &format!(
            "  e = {}(x({big_l}), y = {}) = {}\n\n",
            self.loss,
            vector(&self.target, d),
            sig(self.error, d)
        );
        f += "Backward: δ(l) = ∂e/∂s(l)\n";
        f += &self.backward_table(d);
        f += &format!(
            "\nGradient ∂e/∂W(l) = x(l−1) δ(l)ᵀ and one step of gradient descent, η = {}\n",
            sig(self.lr, d)
        );
        f += "(rows: 1 for the bias, then each input; columns: one per unit)\n";
        for (i, layer) in self.layers.iter().enumerate() {
            let reads: Vec<String> = layer.sources.iter().map(|k| format!("x({k})")).collect();
            let (n, l) = (layer.s.len(), i + 1);
            let units = if n == 1 { "unit" } else { "units" };
            let mut notes = vec![];
            if let Some(t) = layer.tied_to {
                notes.push(format!(
                    "W tied to W({}){}: its gradient sums both uses",
                    t.layer,
                    if t.transpose { "ᵀ" } else { "" }
                ));
            }
            if !layer.trainable.weight {
                notes.push("W frozen".into());
            }
            if !layer.trainable.bias && (layer.bias || layer.shared_bias.is_some()) {
                notes.push("bias frozen".into());
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join(", "))
            };
            f += &format!(
                "\nlayer {l} ({n} {units}, reads {}{notes})\n",
                reads.join(" and ")
            );
            f += &self.layer_matrices(i, d);
            if let Some(b) = layer.shared_bias {
                f += &format!(
                    "  shared bias b({l}) = {}   ∂e/∂b({l}) = Σⱼ δ({l})ⱼ = {}   b({l}) − η·∂e/∂b({l}) = {}\n",
                    sig(b.value, d),
                    sig(b.grad, d),
                    sig(b.updated, d)
                );
            }
        }
        f
    }

    /// The explanation as pretty-printed JSON, every number at full f32 precision.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("internal error: serialising an explanation")
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.table(4))
    }
}

#[cfg(test)]
mod tests {
    use super::sig4;

    #[test]
    fn four_significant_digits() {
        let cases = [
            (-1.854_864, "-1.855"),
            (0.7, "0.7"),
            (1.0, "1"),
            (-1.480_415, "-1.48"),
            (0.604_368, "0.6044"),
            (1234.56, "1235"),
            (0.000_123_46, "0.0001235"),
            (-0.0, "0"),
            (1.0e-6, "1.000e-6"),
            (123_456.0, "1.235e5"),
        ];
        for (v, want) in cases {
            assert_eq!(sig4(v), want, "{v}");
        }
    }
}
