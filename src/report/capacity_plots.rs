//! A sweep's capacity curves, as PNG and SVG: per-flow p50 and p99 with their 95 % interval
//! bands, approval, and the busiest nodes' peak-minute utilisation, against the varied value;
//! the knee, when the sweep searched for one, as a vertical line.
//!
//! Drawn when the sweep varies one key over numbers (a grid of several keys is a table in
//! `capacity.md`, not a curve).

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::plots::{
    Drawing, Drawn, Legend, Mark, PALETTE, Plot, chart_on, draw_line, err, font, linear_label,
    log_axis, log_label, render_drawing,
};
use crate::payments::party::Flow;
use crate::record::study::{Interval, Point, Sweep};

/// One curve point: the varied value and the interval there.
type Band = Vec<(f64, Interval)>;

#[derive(Clone, Copy)]
enum Which {
    Latency,
    Approval,
    Nodes,
}

/// The varied value of each point, when the sweep varies one key over numbers.
fn xs(s: &Sweep) -> Option<Vec<f64>> {
    if s.vary.len() != 1 || s.points.len() < 2 {
        return None;
    }
    s.points.iter().map(|p| p.values.values.first()?.value.parse::<f64>().ok()).collect()
}

fn band(s: &Sweep, x: &[f64], f: impl Fn(&Point) -> Interval) -> Band {
    x.iter().copied().zip(s.points.iter().map(f)).filter(|(_, i)| i.mean.is_finite()).collect()
}

fn flows(s: &Sweep) -> Vec<Flow> {
    s.points
        .first()
        .and_then(|p| p.runs.replications.first())
        .map_or_else(Vec::new, |h| h.flows.iter().map(|f| f.flow).collect())
}

/// The nodes with the highest mean peak-minute utilisation at any point, at most four.
fn busiest(s: &Sweep) -> Vec<String> {
    let Some(first) = s.points.first().and_then(|p| p.runs.replications.first()) else {
        return Vec::new();
    };
    let peak = |name: &str| {
        s.points
            .iter()
            .map(|p| p.runs.node_interval(name, |n| n.utilisation_pct_peak_minute).mean)
            .fold(0.0, f64::max)
    };
    let mut names: Vec<(String, f64)> =
        first.nodes.iter().map(|n| (n.name.clone(), peak(&n.name))).collect();
    names.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    names.into_iter().take(4).map(|n| n.0).collect()
}

fn draw_band<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    b: &Band,
    color: RGBColor,
    floor: f64,
) -> Drawn {
    let mut outline: Vec<(f64, f64)> = b.iter().map(|(x, i)| (*x, i.lo.max(floor))).collect();
    outline.extend(b.iter().rev().map(|(x, i)| (*x, i.hi.max(floor))));
    chart.draw_series(std::iter::once(Polygon::new(outline, color.mix(0.18)))).map_err(err)?;
    Ok(())
}

/// A plot's lines: label, band, colour, width; and its title and y axis.
type Lines = Vec<(String, Band, RGBColor, u32)>;

fn lines_for(s: &Sweep, x: &[f64], which: Which) -> (&'static str, &'static str, Lines) {
    let mut lines: Lines = Vec::new();
    let (what, y_desc) = match which {
        Which::Latency => {
            for (k, f) in flows(s).into_iter().enumerate() {
                let c = PALETTE[k % PALETTE.len()];
                let p99 = band(s, x, |p| p.runs.flow_interval(f, |h| h.latency_ms_p99));
                let p50 = band(s, x, |p| p.runs.flow_interval(f, |h| h.latency_ms_p50));
                lines.push((format!("{} p99", f.name()), p99, c, 3));
                lines.push((format!("{} p50", f.name()), p50, c, 1));
            }
            ("approved latency p50 (thin) and p99 (thick), 95 % bands", "latency, ms (log scale)")
        }
        Which::Approval => {
            for (k, f) in flows(s).into_iter().enumerate() {
                let b = band(s, x, |p| p.runs.flow_interval(f, |h| h.approval_pct));
                lines.push((f.name().to_string(), b, PALETTE[k % PALETTE.len()], 2));
            }
            ("approval, 95 % bands", "approved of answered, %")
        }
        Which::Nodes => {
            for (k, name) in busiest(s).into_iter().enumerate() {
                let b =
                    band(s, x, |p| p.runs.node_interval(&name, |n| n.utilisation_pct_peak_minute));
                lines.push((name, b, PALETTE[k % PALETTE.len()], 2));
            }
            ("busiest nodes' utilisation in their peak minute, 95 % bands", "utilisation, %")
        }
    };
    (what, y_desc, lines)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &Sweep, which: Which) -> Drawn {
    let x = xs(s).ok_or("a curve needs one varied numeric key")?;
    let key = &s.vary[0].key;
    let (x0, x1) =
        (x.iter().copied().fold(f64::MAX, f64::min), x.iter().copied().fold(f64::MIN, f64::max));
    let pad = (x1 - x0).max(1e-9) * 0.03;
    let (what, y_desc, lines) = lines_for(s, &x, which);
    let values = lines.iter().flat_map(|l| l.1.iter().flat_map(|(_, i)| [i.lo, i.hi]));
    let values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    let caption = format!(
        "{} — {what} (seed {}, {} replications per point)",
        s.scenario, s.seed, s.replications
    );
    let titled = root.titled(&caption, font(22)).map_err(err)?;
    let mut area = chart_on(&titled, 15);
    area.x_label_area_size(50).y_label_area_size(80);
    let knee = s.knee.as_ref().and_then(|k| k.value);
    if let Which::Latency = which {
        let top = values.iter().copied().fold(10.0, f64::max) * 1.5;
        let bottom = values.iter().copied().filter(|v| *v > 0.0).fold(top, f64::min).max(0.1) / 1.5;
        let mut chart =
            area.build_cartesian_2d((x0 - pad)..(x1 + pad), log_axis(bottom, top)).map_err(err)?;
        let legend =
            curves(&mut chart, (key, y_desc, &|v| log_label(*v)), &lines, (bottom, top), knee)?;
        return legend.draw(&titled, 15, 14);
    }
    let top = values.iter().copied().fold(0.0, f64::max).max(if matches!(which, Which::Nodes) {
        100.0
    } else {
        0.0
    }) * 1.05
        + 1.0;
    let bottom = values.iter().copied().fold(top, f64::min).clamp(-5.0, 0.0);
    let mut chart = area.build_cartesian_2d((x0 - pad)..(x1 + pad), bottom..top).map_err(err)?;
    let mut legend = curves(&mut chart, (key, y_desc, &linear_label), &lines, (bottom, top), knee)?;
    if let Which::Nodes = which {
        let full = DashedLineSeries::new(
            [(x0 - pad, 100.0), (x1 + pad, 100.0)],
            8,
            6,
            RED.stroke_width(2),
        );
        chart.draw_series(full).map_err(err)?;
        legend.add("100 % busy", Mark::Line { color: RED, width: 2, dashed: true });
    }
    legend.draw(&titled, 15, 14)
}

/// How a value on an axis is written.
type LabelFn = dyn Fn(&f64) -> String;

/// The mesh, each line's band and mean, and the knee's vertical line; their legend.
fn curves<'a, DB, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    (key, y_desc, y_label): (&str, &str, &LabelFn),
    lines: &Lines,
    (bottom, top): (f64, f64),
    knee: Option<f64>,
) -> Result<Legend, String>
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(key)
        .y_desc(y_desc)
        .y_label_formatter(y_label)
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .map_err(err)?;
    let mut legend = Legend::default();
    for (name, b, c, w) in lines {
        draw_band(chart, b, *c, bottom)?;
        let means = b.iter().map(|(x, i)| (*x, i.mean.max(bottom)));
        draw_line(chart, &mut legend, means, *c, *w, name)?;
    }
    if let Some(k) = knee {
        let line = vec![(k, bottom), (k, top)];
        chart.draw_series(LineSeries::new(line, BLACK.stroke_width(2))).map_err(err)?;
        legend.add("the knee", Mark::line(BLACK, 2));
    }
    Ok(legend)
}

struct CurvePlot<'a> {
    sweep: &'a Sweep,
    which: Which,
}

impl Drawing for CurvePlot<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        draw(root, self.sweep, self.which)
    }
}

fn render(s: &Sweep, which: Which, name: &str, title: &str) -> Result<Plot, String> {
    render_drawing(name.to_string(), title.to_string(), &CurvePlot { sweep: s, which })
}

/// The capacity curves, or none when the sweep is not a curve (several keys, non-numbers, or a
/// single point).
///
/// # Errors
/// A plot that cannot be drawn.
pub fn plots(s: &Sweep) -> Result<Vec<Plot>, String> {
    if xs(s).is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![
        render(
            s,
            Which::Latency,
            "capacity-latency",
            "per-flow p50 and p99 against the varied value",
        )?,
        render(
            s,
            Which::Approval,
            "capacity-approval",
            "per-flow approval against the varied value",
        )?,
        render(s, Which::Nodes, "capacity-nodes", "the busiest nodes' peak-minute utilisation")?,
    ])
}
