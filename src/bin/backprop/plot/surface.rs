//! `backprop plot loss-surface MODEL DATA --weights W1,W2`: the error surface of seed 002 — the
//! training loss E(w₁, w₂) over a grid of two chosen weights, every other weight held at its
//! value — as a heat map with contour lines, and the path gradient descent takes on it.
//!
//! The grid and the descent are computed by `backprop::explain::surface` (see there for E and
//! the descent); this file reads the model and the data, and draws. Contours are marching
//! squares over the grid at levels spread by the grid's own quantiles, so they show the shape
//! of the valley at any scale.

use super::{attr, chart, decimal, draw_axes, model_and_data, Chart, Tags, FONT};
use crate::args::SurfaceArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::data::{Dataset, Features, Targets};
use backprop::explain::surface::{loss_surface, LossSurface, SurfaceSpec, Weight};
use backprop::io::{Model, TaskInfo};
use backprop::Loss;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Contour levels drawn over the heat map.
const LEVELS: usize = 10;
const PATH: RGBColor = RGBColor(214, 39, 40);

pub fn run(a: &SurfaceArgs) -> Result<()> {
    let (model, data, name) = model_and_data(&a.input)?;
    let loss = a.loss.unwrap_or(model.meta.loss);
    let weights = Weight::parse_pair(&model.params, &a.weights).map_err(|e| flag_error(e, a))?;
    let spec = SurfaceSpec {
        weights,
        half_range: pair(&a.range, "--range")?,
        points: a.grid,
        start: a.start.as_deref().map(|s| pair(s, "--start")).transpose()?,
        descend: a.descend,
        lr: a.lr as f64,
    };
    spec.validate().map_err(|e| flag_error(e, a))?;
    let ds = dataset(&model, &data, a)?;
    let s = loss_surface(&model.net, &model.params, &ds, loss, &spec)
        .with_context(|| format!("the loss {loss} on {data}"))?;
    let (lo, hi) = s
        .bounds()
        .context("the loss is not finite anywhere on the grid")?;
    let title = format!(
        "Loss surface of {}",
        std::path::Path::new(&name)
            .file_name()
            .map_or(name.clone(), |f| f.to_string_lossy().into())
    );
    let view = View {
        s: &s,
        lo,
        hi,
        loss,
    };
    super::write_file(&a.out, &draw(&view, &title)?)?;
    report(&view, a, ds.len(), &data)
}

/// A refused setting, named by its flag: `--grid 1: expected 2 to 400 points per axis`.
fn flag_error(e: backprop::Error, a: &SurfaceArgs) -> anyhow::Error {
    let backprop::Error::InvalidParameter {
        name,
        value,
        expected,
    } = &e
    else {
        return e.into();
    };
    match *name {
        "weight" => anyhow::anyhow!("--weights: {value}"),
        "range" => anyhow::anyhow!("--range {}: expected {expected}", a.range),
        _ => anyhow::anyhow!("--{name} {value}: expected {expected}"),
    }
}

/// The lines on stdout: what the grid covers, its lowest loss, and the descent.
fn report(v: &View, a: &SurfaceArgs, rows: usize, data: &str) -> Result<()> {
    let (s, f) = (v.s, |v: f64| format!("{v:.6}"));
    let w = &s.weights;
    crate::outln!(
        "loss {} on {rows} rows of {data}; every weight but w1 = {} and w2 = {} fixed",
        v.loss,
        w[0].label,
        w[1].label
    )?;
    let best = s.lowest().unwrap_or(s.current);
    let n = s.points;
    crate::outln!(
        "grid: w1 in [{}, {}], w2 in [{}, {}], {n} × {n} points; lowest loss {} at w = ({}, {})",
        f(s.axes[0].start),
        f(s.axes[0].end),
        f(s.axes[1].start),
        f(s.axes[1].end),
        f(v.lo),
        f(best[0]),
        f(best[1])
    )?;
    if let (Some(first), Some(last)) = (s.path.first(), s.path.last()) {
        crate::outln!(
            "descent: {} step(s) of lr {} from w = ({}, {}), loss {}, to w = ({}, {}), loss {}",
            s.path.len() - 1,
            a.lr,
            f(first.w[0]),
            f(first.w[1]),
            f(first.loss),
            f(last.w[0]),
            f(last.w[1]),
            f(last.loss)
        )?;
    }
    if s.stuck {
        crate::outln!(
            "note: ∂E/∂w1 = ∂E/∂w2 = 0 at the start (step units pass no gradient, or the loss is flat there): the descent cannot move"
        )?;
    }
    crate::outln!("wrote {}", a.out.display())?;
    Ok(())
}

/// The rows of DATA as training reads them: features scaled by the model's scaler, and the
/// targets.
fn dataset(model: &Model, data: &str, a: &SurfaceArgs) -> Result<Dataset> {
    let input = load_for_model(data, &a.input.data_args, model)?;
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
    let t = match (
        super::truth(model, Some(&targets), &input.source)?,
        &model.meta.task,
    ) {
        (Some(super::Truth::Classes(labels)), TaskInfo::Classification { classes }) => {
            Targets::Classes {
                labels: labels.iter().map(|&l| l as u32).collect(),
                names: classes.clone(),
            }
        }
        (Some(super::Truth::Values(data)), TaskInfo::Regression { targets: names }) => {
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
        _ => bail!("{}: no target column", input.source),
    };
    Ok(Dataset::new(Features::F32(x), d, t)?)
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

/// The surface with the colour scale the picture gives it.
struct View<'a> {
    s: &'a LossSurface,
    /// The lowest and highest finite loss: the ends of the colour scale.
    lo: f64,
    hi: f64,
    loss: Loss,
}

impl View<'_> {
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

fn draw(v: &View, title: &str) -> Result<String> {
    let mut svg = String::new();
    let mut tags = Tags::default();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(660);
        draw_plot(&plot, title, v, &mut tags)?;
        draw_legend(&legend, v)?;
        root.present()?;
    }
    tags.apply(&svg)
}

fn draw_plot(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    v: &View,
    tags: &mut Tags,
) -> Result<()> {
    let s = v.s;
    let [h1, h2] = half_steps(s);
    let (x_axis, y_axis) = (
        s.axes[0].start - h1..s.axes[0].end + h1,
        s.axes[1].start - h2..s.axes[1].end + h2,
    );
    let mut chart = chart(area, title, (x_axis, y_axis))?;
    draw_cells(&mut chart, v, tags)?;
    for level in levels(&s.losses) {
        let segments = contour(s, level);
        chart.draw_series(
            segments
                .into_iter()
                .map(|seg| PathElement::new(seg.to_vec(), WHITE.mix(0.55).stroke_width(1))),
        )?;
    }
    let (x_desc, y_desc) = (
        format!("w1 = {}", s.weights[0].label),
        format!("w2 = {}", s.weights[1].label),
    );
    draw_axes(&mut chart, (&x_desc, &y_desc))?;
    // the model's own weights
    chart.draw_series([Cross::new(
        (s.current[0], s.current[1]),
        6,
        WHITE.stroke_width(2),
    )])?;
    draw_path(&mut chart, s, tags)
}

/// Half a grid step along each axis: each node's cell reaches that far either side, so the
/// cells tile the axes.
fn half_steps(s: &LossSurface) -> [f64; 2] {
    [0, 1].map(|axis| (s.axes[axis].end - s.axes[axis].start) / (s.points - 1) as f64 / 2.0)
}

/// The heat map: one cell per grid node, tagged with its weights and loss.
fn draw_cells(chart: &mut Chart, v: &View, tags: &mut Tags) -> Result<()> {
    let (s, n) = (v.s, v.s.points);
    let [h1, h2] = half_steps(s);
    let mut cells = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            let (w1, w2) = (s.node(0, i), s.node(1, j));
            let e = s.loss_at(i, j);
            let (a, b) = ((w1 - h1, w2 - h2), (w1 + h1, w2 + h2));
            tags.rect(
                chart.backend_coord(&a),
                chart.backend_coord(&b),
                format!(
                    "data-w1=\"{}\" data-w2=\"{}\" data-loss=\"{}\"",
                    attr(w1),
                    attr(w2),
                    attr(e)
                ),
            );
            cells.push(Rectangle::new([a, b], v.color(e).filled()));
        }
    }
    chart.draw_series(cells)?;
    Ok(())
}

/// The descent: a line through its steps, each a tagged dot, its start and end ringed.
fn draw_path(chart: &mut Chart, s: &LossSurface, tags: &mut Tags) -> Result<()> {
    let (Some(first), Some(last)) = (s.path.first(), s.path.last()) else {
        return Ok(());
    };
    let pts: Vec<(f64, f64)> = s.path.iter().map(|p| (p.w[0], p.w[1])).collect();
    chart.draw_series([PathElement::new(pts.clone(), PATH.stroke_width(2))])?;
    for (step, (p, &xy)) in s.path.iter().zip(&pts).enumerate() {
        tags.circle(
            chart.backend_coord(&xy),
            3,
            format!(
                "data-step=\"{step}\" data-w1=\"{}\" data-w2=\"{}\" data-loss=\"{}\"",
                attr(p.w[0]),
                attr(p.w[1]),
                attr(p.loss)
            ),
        );
        chart.draw_series([Circle::new(xy, 3, PATH.filled())])?;
    }
    chart.draw_series([
        Circle::new((first.w[0], first.w[1]), 7, WHITE.stroke_width(2)),
        Circle::new((last.w[0], last.w[1]), 7, PATH.stroke_width(3)),
    ])?;
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
fn contour(s: &LossSurface, level: f64) -> Vec<[(f64, f64); 2]> {
    let n = s.points;
    let v = |i: usize, j: usize| s.loss_at(i, j) - level;
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

fn draw_legend(area: &DrawingArea<SVGBackend, Shift>, s: &View) -> Result<()> {
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
    if !s.s.path.is_empty() {
        y += 24;
        area.draw(&PathElement::new(
            vec![(10, y), (34, y)],
            PATH.stroke_width(2),
        ))?;
        area.draw(&Circle::new((22, y), 3, PATH.filled()))?;
        let steps = s.s.path.len() - 1;
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
