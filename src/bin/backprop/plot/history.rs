//! Training curves as an SVG file: loss per epoch (train and validation) and, for classifiers,
//! accuracy per epoch, side by side. Drawn with plotters' SVG backend, which writes text as
//! `<text>` elements, so no fonts are needed to make the file.

use super::{decimal, FONT};
use anyhow::Context;
use backprop::train::{EpochReport, Metrics};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

const TRAIN: RGBColor = RGBColor(31, 119, 180); // matplotlib's blue and orange
const VAL: RGBColor = RGBColor(255, 127, 14);

/// One curve: a name for the legend, a colour and `(epoch, value)` points.
struct Curve {
    name: &'static str,
    color: RGBColor,
    points: Vec<(i32, f64)>,
}

/// The train and validation curves of one metric, skipping epochs where it is missing or not
/// finite (a diverged loss).
fn curves(history: &[EpochReport], metric: fn(&Metrics) -> Option<f32>) -> Vec<Curve> {
    let points = |pick: &dyn Fn(&EpochReport) -> Option<f32>| -> Vec<(i32, f64)> {
        history
            .iter()
            .filter_map(|r| Some((r.epoch as i32, pick(r).filter(|v| v.is_finite())? as f64)))
            .collect()
    };
    let train = points(&|r| metric(&r.train));
    let val = points(&|r| r.val.as_ref().and_then(metric));
    [("train", TRAIN, train), ("validation", VAL, val)]
        .into_iter()
        .filter(|(_, _, p)| !p.is_empty())
        .map(|(name, color, points)| Curve {
            name,
            color,
            points,
        })
        .collect()
}

/// What differs between the panels.
struct Panel {
    title: &'static str,
    y_desc: &'static str,
    y_range: Range<f64>,
    y_fmt: Box<dyn Fn(&f64) -> String>,
}

fn draw_panel(
    area: &DrawingArea<SVGBackend, Shift>,
    epochs: Range<i32>,
    panel: Panel,
    curves: &[Curve],
) -> anyhow::Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, (FONT, 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(epochs, panel.y_range)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(panel.y_desc)
        .y_label_formatter(&*panel.y_fmt)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 14))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .x_labels(8)
        .y_labels(8)
        .draw()?;
    for c in curves {
        let color = c.color;
        chart.draw_series(LineSeries::new(
            c.points.iter().copied(),
            color.stroke_width(2),
        ))?;
        // markers only while they do not crowd each other; a single epoch needs one to be seen
        if c.points.len() <= 40 {
            chart.draw_series(c.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    Ok(())
}

/// One legend for both panels, centred under the title, so it never hides a curve.
fn draw_legend(area: &DrawingArea<SVGBackend, Shift>, curves: &[Curve]) -> anyhow::Result<()> {
    // entry width: swatch, gap, text (plotters' estimate of ~0.6 em per character), spacing
    let entry = |c: &Curve| 30 + 8 * c.name.len() as i32 + 28;
    let total: i32 = curves.iter().map(entry).sum::<i32>() - 28;
    let mut x = area.dim_in_pixel().0 as i32 / 2 - total / 2;
    for c in curves {
        let style = c.color.stroke_width(3);
        area.draw(&PathElement::new(vec![(x, 12), (x + 24, 12)], style))?;
        let font = (FONT, 16)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(c.name, (x + 30, 12), font))?;
        x += entry(c);
    }
    Ok(())
}

/// `[lo, hi]` of all points, or `None` if there are none.
fn bounds(curves: &[Curve]) -> Option<(f64, f64)> {
    let vals = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    vals.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Writes the loss curves (train and validation) and, if the history has accuracies, the
/// accuracy curves as a two-panel SVG plot to `path`.
pub fn write_svg(path: &Path, history: &[EpochReport]) -> anyhow::Result<()> {
    let loss = curves(history, |m| Some(m.loss));
    let acc = curves(history, |m| m.accuracy);
    let (Some(first), Some(last)) = (history.first(), history.last()) else {
        anyhow::bail!("no epochs to plot");
    };
    let (lo, hi) = bounds(&loss).context("no finite loss to plot")?;
    // one epoch of room on each side, so no point sits on an axis (epoch 0 = before training)
    let epochs = first.epoch as i32 - 1..last.epoch as i32 + 1;

    let width = if acc.is_empty() { 700 } else { 1200 };
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = history.len();
    let title = format!(
        "Training history, {n} epoch{}",
        if n == 1 { "" } else { "s" }
    );
    let root = root.titled(&title, (FONT, 26))?;
    let (legend, root) = root.split_vertically(28);
    draw_legend(&legend, &loss)?;
    let panels = if acc.is_empty() {
        vec![root.clone()]
    } else {
        root.split_evenly((1, 2))
    };
    // losses are ≥ 0 for every loss but the hinge's shift; start the axis at 0 when possible
    let bottom = if lo >= 0.0 { 0.0 } else { lo * 1.05 };
    let top = if hi > bottom {
        hi + 0.05 * (hi - bottom)
    } else {
        bottom + 1.0
    };
    let loss_panel = Panel {
        title: "Loss",
        y_desc: "loss",
        y_range: bottom..top,
        y_fmt: Box::new(move |v| decimal(*v, top - bottom)),
    };
    draw_panel(&panels[0], epochs.clone(), loss_panel, &loss)?;
    if let Some((lo, _)) = bounds(&acc) {
        // zoom in on the range that was visited, in steps of 10 %, up to 100 %
        let bottom = ((lo * 10.0).floor() / 10.0).clamp(0.0, 0.9);
        let acc_panel = Panel {
            title: "Accuracy",
            y_desc: "accuracy",
            y_range: bottom..1.0,
            y_fmt: Box::new(|v| format!("{:.0}%", v * 100.0)),
        };
        draw_panel(&panels[1], epochs, acc_panel, &acc)?;
    }
    root.present()
        .with_context(|| format!("writing plot {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::write_svg;
    use backprop::train::{EpochReport, Metrics};

    fn history(n: usize, accuracy: bool) -> Vec<EpochReport> {
        (1..=n)
            .map(|e| {
                let t = e as f32;
                let m = |loss: f32, acc: f32| Metrics {
                    loss,
                    accuracy: accuracy.then_some(acc),
                    ..Metrics::default()
                };
                EpochReport {
                    epoch: e,
                    train: m(2.0 / t, 1.0 - 0.5 / t),
                    val: Some(m(2.2 / t + 0.01 * t, 0.95 - 0.5 / t)),
                    lr: 0.1,
                    seconds: 0.01,
                }
            })
            .collect()
    }

    /// Every opened tag is closed in order (enough to catch broken output without an XML crate).
    fn well_formed(svg: &str) -> Result<(), String> {
        let mut stack = vec![];
        for tag in svg.split('<').skip(1) {
            let tag = tag.split('>').next().ok_or("unterminated tag")?;
            let name = |t: &str| t.split_whitespace().next().unwrap_or("").to_string();
            if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
                continue;
            } else if let Some(closing) = tag.strip_prefix('/') {
                let open = stack
                    .pop()
                    .ok_or(format!("</{closing}> without an opening tag"))?;
                if open != name(closing) {
                    return Err(format!("<{open}> closed by </{closing}>"));
                }
            } else {
                stack.push(name(tag));
            }
        }
        match stack.is_empty() {
            true => Ok(()),
            false => Err(format!("unclosed {stack:?}")),
        }
    }

    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                Some(
                    t.split_once('>')?
                        .1
                        .split("</text>")
                        .next()?
                        .trim()
                        .to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn loss_and_accuracy_panels() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.svg");
        write_svg(&path, &history(30, true)).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        well_formed(&svg).unwrap();
        let texts = texts(&svg);
        let count = |want: &str| texts.iter().filter(|t| *t == want).count();
        for want in [
            "Training history, 30 epochs",
            "Loss",
            "Accuracy",
            "epoch",
            "loss",
            "accuracy",
            "100%",
        ] {
            assert!(count(want) >= 1, "no text {want:?} in {texts:?}");
        }
        // one legend names both curves
        assert_eq!((count("train"), count("validation")), (1, 1), "{texts:?}");
        // per colour: a curve in each panel and a legend swatch
        for colour in ["#1F77B4", "#FF7F0E"] {
            let lines = format!("<polyline fill=\"none\" opacity=\"1\" stroke=\"{colour}\"");
            assert_eq!(svg.matches(&lines).count(), 3, "{colour}");
        }
    }

    #[test]
    fn loss_only_without_accuracy_or_validation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.svg");
        let mut h = history(1, false);
        h[0].val = None;
        write_svg(&path, &h).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        well_formed(&svg).unwrap();
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "Loss") && !texts.iter().any(|t| t == "Accuracy"));
        assert!(!texts.iter().any(|t| t == "validation"), "{texts:?}");
        assert_eq!(
            svg.matches("<circle").count(),
            1,
            "a single epoch is drawn as a marker"
        );
        assert!(write_svg(&path, &[])
            .unwrap_err()
            .to_string()
            .contains("no epochs"));
    }
}
