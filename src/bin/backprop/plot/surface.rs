//! `backprop plot loss-surface MODEL DATA --weights W1,W2`: the error surface of seed 002 — the
//! training loss E(w₁, w₂) over a grid of two chosen weights, every other weight held at its
//! value — as a heat map with contour lines, and the path gradient descent takes on it.
//!
//! E is the model's loss as training computes it: the forward pass on the scaled features
//! (`forward_for_loss`, so a loss that reads logits reads them), then the loss against the
//! encoded targets, over every row of DATA. The descent path (`--descend N --lr η`) is full-batch
//! gradient descent on the two weights alone,
//!
//! ```text
//! wᵢ ← wᵢ − η ∂E/∂wᵢ     (i = 1, 2; ∂E/∂wᵢ by backprop through the whole network)
//! ```
//!
//! from their current values (or `--start`). Contours are marching squares over the grid at
//! levels spread by the grid's own quantiles, so they show the shape of the valley at any scale.

use super::{attr, chart, decimal, draw_axes, finite_bounds, model_and_data, Tags, FONT};
use crate::args::SurfaceArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::data::{Dataset, Features, Targets};
use backprop::io::{Model, TaskInfo};
use backprop::nn::Module;
use backprop::train::encode_targets;
use backprop::{Graph, Loss, ParamId, Tape, Tensor};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// Contour levels drawn over the heat map.
const LEVELS: usize = 10;
const PATH: RGBColor = RGBColor(214, 39, 40);

/// One chosen weight: a parameter tensor and an element of it.
struct Weight {
    id: ParamId,
    index: usize,
    label: String,
}

/// The loss of the model on fixed data as a function of its parameters.
struct Problem {
    model: Model,
    x: Tensor,
    t: Tensor,
    loss: Loss,
}

impl Problem {
    fn set(&mut self, w: &[Weight; 2], v: [f64; 2]) {
        for (w, v) in w.iter().zip(v) {
            self.model.params[w.id].data_mut()[w.index] = v as f32;
        }
    }

    /// E at the current parameters.
    fn loss(&self) -> Result<f64> {
        let mut tape = Tape::new();
        let mut g = Graph::no_grad(&mut tape, &self.model.params);
        g.set_training(false);
        let (x, t) = (g.input(&self.x), g.input(&self.t));
        let (_, y) = self.model.net.forward_for_loss(&mut g, x, self.loss)?;
        let e = self.loss.apply(&mut g, y, t);
        Ok(g.value(e).item() as f64)
    }

    /// E and (∂E/∂w₁, ∂E/∂w₂) at the current parameters, by backprop.
    fn loss_and_grad(&self, w: &[Weight; 2]) -> Result<(f64, [f64; 2])> {
        let mut tape = Tape::new();
        let mut g = Graph::new(&mut tape, &self.model.params);
        g.set_training(false);
        let (x, t) = (g.input(&self.x), g.input(&self.t));
        let (_, y) = self.model.net.forward_for_loss(&mut g, x, self.loss)?;
        let e = self.loss.apply(&mut g, y, t);
        let value = g.value(e).item() as f64;
        let grads = g.backward(e);
        let d = |w: &Weight| grads.get(w.id).map_or(0.0, |t| t.data()[w.index] as f64);
        Ok((value, [d(&w[0]), d(&w[1])]))
    }
}

pub fn run(a: &SurfaceArgs) -> Result<()> {
    let (model, data, name) = model_and_data(&a.input)?;
    let loss = match &a.loss {
        Some(l) => l
            .parse::<Loss>()
            .map_err(|e| anyhow::anyhow!("--loss: {e}"))?,
        None => model.meta.loss,
    };
    let w = weights(&model, &a.weights, &name)?;
    let current = [0, 1].map(|i| model.params[w[i].id].data()[w[i].index] as f64);
    let half = pair(&a.range, "--range")?;
    if half.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        bail!("--range {}: expected positive numbers", a.range);
    }
    let start = match &a.start {
        Some(s) => pair(s, "--start")?,
        None => current,
    };
    if !(2..=400).contains(&a.grid) {
        bail!("--grid {}: expected 2 to 400 points per axis", a.grid);
    }
    if !(a.lr.is_finite() && a.lr > 0.0) {
        bail!("--lr {}: expected a positive learning rate", a.lr);
    }
    let mut p = problem(model, &data, a, loss)?;
    let rows = p.x.shape().dim(0);

    // the descent first, so the grid can grow to hold its path
    let mut path = vec![];
    let mut w_now = start;
    let mut stuck = false;
    for step in 0..=a.descend {
        p.set(&w, w_now);
        let (e, grad) = p.loss_and_grad(&w)?;
        path.push((w_now, e));
        stuck |= step == 0 && grad == [0.0, 0.0];
        if step == a.descend || !e.is_finite() {
            break;
        }
        let next = [0, 1].map(|i| w_now[i] - a.lr as f64 * grad[i]);
        if next.iter().any(|v| !v.is_finite()) {
            break;
        }
        w_now = next;
    }
    if a.descend == 0 && a.start.is_none() {
        path.clear();
    }

    let axis = |i: usize| -> Range<f64> {
        let (mut lo, mut hi) = (current[i] - half[i], current[i] + half[i]);
        if let Some((plo, phi)) = finite_bounds(path.iter().map(|(v, _)| v[i])) {
            let pad = 0.05 * (phi.max(hi) - plo.min(lo));
            if plo < lo {
                lo = plo - pad;
            }
            if phi > hi {
                hi = phi + pad;
            }
        }
        lo..hi
    };
    let (r1, r2) = (axis(0), axis(1));
    let n = a.grid;
    let node = |r: &Range<f64>, i: usize| r.start + i as f64 * (r.end - r.start) / (n - 1) as f64;
    let mut grid = vec![0.0f64; n * n];
    for j in 0..n {
        for i in 0..n {
            p.set(&w, [node(&r1, i), node(&r2, j)]);
            grid[j * n + i] = p.loss()?;
        }
    }
    p.set(&w, current);

    let (lo, hi) = finite_bounds(grid.iter().copied())
        .context("the loss is not finite anywhere on the grid")?;
    let best = grid
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .min_by(|x, y| x.1.total_cmp(y.1))
        .map(|(k, _)| [node(&r1, k % n), node(&r2, k / n)])
        .unwrap_or(current);
    let s = Surface {
        w: &w,
        r: [r1, r2],
        n,
        grid: &grid,
        lo,
        hi,
        path: &path,
        current,
        loss,
    };
    let title = format!(
        "Loss surface of {}",
        std::path::Path::new(&name)
            .file_name()
            .map_or(name.clone(), |f| f.to_string_lossy().into())
    );
    let svg = draw(&s, &title)?;
    super::write_file(&a.out, &svg)?;

    let f = |v: f64| format!("{v:.6}");
    crate::outln!(
        "loss {loss} on {rows} rows of {data}; every weight but w1 = {} and w2 = {} fixed",
        w[0].label,
        w[1].label
    )?;
    crate::outln!(
        "grid: w1 in [{}, {}], w2 in [{}, {}], {n} × {n} points; lowest loss {} at w = ({}, {})",
        f(s.r[0].start),
        f(s.r[0].end),
        f(s.r[1].start),
        f(s.r[1].end),
        f(lo),
        f(best[0]),
        f(best[1])
    )?;
    if let (Some(first), Some(last)) = (path.first(), path.last()) {
        crate::outln!(
            "descent: {} step(s) of lr {} from w = ({}, {}), loss {}, to w = ({}, {}), loss {}",
            path.len() - 1,
            a.lr,
            f(first.0[0]),
            f(first.0[1]),
            f(first.1),
            f(last.0[0]),
            f(last.0[1]),
            f(last.1)
        )?;
    }
    if stuck && a.descend > 0 {
        crate::outln!(
            "note: ∂E/∂w1 = ∂E/∂w2 = 0 at the start (step units pass no gradient, or the loss is flat there): the descent cannot move"
        )?;
    }
    crate::outln!("wrote {}", a.out.display())?;
    Ok(())
}

/// The scaled features and the encoded targets of DATA, as training reads them.
fn problem(model: Model, data: &str, a: &SurfaceArgs, loss: Loss) -> Result<Problem> {
    let input = load_for_model(data, &a.input.data_args, &model)?;
    let Some(targets) = input.targets else {
        bail!(
            "{}: no target column; the loss needs labelled data",
            input.source
        );
    };
    let d = input.x.shape().last();
    let n = input.x.numel() / d.max(1);
    if n == 0 {
        bail!("{}: no rows", input.source);
    }
    let mut x = input.x.data().to_vec();
    for row in x.chunks_exact_mut(d) {
        model.meta.scaler.transform_row(row);
    }
    let t = match super::truth(&model, Some(&targets), &input.source)? {
        Some(super::Truth::Classes(labels)) => {
            let TaskInfo::Classification { classes } = &model.meta.task else {
                bail!("internal error: classes for a regression model");
            };
            Targets::Classes {
                labels: labels.iter().map(|&l| l as u32).collect(),
                names: classes.clone(),
            }
        }
        Some(super::Truth::Values(data)) => {
            let TaskInfo::Regression { targets: names } = &model.meta.task else {
                bail!("internal error: values for a classifier");
            };
            if data.len() != n * names.len() {
                bail!(
                    "{}: {} target value(s) for {n} rows of {} target(s)",
                    input.source,
                    data.len(),
                    names.len()
                );
            }
            Targets::Values {
                data,
                names: names.clone(),
            }
        }
        None => bail!("{}: no target column", input.source),
    };
    let ds = Dataset::new(Features::F32(x.clone()), d, t)?;
    let idx: Vec<usize> = (0..n).collect();
    let t = encode_targets(loss, &ds, model.out_features(), &idx)
        .with_context(|| format!("the loss {loss} on {}", input.source))?;
    let x = Tensor::from_vec(x, [n, d])?;
    Ok(Problem { model, x, t, loss })
}

/// `--weights W1,W2`: two parameter elements by name and index, e.g.
/// `layers.0.weight[0,1],layers.1.bias[0]`.
fn weights(model: &Model, list: &str, source: &str) -> Result<[Weight; 2]> {
    // split on the commas outside brackets
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in list.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(String::new());
        } else {
            parts.last_mut().expect("never empty").push(c);
        }
    }
    if parts.len() != 2 {
        bail!(
            "--weights {list:?}: expected two weights, NAME[i,j],NAME[k] (e.g. layers.0.weight[0,1],layers.0.bias[0]), got {}",
            parts.len()
        );
    }
    let w = [
        weight(model, parts[0].trim(), source)?,
        weight(model, parts[1].trim(), source)?,
    ];
    if w[0].id == w[1].id && w[0].index == w[1].index {
        bail!("--weights {list:?}: the same weight twice; choose two different ones");
    }
    Ok(w)
}

fn weight(model: &Model, s: &str, source: &str) -> Result<Weight> {
    let params = &model.params;
    let (name, index) = match s.split_once('[') {
        Some((name, rest)) => {
            let Some(inner) = rest.strip_suffix(']') else {
                bail!("--weights: {s:?}: expected NAME[i,j] with a closing bracket");
            };
            let idx = inner
                .split(',')
                .map(|i| i.trim().parse::<usize>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .with_context(|| {
                    format!("--weights: {s:?}: the index must be 0-based integers, e.g. [0,1]")
                })?;
            (name.trim(), Some(idx))
        }
        None => (s, None),
    };
    let listing = || {
        params
            .ids()
            .map(|id| format!("{} {:?}", params.name(id), params[id].dims()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(id) = params.find(name) else {
        bail!(
            "--weights: {source} has no parameter {name:?}; its parameters are {}",
            listing()
        );
    };
    let dims = params[id].dims().to_vec();
    let index = match index {
        None if params[id].numel() == 1 => vec![0; dims.len()],
        None => bail!(
            "--weights: {name} has shape {dims:?}: give an element, e.g. {name}[{}]",
            vec!["0"; dims.len()].join(",")
        ),
        Some(i) => i,
    };
    if index.len() != dims.len() || index.iter().zip(&dims).any(|(i, d)| i >= d) {
        bail!(
            "--weights: {name}{index:?} is not an element of {name}, whose shape is {dims:?} (indices from 0)"
        );
    }
    let flat = index.iter().zip(&dims).fold(0, |acc, (i, d)| acc * d + i);
    let label = format!(
        "{name}[{}]",
        index
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(Weight {
        id,
        index: flat,
        label,
    })
}

/// `A` or `A,B`: two numbers (one given twice).
fn pair(s: &str, flag: &str) -> Result<[f64; 2]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{flag} {s:?}: expected a number or two, comma-separated"))?;
    match v.as_slice() {
        [a] => Ok([*a, *a]),
        [a, b] => Ok([*a, *b]),
        _ => bail!("{flag} {s:?}: expected one or two numbers"),
    }
}

/// Everything the picture shows.
struct Surface<'a> {
    w: &'a [Weight; 2],
    r: [Range<f64>; 2],
    n: usize,
    /// Losses at the grid nodes, row by row (w₂ grows with the row).
    grid: &'a [f64],
    lo: f64,
    hi: f64,
    /// The descent: weights and loss at each step.
    path: &'a [([f64; 2], f64)],
    current: [f64; 2],
    loss: Loss,
}

impl Surface<'_> {
    fn node(&self, axis: usize, i: usize) -> f64 {
        let r = &self.r[axis];
        r.start + i as f64 * (r.end - r.start) / (self.n - 1) as f64
    }

    fn color(&self, v: f64) -> RGBColor {
        if !v.is_finite() {
            return RGBColor(160, 160, 160);
        }
        let span = if self.hi > self.lo {
            self.hi - self.lo
        } else {
            1.0
        };
        ViridisRGB::get_color_normalized(((v - self.lo) / span).clamp(0.0, 1.0), 0.0, 1.0)
    }
}

fn draw(s: &Surface, title: &str) -> Result<String> {
    let mut svg = String::new();
    let mut tags = Tags::default();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(660);
        draw_plot(&plot, title, s, &mut tags)?;
        draw_legend(&legend, s)?;
        root.present()?;
    }
    tags.apply(&svg)
}

fn draw_plot(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    s: &Surface,
    tags: &mut Tags,
) -> Result<()> {
    let n = s.n;
    // each grid node's cell reaches half a step either side, so the cells tile the axes
    let half = |axis: usize| (s.r[axis].end - s.r[axis].start) / (n - 1) as f64 / 2.0;
    let (h1, h2) = (half(0), half(1));
    let (x_axis, y_axis) = (
        s.r[0].start - h1..s.r[0].end + h1,
        s.r[1].start - h2..s.r[1].end + h2,
    );
    let mut chart = chart(area, title, (x_axis.clone(), y_axis.clone()))?;
    let mut cells = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let (w1, w2) = (s.node(0, i), s.node(1, j));
            let v = s.grid[j * n + i];
            let (a, b) = ((w1 - h1, w2 - h2), (w1 + h1, w2 + h2));
            tags.rect(
                chart.backend_coord(&a),
                chart.backend_coord(&b),
                format!(
                    "data-w1=\"{}\" data-w2=\"{}\" data-loss=\"{}\"",
                    attr(w1),
                    attr(w2),
                    attr(v)
                ),
            );
            cells.push(Rectangle::new([a, b], s.color(v).filled()));
        }
    }
    chart.draw_series(cells)?;
    for level in levels(s.grid) {
        let segments = contour(s, level);
        chart.draw_series(
            segments
                .into_iter()
                .map(|seg| PathElement::new(seg.to_vec(), WHITE.mix(0.55).stroke_width(1))),
        )?;
    }
    let (x_desc, y_desc) = (
        format!("w1 = {}", s.w[0].label),
        format!("w2 = {}", s.w[1].label),
    );
    draw_axes(&mut chart, (&x_desc, &y_desc))?;
    // the model's own weights
    chart.draw_series([Cross::new(
        (s.current[0], s.current[1]),
        6,
        WHITE.stroke_width(2),
    )])?;
    if let (Some(first), Some(last)) = (s.path.first(), s.path.last()) {
        let pts: Vec<(f64, f64)> = s.path.iter().map(|(w, _)| (w[0], w[1])).collect();
        chart.draw_series([PathElement::new(pts.clone(), PATH.stroke_width(2))])?;
        for (step, ((w, e), &xy)) in s.path.iter().zip(&pts).enumerate() {
            tags.circle(
                chart.backend_coord(&xy),
                3,
                format!(
                    "data-step=\"{step}\" data-w1=\"{}\" data-w2=\"{}\" data-loss=\"{}\"",
                    attr(w[0]),
                    attr(w[1]),
                    attr(*e)
                ),
            );
            chart.draw_series([Circle::new(xy, 3, PATH.filled())])?;
        }
        chart.draw_series([
            Circle::new((first.0[0], first.0[1]), 7, WHITE.stroke_width(2)),
            Circle::new((last.0[0], last.0[1]), 7, PATH.stroke_width(3)),
        ])?;
    }
    Ok(())
}

/// Contour levels at evenly spaced quantiles of the grid's finite losses.
fn levels(grid: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = grid.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = (0..LEVELS)
        .filter_map(|k| v.get((k * 2 + 1) * v.len() / (2 * LEVELS)).copied())
        .collect();
    out.dedup();
    out
}

/// Marching squares: the line segments where the loss crosses `level`, in weight coordinates.
fn contour(s: &Surface, level: f64) -> Vec<[(f64, f64); 2]> {
    let n = s.n;
    let v = |i: usize, j: usize| s.grid[j * n + i] - level;
    let mut out = vec![];
    for j in 0..n - 1 {
        for i in 0..n - 1 {
            // corners counter-clockwise from the bottom left, and the point where each edge
            // crosses the level (linear interpolation)
            let c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let vals = c.map(|(i, j)| v(i, j));
            if vals.iter().any(|x| !x.is_finite()) {
                continue;
            }
            let mut hits = vec![];
            for e in 0..4 {
                let (a, b) = (e, (e + 1) % 4);
                if (vals[a] < 0.0) != (vals[b] < 0.0) {
                    let t = vals[a] / (vals[a] - vals[b]);
                    let p = |k: usize| (s.node(0, c[k].0), s.node(1, c[k].1));
                    let (pa, pb) = (p(a), p(b));
                    hits.push((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)));
                }
            }
            match hits.as_slice() {
                [p, q] => out.push([*p, *q]),
                // a saddle: pair the crossings so the centre's side stays connected
                [p, q, r, t] => {
                    let centre = vals.iter().sum::<f64>() / 4.0;
                    if (centre < 0.0) == (vals[0] < 0.0) {
                        out.push([*p, *t]);
                        out.push([*q, *r]);
                    } else {
                        out.push([*p, *q]);
                        out.push([*r, *t]);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn draw_legend(area: &DrawingArea<SVGBackend, Shift>, s: &Surface) -> Result<()> {
    let left = |size| {
        (FONT, size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center))
    };
    area.draw(&Text::new(format!("loss ({})", s.loss), (10, 70), left(16)))?;
    let (top, height, steps) = (100, 360, 64);
    for b in 0..steps {
        let y1 = top + height - (height * b) / steps;
        let y0 = top + height - (height * (b + 1)) / steps;
        let v = s.lo + (s.hi - s.lo) * (b as f64 + 0.5) / steps as f64;
        area.draw(&Rectangle::new([(10, y0), (40, y1)], s.color(v).filled()))?;
    }
    area.draw(&Rectangle::new(
        [(10, top), (40, top + height)],
        BLACK.stroke_width(1),
    ))?;
    for t in 0..=4 {
        let v = s.lo + (s.hi - s.lo) * t as f64 / 4.0;
        let y = top + height - height * t / 4;
        area.draw(&PathElement::new(vec![(40, y), (46, y)], BLACK))?;
        area.draw(&Text::new(
            decimal(v, (s.hi - s.lo) / 4.0),
            (50, y),
            left(13),
        ))?;
    }
    let mut y = top + height + 36;
    area.draw(&Cross::new((22, y), 6, BLACK.stroke_width(2)))?;
    area.draw(&Text::new("model's weights", (40, y), left(13)))?;
    if !s.path.is_empty() {
        y += 24;
        area.draw(&PathElement::new(
            vec![(10, y), (34, y)],
            PATH.stroke_width(2),
        ))?;
        area.draw(&Circle::new((22, y), 3, PATH.filled()))?;
        let steps = s.path.len() - 1;
        area.draw(&Text::new(
            format!("descent, {steps} step{}", if steps == 1 { "" } else { "s" }),
            (40, y),
            left(13),
        ))?;
    }
    y += 24;
    area.draw(&Text::new("lines: contours", (10, y), left(12)))?;
    Ok(())
}
