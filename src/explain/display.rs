//! Tables for an [`Explanation`]: numbers to 4 significant digits, trailing zeros dropped
//! (`-1.855`, `0.7`, `1`), so they read like the lecture notes.

use super::Explanation;
use std::fmt;

/// `v` to 4 significant digits without trailing zeros; scientific outside 1e-4..1e5.
pub(crate) fn sig4(v: f32) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-4..5).contains(&mag) {
        return format!("{v:.3e}");
    }
    let s = format!("{:.*}", (3 - mag).max(0) as usize, v);
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

fn vector(v: &[f32]) -> String {
    let items: Vec<String> = v.iter().map(|&x| sig4(x)).collect();
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
    fn forward_table(&self) -> String {
        let big_l = self.layers.len();
        let mut l = vec!["l".to_string(), "0".into()];
        let mut theta = vec!["θ".to_string(), String::new()];
        let mut s = vec!["s(l)".to_string(), String::new()];
        let mut x = vec![
            "x(l)".to_string(),
            vector(&[&[1.0], &self.input[..]].concat()),
        ];
        for (i, layer) in self.layers.iter().enumerate() {
            l.push((i + 1).to_string());
            theta.push(layer.activation.to_string());
            s.push(vector(&layer.s));
            // hidden outputs carry the constant 1 that the next layer's bias multiplies
            let shown = if i + 1 < big_l {
                [&[1.0], &layer.x[..]].concat()
            } else {
                layer.x.clone()
            };
            x.push(vector(&shown));
        }
        side_by_side(&[l, theta, s, x], "  ")
    }

    fn backward_table(&self) -> String {
        let mut l = vec!["l".to_string()];
        let mut d = vec!["δ(l)".to_string()];
        for (i, layer) in self.layers.iter().enumerate().rev() {
            l.push((i + 1).to_string());
            d.push(vector(&layer.delta));
        }
        side_by_side(&[l, d], "  ")
    }

    fn layer_matrices(&self, i: usize) -> String {
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
                .map(|r| r.iter().map(|&v| sig4(v)).collect())
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

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let big_l = self.layers.len();
        writeln!(f, "Forward: s(l) = W(l)ᵀ x(l−1), x(l) = [1; θ(s(l))]")?;
        write!(f, "{}", self.forward_table())?;
        writeln!(
            f,
            "  e = {}(x({big_l}), y = {}) = {}\n",
            self.loss,
            vector(&self.target),
            sig4(self.error)
        )?;
        writeln!(f, "Backward: δ(l) = ∂e/∂s(l)")?;
        writeln!(f, "{}", self.backward_table())?;
        writeln!(
            f,
            "Gradient ∂e/∂W(l) = x(l−1) δ(l)ᵀ and one step of gradient descent, η = {}",
            sig4(self.lr)
        )?;
        writeln!(
            f,
            "(rows: 1 for the bias, then each input; columns: one per unit)"
        )?;
        for (i, layer) in self.layers.iter().enumerate() {
            let reads: Vec<String> = layer.sources.iter().map(|k| format!("x({k})")).collect();
            let (n, l) = (layer.s.len(), i + 1);
            let units = if n == 1 { "unit" } else { "units" };
            writeln!(
                f,
                "\nlayer {l} ({n} {units}, reads {})",
                reads.join(" and ")
            )?;
            write!(f, "{}", self.layer_matrices(i))?;
        }
        Ok(())
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
