//! `backprop plot regions MODEL DATA`: what a model with two input features predicts over the
//! plane — the decision regions of a classifier (each cell in its predicted class's colour, lighter
//! where the top probability is lower) or a regression model's value as a colour map — with the
//! data points on top in the colour of their true class (or value).
//!
//! The grid covers the data's range plus a margin in the data's own units, and goes through
//! `Model::predict` — the same path as `backprop predict`, so the model's feature scaling is
//! applied exactly once. Neighbouring cells of one colour in a row are drawn as one rectangle.

use super::{
    attr, chart, decimal, draw_axes, finite_bounds, model_and_data, truth, Tags, Truth, FONT,
    PALETTE,
};
use crate::args::RegionsArgs;
use crate::data::load_for_model;
use anyhow::{bail, Context, Result};
use backprop::io::{Model, TaskInfo};
use backprop::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;

/// Colour bands of a regression map (the map is a filled contour plot with this many levels).
const BANDS: usize = 32;
/// Shades of a class colour by confidence, lightest first.
const SHADES: [f64; 4] = [0.15, 0.25, 0.35, 0.45];
const FLAT: f64 = 0.35;

/// What each grid cell shows: a colour key (equal keys merge into one rectangle) and its
/// `data-*` attribute.
struct Cells {
    keys: Vec<usize>,
    color: Box<dyn Fn(usize) -> RGBColor>,
    attrs: Box<dyn Fn(usize) -> String>,
}

pub fn run(a: &RegionsArgs) -> Result<()> {
    let (model, data, name) = model_and_data(&a.input)?;
    check(a, &model, &name)?;
    let input = load_for_model(&data, &a.input.data_args, &model)?;
    let n = input.x.numel() / 2;
    if n == 0 {
        bail!("{}: no rows to draw", input.source);
    }
    let truth = truth(&model, input.targets.as_deref(), &input.source)?;
    let xs = input.x.data();
    let range = |c: usize| axis_range(xs, n, c, a.margin, &input.source);
    let (xr, yr) = (range(0)?, range(1)?);
    let g = a.grid;
    let centre =
        |r: &Range<f64>, i: usize| r.start + (i as f64 + 0.5) * (r.end - r.start) / g as f64;
    let mut grid = Vec::with_capacity(g * g * 2);
    for j in 0..g {
        for i in 0..g {
            grid.extend([centre(&xr, i) as f32, centre(&yr, j) as f32]);
        }
    }
    let p = model.predict(&Tensor::from_vec(grid, [g * g, 2])?)?;
    let picture = match (&model.meta.task, &p.classes) {
        (TaskInfo::Classification { classes }, Some(cls)) => {
            classification(classes, cls, &p.outputs, a.flat)
        }
        (TaskInfo::Regression { targets }, _) => {
            regression(&model, targets, &p.outputs, truth.as_ref(), a)?
        }
        _ => bail!("internal error: a classifier without classes"),
    };
    let svg = render(&model, &name, (xr, yr), g, &picture, xs, truth.as_ref())?;
    super::write_file(&a.out, &svg)
}

/// The picture as SVG: the cells and points with the title on the left, the legend on the
/// right.
fn render(
    model: &Model,
    name: &str,
    (xr, yr): (Range<f64>, Range<f64>),
    g: usize,
    picture: &Picture,
    xs: &[f32],
    truth: Option<&Truth>,
) -> Result<String> {
    let n = xs.len() / 2;
    let title = format!(
        "{} of {}",
        match picture.legend {
            Legend::Classes(_) => "Decision regions",
            Legend::Bar { .. } => "Predicted value",
        },
        std::path::Path::new(name)
            .file_name()
            .map_or(name.to_string(), |f| f.to_string_lossy().into())
    );
    let mut svg = String::new();
    let mut tags = Tags::default();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally(660);
        let styles = point_styles(n, truth, picture);
        let points: Vec<_> = (0..n)
            .map(|i| (xs[2 * i] as f64, xs[2 * i + 1] as f64))
            .zip(styles)
            .filter(|((x, y), _)| x.is_finite() && y.is_finite())
            .map(|(xy, (c, attrs))| (xy, c, attrs))
            .collect();
        draw_plot(
            &plot,
            &title,
            model,
            (xr, yr),
            g,
            picture,
            &points,
            &mut tags,
        )?;
        draw_legend(&legend, picture)?;
        root.present()?;
    }
    tags.apply(&svg)
}

/// A model with 2 inputs, a grid of 2 to 1000 cells, a margin ≥ 0.
fn check(a: &RegionsArgs, model: &Model, name: &str) -> Result<()> {
    let n_in = model.meta.architecture.in_features;
    if n_in != 2 {
        bail!(
            "plot regions draws models with 2 input features; {name} takes {n_in} ({})",
            model.meta.feature_names.join(", ")
        );
    }
    if a.grid < 2 || a.grid > 1000 {
        bail!("--grid {}: expected 2 to 1000 cells per axis", a.grid);
    }
    if !(a.margin.is_finite() && a.margin >= 0.0) {
        bail!("--margin {}: expected a fraction ≥ 0", a.margin);
    }
    Ok(())
}

/// The finite range of input `c` of the `n` rows in `xs`, padded by `margin` of its width on
/// each side (a single value gets 0.5 + 10 % of itself).
fn axis_range(xs: &[f32], n: usize, c: usize, margin: f64, source: &str) -> Result<Range<f64>> {
    let (lo, hi) = finite_bounds((0..n).map(|i| xs[2 * i + c] as f64))
        .with_context(|| format!("{source}: no finite values to draw"))?;
    let pad = if hi > lo {
        margin * (hi - lo)
    } else {
        0.5 + 0.1 * lo.abs()
    };
    Ok(lo - pad..hi + pad)
}

/// The cells and the legend that explains their colours.
struct Picture {
    cells: Cells,
    legend: Legend,
}

enum Legend {
    /// Class names with their colours.
    Classes(Vec<(String, RGBColor)>),
    /// A colour bar from `lo` to `hi` for the target `name`, the model's output `output`.
    Bar {
        name: String,
        lo: f64,
        hi: f64,
        output: usize,
    },
}

/// `color` lightened towards white: `alpha` of the colour, the rest white.
fn tint(color: RGBColor, alpha: f64) -> RGBColor {
    let m = |c: u8| (255.0 - alpha * (255.0 - c as f64)).round() as u8;
    RGBColor(m(color.0), m(color.1), m(color.2))
}

fn class_color(c: usize) -> RGBColor {
    PALETTE[c % PALETTE.len()]
}

fn classification(classes: &[String], cls: &[usize], probs: &Tensor, flat: bool) -> Picture {
    let k = classes.len().max(2) as f32;
    let shades = SHADES.len();
    let keys = cls
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            // how far the top probability is from a uniform guess, 0 (1/k) to 1 (certain)
            let top = probs.row(i).iter().copied().fold(0.0f32, f32::max);
            let conf = ((top - 1.0 / k) / (1.0 - 1.0 / k)).clamp(0.0, 1.0);
            let level = if flat {
                0
            } else {
                ((conf * shades as f32) as usize).min(shades - 1)
            };
            c * shades + level
        })
        .collect();
    let names = classes.to_vec();
    Picture {
        cells: Cells {
            keys,
            color: Box::new(move |key| {
                let alpha = if flat { FLAT } else { SHADES[key % shades] };
                tint(class_color(key / shades), alpha)
            }),
            attrs: Box::new(move |key| {
                format!("data-class=\"{}\"", xml_escape(&names[key / shades]))
            }),
        },
        legend: Legend::Classes(
            classes
                .iter()
                .enumerate()
                .map(|(c, name)| (name.clone(), class_color(c)))
                .collect(),
        ),
    }
}

fn regression(
    model: &Model,
    targets: &[String],
    outputs: &Tensor,
    truth: Option<&Truth>,
    a: &RegionsArgs,
) -> Result<Picture> {
    let k = targets.len();
    let o = output_index(a.output.as_deref(), targets)?;
    let vals: Vec<f64> = outputs
        .data()
        .iter()
        .skip(o)
        .step_by(k)
        .map(|&v| v as f64)
        .collect();
    let truths: Vec<f64> = match truth {
        Some(Truth::Values(v)) => v.iter().skip(o).step_by(k).map(|&v| v as f64).collect(),
        _ => vec![],
    };
    let (lo, hi) = finite_bounds(vals.iter().chain(&truths).copied())
        .context("the model predicts no finite value on the grid")?;
    let span = if hi > lo { hi - lo } else { 1.0 };
    let band = move |v: f64| {
        if v.is_finite() {
            (((v - lo) / span * BANDS as f64) as usize).min(BANDS - 1)
        } else {
            BANDS // not a number: grey
        }
    };
    let keys = vals.iter().map(|&v| band(v)).collect();
    let name = model
        .meta
        .target_columns
        .get(o)
        .cloned()
        .unwrap_or_else(|| targets[o].clone());
    Ok(Picture {
        cells: Cells {
            keys,
            color: Box::new(band_color),
            attrs: Box::new(move |b| {
                let edge = |b: usize| lo + span * b as f64 / BANDS as f64;
                format!(
                    "data-lo=\"{}\" data-hi=\"{}\"",
                    attr(edge(b)),
                    attr(edge(b + 1))
                )
            }),
        },
        legend: Legend::Bar {
            name,
            lo,
            hi: lo + span,
            output: o,
        },
    })
}

/// `--output`: the target to draw, by name or 0-based index (the first without it).
fn output_index(output: Option<&str>, targets: &[String]) -> Result<usize> {
    let k = targets.len();
    Ok(match output {
        None => 0,
        Some(s) => match s.parse::<usize>() {
            Ok(i) if i < k => i,
            _ => targets.iter().position(|t| t == s).with_context(|| {
                format!(
                    "--output {s:?}: the model's targets are {} (or 0 to {})",
                    targets.join(", "),
                    k - 1
                )
            })?,
        },
    })
}

fn band_color(b: usize) -> RGBColor {
    if b >= BANDS {
        return RGBColor(160, 160, 160);
    }
    ViridisRGB::get_color_normalized((b as f64 + 0.5) / BANDS as f64, 0.0, 1.0)
}

/// A value's colour on the bar from `lo` to `hi`.
fn value_color(v: f64, lo: f64, hi: f64) -> RGBColor {
    ViridisRGB::get_color_normalized(((v - lo) / (hi - lo)).clamp(0.0, 1.0), 0.0, 1.0)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[allow(clippy::too_many_arguments)]
fn draw_plot(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    model: &Model,
    (xr, yr): (Range<f64>, Range<f64>),
    g: usize,
    picture: &Picture,
    points: &[((f64, f64), RGBColor, String)],
    tags: &mut Tags,
) -> Result<()> {
    let mut chart = chart(area, title, (xr.clone(), yr.clone()))?;
    let edge = |r: &Range<f64>, i: usize| r.start + i as f64 * (r.end - r.start) / g as f64;
    let cells = &picture.cells;
    let mut rects = vec![];
    for j in 0..g {
        let row = &cells.keys[j * g..(j + 1) * g];
        let mut i = 0;
        while i < g {
            let key = row[i];
            let run = row[i..].iter().take_while(|&&k| k == key).count();
            let (x0, x1) = (edge(&xr, i), edge(&xr, i + run));
            let (y0, y1) = (edge(&yr, j), edge(&yr, j + 1));
            tags.rect(
                chart.backend_coord(&(x0, y0)),
                chart.backend_coord(&(x1, y1)),
                format!(
                    "data-x0=\"{}\" data-x1=\"{}\" data-y0=\"{}\" data-y1=\"{}\" {}",
                    attr(x0),
                    attr(x1),
                    attr(y0),
                    attr(y1),
                    (cells.attrs)(key)
                ),
            );
            rects.push(Rectangle::new(
                [(x0, y0), (x1, y1)],
                (cells.color)(key).filled(),
            ));
            i += run;
        }
    }
    chart.draw_series(rects)?;
    let names = &model.meta.feature_names;
    draw_axes(&mut chart, (&names[0], &names[1]))?;
    // the data on top: a dot in its true colour inside a white and a dark ring, so it shows
    // on a region of its own colour too
    for ((x, y), color, attrs) in points {
        let at = chart.backend_coord(&(*x, *y));
        tags.circle(
            at,
            5,
            format!("data-x=\"{}\" data-y=\"{}\" {attrs}", attr(*x), attr(*y)),
        );
        chart.draw_series([
            Circle::new((*x, *y), 5, color.filled()),
            Circle::new((*x, *y), 6, WHITE.stroke_width(2)),
            Circle::new((*x, *y), 7, RGBColor(30, 30, 30).stroke_width(1)),
        ])?;
    }
    Ok(())
}

/// Each data point's colour (its true class's or value's) and `data-*` attributes.
fn point_styles(n: usize, truth: Option<&Truth>, picture: &Picture) -> Vec<(RGBColor, String)> {
    (0..n)
        .map(|i| match (truth, &picture.legend) {
            (Some(Truth::Classes(c)), Legend::Classes(names)) => (
                class_color(c[i]),
                format!("data-class=\"{}\"", xml_escape(&names[c[i]].0)),
            ),
            (Some(Truth::Values(v)), Legend::Bar { lo, hi, output, .. }) => {
                let val = v[i * (v.len() / n) + output] as f64;
                (
                    value_color(val, *lo, *hi),
                    format!("data-value=\"{}\"", attr(val)),
                )
            }
            _ => (RGBColor(40, 40, 40), String::new()),
        })
        .collect()
}

/// Legend entries stacked from the top of the right-hand strip.
fn draw_legend(area: &DrawingArea<SVGBackend, Shift>, picture: &Picture) -> Result<()> {
    let left = |size| {
        (FONT, size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center))
    };
    match &picture.legend {
        Legend::Classes(classes) => {
            area.draw(&Text::new("class", (10, 70), left(16)))?;
            for (c, (name, color)) in classes.iter().enumerate() {
                let y = 100 + 28 * c as i32;
                area.draw(&Rectangle::new(
                    [(10, y - 10), (34, y + 10)],
                    tint(*color, SHADES[SHADES.len() - 1]).filled(),
                ))?;
                area.draw(&Circle::new((22, y), 4, color.filled()))?;
                area.draw(&Circle::new((22, y), 5, BLACK.stroke_width(1)))?;
                area.draw(&Text::new(name.as_str(), (44, y), left(14)))?;
            }
            let y = 100 + 28 * classes.len() as i32 + 10;
            for (i, line) in [
                "regions: predicted class,",
                "lighter where less sure;",
                "dots: true class",
            ]
            .iter()
            .enumerate()
            {
                area.draw(&Text::new(*line, (10, y + 18 * i as i32), left(12)))?;
            }
        }
        Legend::Bar { name, lo, hi, .. } => {
            area.draw(&Text::new(name.as_str(), (10, 70), left(16)))?;
            let (top, height) = (100, 400);
            for b in 0..BANDS {
                // value grows upwards
                let y1 = top + height - (height * b as i32) / BANDS as i32;
                let y0 = top + height - (height * (b as i32 + 1)) / BANDS as i32;
                area.draw(&Rectangle::new(
                    [(10, y0), (40, y1)],
                    band_color(b).filled(),
                ))?;
            }
            area.draw(&Rectangle::new(
                [(10, top), (40, top + height)],
                BLACK.stroke_width(1),
            ))?;
            for t in 0..=4 {
                let v = lo + (hi - lo) * t as f64 / 4.0;
                let y = top + height - height * t / 4;
                area.draw(&PathElement::new(vec![(40, y), (46, y)], BLACK))?;
                area.draw(&Text::new(decimal(v, (hi - lo) / 4.0), (50, y), left(13)))?;
            }
            area.draw(&Text::new(
                "dots: true value",
                (10, top + height + 30),
                left(12),
            ))?;
        }
    }
    Ok(())
}
