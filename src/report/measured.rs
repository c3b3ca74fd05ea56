//! A load test's files over time: `timeseries.csv`, `histograms.hlog` and two plots (latency
//! from the intended send time per interval, and requests due against answers received), from
//! the [`MeasuredSeries`] that `sim load` wrote. Pure: the caller writes the bytes.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::ReportFile;
use super::plots::{
    Drawing, Drawn, Legend, PALETTE, chart_on, draw_line, draw_segments, err, font, log_axis,
    log_label, render_drawing,
};
use crate::record::measured::MeasuredSeries;

/// The files, plots included.
///
/// # Errors
/// A plot that cannot be drawn.
pub fn files(s: &MeasuredSeries) -> Result<Vec<ReportFile>, String> {
    let mut out = vec![
        ReportFile::new("timeseries.csv", timeseries_csv(s)),
        ReportFile::new("histograms.hlog", histogram_log(s)),
    ];
    for (name, title, kind) in [
        ("latency", "latency from the intended send time, per interval", Kind::Latency),
        ("throughput", "requests due and answers received per second", Kind::Throughput),
    ] {
        let plot = render_drawing(name.into(), title.into(), &SeriesPlot { s, kind })?;
        out.push(ReportFile::new(format!("plots/{name}.png"), plot.png));
        out.push(ReportFile::new(format!("plots/{name}.svg"), plot.svg));
    }
    Ok(out)
}

fn quantile_ms(h: Option<&hdrhistogram::Histogram<u64>>, q: f64) -> Option<f64> {
    h.filter(|h| !h.is_empty()).map(|h| h.value_at_quantile(q) as f64 / 1000.0)
}

/// One row per interval: its start, the counts, the latency's p50, p99 and max in ms (empty
/// where nothing was answered).
fn timeseries_csv(s: &MeasuredSeries) -> String {
    let mut csv = String::from(
        "start_s,due_count,answered_count,failed_count,latency_ms_p50,latency_ms_p99,latency_ms_max\n",
    );
    for (i, m) in s.intervals.iter().enumerate() {
        let q = |q: f64| {
            quantile_ms(m.latency_us.as_ref(), q).map_or(String::new(), |v| format!("{v:.3}"))
        };
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            i as u64 * s.interval_s,
            m.due_count,
            m.answered_count,
            m.failed_count,
            q(0.5),
            q(0.99),
            q(1.0)
        );
    }
    csv
}

/// Every interval's latency histogram in HdrHistogram's interval-log format (V2, compressed),
/// tagged `latency_interval`, times from the run's start.
fn histogram_log(s: &MeasuredSeries) -> Vec<u8> {
    use hdrhistogram::serialization::V2DeflateSerializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use std::time::Duration;
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!(
            "bakong-sim load test of {} seed {}: latency from the intended send time, microseconds",
            s.scenario, s.seed
        ))
        .with_max_value_divisor(1000.0);
    let mut log = builder.begin_log_with(&mut out, &mut serializer).expect("writing to memory");
    let width = Duration::from_secs(s.interval_s);
    let tag = Tag::new("latency_interval").expect("no commas or spaces");
    for (i, m) in s.intervals.iter().enumerate() {
        if let Some(h) = &m.latency_us {
            log.write_histogram(h, width * i as u32, width, Some(tag)).expect("writing to memory");
        }
    }
    drop(log);
    out
}

#[derive(Clone, Copy)]
enum Kind {
    Latency,
    Throughput,
}

struct SeriesPlot<'a> {
    s: &'a MeasuredSeries,
    kind: Kind,
}

impl Drawing for SeriesPlot<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        match self.kind {
            Kind::Latency => latency(root, self.s),
            Kind::Throughput => throughput(root, self.s),
        }
    }
}

fn caption(s: &MeasuredSeries, what: &str) -> String {
    format!("{} (measured, seed {}): {what}", s.scenario, s.seed)
}

fn at(s: &MeasuredSeries, i: usize) -> f64 {
    (i as f64 + 0.5) * s.interval_s as f64
}

fn span_s(s: &MeasuredSeries) -> f64 {
    (s.intervals.len() as u64 * s.interval_s).max(1) as f64
}

/// p50, p99 and max per interval, on a logarithmic axis; no line across an interval without
/// answers.
fn latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &MeasuredSeries) -> Drawn {
    let line = |q: f64| -> Vec<(f64, f64)> {
        s.intervals
            .iter()
            .enumerate()
            .filter_map(|(i, m)| quantile_ms(m.latency_us.as_ref(), q).map(|v| (at(s, i), v)))
            .collect()
    };
    let series = [("p50", line(0.5)), ("p99", line(0.99)), ("max", line(1.0))];
    let top = series.iter().flat_map(|l| l.1.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.5;
    let bottom = series[0].1.iter().map(|p| p.1).fold(top, f64::min).max(0.01) / 1.5;
    let area = root
        .titled(
            &caption(s, &format!("latency per {} s from the intended send time", s.interval_s)),
            font(22),
        )
        .map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..span_s(s), log_axis(bottom, top))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds from the start of the run")
        .y_desc("latency, ms (log scale)")
        .y_label_formatter(&|v| log_label(*v))
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .map_err(err)?;
    let mut legend = Legend::default();
    for (i, (name, points)) in series.iter().enumerate().rev() {
        draw_segments(
            &mut chart,
            &mut legend,
            points,
            s.interval_s as f64 * 1.5,
            PALETTE[i],
            2,
            name,
        )?;
    }
    legend.draw(&area, 15, 15)
}

/// Requests due and answers received per second, per interval.
fn throughput<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, s: &MeasuredSeries) -> Drawn {
    let per_s = |f: fn(&crate::record::measured::MeasuredInterval) -> u64| -> Vec<(f64, f64)> {
        s.intervals
            .iter()
            .enumerate()
            .map(|(i, m)| (at(s, i), f(m) as f64 / s.interval_s as f64))
            .collect()
    };
    let due = per_s(|m| m.due_count);
    let answered = per_s(|m| m.answered_count);
    let failed = per_s(|m| m.failed_count);
    let top = due.iter().chain(&answered).map(|p| p.1).fold(1.0, f64::max) * 1.15;
    let area = root
        .titled(&caption(s, "requests due and answers received per second"), font(22))
        .map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..span_s(s), 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("seconds from the start of the run")
        .y_desc("per second")
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .map_err(err)?;
    // Due underneath and wider: where the server keeps up, answered lies on it.
    let mut legend = Legend::default();
    draw_line(&mut chart, &mut legend, due, PALETTE[0], 5, "due (intended send time)")?;
    draw_line(&mut chart, &mut legend, answered, PALETTE[2], 2, "answered")?;
    draw_line(&mut chart, &mut legend, failed, PALETTE[1], 1, "failed (no answer)")?;
    legend.draw(&area, 15, 15)
}
