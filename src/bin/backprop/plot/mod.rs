//! Pictures as SVG, drawn with plotters' SVG backend (text stays `<text>` elements, so no fonts
//! are needed to make a file):
//!
//! * `history` — training curves (`backprop train --plot FILE.svg`);
//! * `regions` — `backprop plot regions`: a 2-input model's classes or values over a grid;
//! * `surface` — `backprop plot loss-surface`: the loss over two weights and a descent path.
//!
//! The grid cells and path points carry `data-*` attributes with their coordinates in the data's
//! own units (added by [`Tags`] after plotters has written the file), so a reader — or a test —
//! can ask "what colour is the picture at (x, y)?" without inverting the axis mapping.

mod history;
mod regions;
mod surface;

pub use history::write_svg;

use crate::args::{ModelData, PlotCommand};
use anyhow::{bail, Context, Result};
use backprop::io::{Model, TaskInfo};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::Path;

pub const FONT: &str = "sans-serif";

/// matplotlib's tab10 palette: one colour per class, cycled past ten.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub fn run(cmd: &PlotCommand) -> Result<()> {
    match cmd {
        PlotCommand::Regions(a) => regions::run(a),
        PlotCommand::LossSurface(a) => surface::run(a),
    }
}

/// The model (a file, or a hand-set `--arch` description) and the DATA argument.
pub fn model_and_data(input: &ModelData) -> Result<(Model, String, String)> {
    match (&input.arch, input.files.as_slice()) {
        (Some(arch), [data]) => Ok((
            crate::summary::from_arch(arch)?,
            data.clone(),
            arch.display().to_string(),
        )),
        (Some(_), _) => bail!("with --arch, give only DATA (the network is the description)"),
        (None, [model, data]) => {
            let m = Model::load(model).with_context(|| format!("loading model {model}"))?;
            Ok((m, data.clone(), model.clone()))
        }
        (None, _) => bail!("give MODEL and DATA, or --arch NET.json and DATA"),
    }
}

/// The target column of labelled data as the model reads it: class indices or values
/// (`outputs` per row). `None` when the file has no target column.
pub enum Truth {
    Classes(Vec<usize>),
    Values(Vec<f32>),
}

pub fn truth(model: &Model, targets: Option<&[String]>, source: &str) -> Result<Option<Truth>> {
    let Some(targets) = targets else {
        return Ok(None);
    };
    Ok(Some(match &model.meta.task {
        TaskInfo::Classification { classes } => Truth::Classes(
            targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    classes.iter().position(|c| c == t.trim()).with_context(|| {
                        format!(
                            "{source}: row {}: label {t:?} is not a class of the model ({})",
                            i + 1,
                            classes.join(", ")
                        )
                    })
                })
                .collect::<Result<_>>()?,
        ),
        TaskInfo::Regression { .. } => Truth::Values(
            targets
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    s.trim().parse::<f32>().with_context(|| {
                        format!("{source}: row {}: target {s:?} is not a number", i + 1)
                    })
                })
                .collect::<Result<_>>()?,
        ),
    }))
}

/// `v` with as many decimals as ticks over a range of `span` need, without trailing zeros.
pub fn decimal(v: f64, span: f64) -> String {
    let decimals = (1.0 - span.log10().floor()).clamp(0.0, 9.0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A number for a `data-*` attribute: shortest round-trip form.
pub fn attr(v: f64) -> String {
    format!("{}", v as f32)
}

/// `data-*` attributes for elements plotters draws, matched afterwards by their pixel geometry:
/// plotters' SVG backend writes each rectangle or circle on a line of its own that starts
/// `<rect x=".." y=".." width=".." height=".."` or `<circle cx=".." cy=".." r=".."`.
#[derive(Default)]
pub struct Tags {
    by_key: HashMap<String, VecDeque<String>>,
    count: usize,
}

impl Tags {
    /// Tags the filled rectangle plotters draws between the two backend corners.
    pub fn rect(&mut self, a: (i32, i32), b: (i32, i32), attrs: String) {
        let (x0, y0, x1, y1) = (a.0.min(b.0), a.1.min(b.1), a.0.max(b.0), a.1.max(b.1));
        let key = format!(
            "<rect x=\"{x0}\" y=\"{y0}\" width=\"{}\" height=\"{}\"",
            x1 - x0,
            y1 - y0
        );
        self.push(key, attrs);
    }

    /// Tags the circle plotters draws at backend coordinate `c`.
    pub fn circle(&mut self, c: (i32, i32), r: u32, attrs: String) {
        self.push(
            format!("<circle cx=\"{}\" cy=\"{}\" r=\"{r}\"", c.0, c.1),
            attrs,
        );
    }

    fn push(&mut self, key: String, attrs: String) {
        self.by_key.entry(key).or_default().push_back(attrs);
        self.count += 1;
    }

    /// The SVG text with the attributes inserted; every tag must find its element.
    pub fn apply(mut self, svg: &str) -> Result<String> {
        let mut out = String::with_capacity(svg.len() + self.count * 64);
        let mut used = 0;
        for line in svg.split_inclusive('\n') {
            let key_end = line.find(" opacity=").unwrap_or(0);
            let attrs = self
                .by_key
                .get_mut(&line[..key_end])
                .and_then(|q| q.pop_front());
            match attrs {
                Some(attrs) => {
                    out.push_str(&line[..key_end]);
                    out.push(' ');
                    out.push_str(&attrs);
                    out.push_str(&line[key_end..]);
                    used += 1;
                }
                None => out.push_str(line),
            }
        }
        if used != self.count {
            bail!(
                "internal error: {} of {} tagged picture elements not found in the SVG",
                self.count - used,
                self.count
            );
        }
        Ok(out)
    }
}

/// A chart with two numeric axes on the SVG backend.
pub type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart with a title over `area`, axes from the two ranges.
pub fn chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    (xr, yr): (Range<f64>, Range<f64>),
) -> Result<Chart<'a, 'b>> {
    Ok(ChartBuilder::on(area)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(xr, yr)?)
}

/// The axes of a grid picture: no mesh, 8 ticks a side labelled with the decimals the span
/// needs, and the two axis names.
pub fn draw_axes(chart: &mut Chart<'_, '_>, (x_desc, y_desc): (&str, &str)) -> Result<()> {
    let (xr, yr) = (chart.x_range(), chart.y_range());
    let (xs, ys) = (xr.end - xr.start, yr.end - yr.start);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| decimal(*v, xs))
        .y_label_formatter(&|v| decimal(*v, ys))
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .x_labels(8)
        .y_labels(8)
        .draw()?;
    Ok(())
}

/// Writes the finished SVG text to `path`.
pub fn write_file(path: &Path, svg: &str) -> Result<()> {
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

/// `(lo, hi)` of finite values, or `None` if there are none.
pub fn finite_bounds(vals: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    vals.into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_find_their_elements_and_report_missing_ones() {
        let svg = "<svg>\n<rect x=\"1\" y=\"2\" width=\"3\" height=\"4\" opacity=\"1\" fill=\"#000000\"/>\n\
                   <circle cx=\"5\" cy=\"6\" r=\"2\" opacity=\"1\"/>\n</svg>\n";
        let mut t = Tags::default();
        t.rect((4, 6), (1, 2), "data-a=\"1\"".into());
        t.circle((5, 6), 2, "data-b=\"2\"".into());
        let out = t.apply(svg).unwrap();
        assert!(out.contains("height=\"4\" data-a=\"1\" opacity"), "{out}");
        assert!(out.contains("r=\"2\" data-b=\"2\" opacity"), "{out}");
        let mut t = Tags::default();
        t.circle((9, 9), 2, "data-b=\"2\"".into());
        assert!(t.apply(svg).unwrap_err().to_string().contains("1 of 1"));
    }

    #[test]
    fn decimals_follow_the_span() {
        assert_eq!(decimal(250.0, 400.0), "250");
        assert_eq!(decimal(0.25, 0.25), "0.25");
        assert_eq!(decimal(0.5, 1.0), "0.5");
        assert_eq!(decimal(-0.001, 1.0), "0");
    }
}
