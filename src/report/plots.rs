//! The report's plots, as PNG and SVG bytes: latency percentiles over time per flow,
//! throughput per flow (offered, and approved, declined or timed out, stacked), the latency percentile spectrum per flow,
//! queue depth and utilisation of the busiest nodes, and outcomes by class.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (`assets/fonts`), so plots render on
//! machines without system fonts. Every plot names the scenario, the seed and its time zone.
//! Pure: the caller writes the bytes.

use plotters::coord::Shift;
use plotters::coord::combinators::{BindKeyPoints, LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::payments::network::{Decline, Outcome};
use crate::payments::time::{Span, Zone};
use crate::record::{INTERVAL_MINUTES, IncidentKind, RunRecord, SloBound, SloMetric};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "DejaVu Sans";
const SIZE: (u32, u32) = (1200, 700);
pub(super) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// One rendered plot.
pub struct Plot {
    /// File name without extension.
    pub name: String,
    /// What it shows, for the summary's list.
    pub title: String,
    /// PNG bytes.
    pub png: Vec<u8>,
    /// SVG text.
    pub svg: String,
}

pub(super) type Drawn = Result<(), String>;
/// Points of a line.
type Series = Vec<(f64, f64)>;

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded font parses"));
    });
}

pub(super) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Which plot.
#[derive(Clone, Copy)]
enum Kind {
    Latency(usize),
    Throughput,
    Spectrum,
    Nodes,
    Outcomes,
    Hops,
    Liquidity,
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    record: &RunRecord,
    kind: Kind,
) -> Drawn {
    match kind {
        Kind::Latency(k) => latency_over_time(root, record, k),
        Kind::Throughput => throughput(root, record),
        Kind::Spectrum => spectrum(root, record),
        Kind::Nodes => nodes(root, record),
        Kind::Outcomes => outcomes(root, record),
        Kind::Hops => hops(root, record),
        Kind::Liquidity => liquidity(root, record),
    }
}

/// Draws a plot on a bitmap (encoded as PNG) and on an SVG.
/// Something drawn on a plot's area, by either backend.
pub(super) trait Drawing {
    /// Draws on `root`.
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;

    /// The canvas, pixels: 1200 × 700 unless the drawing needs more height.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
}

struct RunPlot<'a> {
    record: &'a RunRecord,
    kind: Kind,
}

impl Drawing for RunPlot<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        draw(root, self.record, self.kind)
    }

    fn size(&self) -> (u32, u32) {
        match self.kind {
            // A panel per flow and one for all flows, each tall enough to read.
            Kind::Throughput => {
                let panels = u32::try_from(throughput_panels(self.record)).unwrap_or(1);
                (SIZE.0, SIZE.1.max(50 + 170 * panels))
            }
            _ => SIZE,
        }
    }
}

/// A drawing rendered as PNG bytes and SVG text, on a white canvas of its size.
pub(super) fn render_drawing(
    name: String,
    title: String,
    d: &impl Drawing,
) -> Result<Plot, String> {
    register_font();
    let size = d.size();
    let mut buffer = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        d.draw_on(&root)?;
        root.present().map_err(err)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&buffer, size.0, size.1, image::ColorType::Rgb8)
        .map_err(err)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        d.draw_on(&root)?;
        root.present().map_err(err)?;
    }
    Ok(Plot { name, title, png, svg })
}

fn render(name: String, title: String, record: &RunRecord, kind: Kind) -> Result<Plot, String> {
    render_drawing(name, title, &RunPlot { record, kind })
}

use image::ImageEncoder as _;

fn zone_label(zone: Zone) -> String {
    let (h, m) = (zone.offset_minutes / 60, (zone.offset_minutes % 60).abs());
    format!("UTC{h:+03}:{m:02}")
}

/// Hours since the start, labelled as local wall-clock time.
fn time_label(record: &RunRecord, hours: f64) -> String {
    let minutes = (hours * 60.0).round().max(0.0) as u64;
    let at = record.start.checked_add(Span::from_minutes(minutes)).unwrap_or(record.start);
    let local = super::local_time(at, record.zone);
    // "2026-02-16T21:30+07:00" → "16 21:30"
    format!("{} {}", &local[8..10], &local[11..16])
}

fn caption(record: &RunRecord, what: &str) -> String {
    format!("{} — {what} (seed {})", record.scenario, record.seed)
}

pub(super) fn font(size: u32) -> (&'static str, u32) {
    (FAMILY, size)
}

/// Latency percentiles over time for one flow (answered payments, per simulated minute).
fn latency_over_time<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    record: &RunRecord,
    k: usize,
) -> Drawn {
    // Per ten-minute interval, from the interval histograms: exact percentiles of every
    // approved payment answered in the interval, plotted at the interval's middle.
    let intervals = &record.flows[k].intervals;
    let width_h = INTERVAL_MINUTES as f64 / 60.0;
    let at = |i: usize| (i as f64 + 0.5) * width_h;
    // A percentile is drawn only where the interval holds enough payments to have one of
    // its own: 100 for p99, 1,000 for p99.9 (with fewer it is just the maximum).
    // Each interval is rebuilt from its buckets once, for all three percentiles.
    let lines: [(f64, u64); 3] = [(0.5, 1), (0.99, 100), (0.999, 1000)];
    let mut points: [Series; 3] = Default::default();
    for (i, sparse) in intervals.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
        let h = sparse.histogram();
        for (&(q, samples_min), series) in lines.iter().zip(&mut points) {
            if h.len() >= samples_min {
                series.push((at(i), h.value_at_quantile(q) as f64 / 1000.0));
            }
        }
    }
    let [p50, p99, p999] = points;
    let series: [(&str, Series); 3] =
        [("p50", p50), ("p99 (intervals ≥ 100)", p99), ("p99.9 (intervals ≥ 1,000)", p999)];
    let minutes = &record.minutes[k];
    let hours = minutes.len() as f64 / 60.0;
    let this_flow = record.flows[k].flow;
    // The flow's latency SLOs, drawn as dashed lines at their bounds.
    let slos: Vec<(String, f64)> = record
        .slos
        .iter()
        .filter(|s| s.flow == Some(this_flow))
        .filter_map(|s| match (s.metric, s.bound) {
            (
                SloMetric::LatencyMsP50 | SloMetric::LatencyMsP99 | SloMetric::LatencyMsP999,
                SloBound::Max(ms),
            ) => Some((format!("SLO: {}", s.name), ms)),
            _ => None,
        })
        .collect();
    let top = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .chain(slos.iter().map(|s| s.1))
        .fold(10.0, f64::max)
        * 1.5;
    let bottom = series[0].1.iter().map(|p| p.1).fold(top, f64::min).max(0.01) / 1.5;
    let flow = record.flows[k].flow.name();
    let area = root.titled(&caption(record, &format!("{flow}: end-to-end latency of approved payments, per {INTERVAL_MINUTES} minutes")), font(24)).map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..hours.max(1.0 / 60.0), log_axis(bottom, top))
        .map_err(err)?;
    time_mesh(&mut chart, record, "latency, ms (log scale)", 15, &|v| log_label(*v))?;
    let mut legend = Legend::default();
    shade_incidents(&mut chart, &mut legend, record, (bottom, top))?;
    // p99.9 first and thin, so p99 and p50 stay visible where few payments make them equal;
    // an interval without payments breaks the line rather than being bridged.
    for (i, (name, points)) in series.iter().enumerate().rev() {
        let color = PALETTE[i];
        let width = if i == 2 { 1 } else { 2 };
        draw_segments(&mut chart, &mut legend, points, width_h * 1.5, color, width, name)?;
    }
    for (name, ms) in &slos {
        let dashed = DashedLineSeries::new(
            [(0.0, *ms), (hours.max(1.0 / 60.0), *ms)],
            8,
            6,
            BLACK.stroke_width(2),
        );
        chart.draw_series(dashed).map_err(err)?;
        legend.add(name, Mark::Line { color: BLACK, width: 2, dashed: true });
    }
    legend.draw(&area, 15, 15)
}

/// Draws one labelled line.
pub(super) fn draw_line<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    legend: &mut Legend,
    points: impl IntoIterator<Item = (f64, f64)>,
    color: RGBColor,
    width: u32,
    name: &str,
) -> Drawn {
    chart.draw_series(LineSeries::new(points, color.stroke_width(width))).map_err(err)?;
    legend.add(name, Mark::line(color, width));
    Ok(())
}

/// Draws a labelled line in pieces: where two points are more than `gap` apart on the x axis
/// (an interval without data between them), the line breaks instead of bridging it.
pub(super) fn draw_segments<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    legend: &mut Legend,
    points: &[(f64, f64)],
    gap: f64,
    color: RGBColor,
    width: u32,
    name: &str,
) -> Drawn {
    if points.is_empty() {
        return Ok(()); // Nothing drawn, nothing listed.
    }
    let mut start = 0;
    for end in 1..=points.len() {
        if end < points.len() && points[end].0 - points[end - 1].0 <= gap {
            continue;
        }
        let piece = points[start..end].iter().copied();
        chart.draw_series(LineSeries::new(piece, color.stroke_width(width))).map_err(err)?;
        start = end;
    }
    legend.add(name, Mark::line(color, width));
    Ok(())
}

/// Draws the mesh of a chart whose x axis is simulated time in hours, labelled as local
/// wall-clock time; axis descriptions one point larger than labels.
fn time_mesh<'a, DB, Y, YT>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    record: &RunRecord,
    y_desc: &str,
    label_size: u32,
    y_label: &dyn Fn(&YT) -> String,
) -> Drawn
where
    DB: DrawingBackend + 'a,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
{
    chart
        .configure_mesh()
        .x_desc(format!("simulated time ({})", zone_label(record.zone)))
        .y_desc(y_desc)
        .x_label_formatter(&|h| time_label(record, *h))
        .y_label_formatter(y_label)
        .label_style(font(label_size))
        .axis_desc_style(font(label_size + 2))
        .draw()
        .map_err(err)
}

/// Pixels kept free right of every chart for its legend, so that no legend covers data.
pub(super) const LEGEND_WIDTH: u32 = 250;

/// A chart builder on `area` with `margin` on three sides and the legend's room on the right.
pub(super) fn chart_on<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    margin: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(margin).margin_right(LEGEND_WIDTH);
    builder
}

/// How a legend shows a series.
#[derive(Clone, Copy, Debug)]
pub(super) enum Mark {
    /// A line of the colour and width, solid or dashed.
    Line { color: RGBColor, width: u32, dashed: bool },
    /// A filled box (bars, bands, shaded windows).
    Band(RGBColor),
}

impl Mark {
    /// A solid line.
    pub(super) fn line(color: RGBColor, width: u32) -> Mark {
        Mark::Line { color, width, dashed: false }
    }
}

/// A plot's legend: every series' name and mark in the order drawn, a name listed once. It is
/// drawn in the room right of the charts (see [`chart_on`]), so it never covers data.
#[derive(Default)]
pub(super) struct Legend {
    entries: Vec<(String, Mark)>,
}

impl Legend {
    /// Lists a series, unless one of that name is listed already.
    pub(super) fn add(&mut self, name: &str, mark: Mark) {
        if !self.entries.iter().any(|e| e.0 == name) {
            self.entries.push((name.to_owned(), mark));
        }
    }

    /// Draws the legend in the right-hand room of `area`, from `top` pixels down; long names
    /// wrap.
    pub(super) fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        top: i32,
        size: u32,
    ) -> Drawn {
        if self.entries.is_empty() {
            return Ok(());
        }
        let (width, _) = area.dim_in_pixel();
        let room = i32::try_from(LEGEND_WIDTH).unwrap_or(0);
        let x0 = i32::try_from(width).unwrap_or(0) - room + 6;
        let text_x = x0 + 34;
        let text_width = u32::try_from(room - 46).unwrap_or(0);
        let style = TextStyle::from(font(size)).pos(Pos::new(HPos::Left, VPos::Center));
        let line_h = i32::try_from(size * 3 / 2).unwrap_or(20);
        let mut rows: Vec<(Option<Mark>, String)> = Vec::new();
        for (name, mark) in &self.entries {
            for (i, piece) in wrap(area, name, &style, text_width).into_iter().enumerate() {
                rows.push(((i == 0).then_some(*mark), piece));
            }
        }
        let height = line_h * i32::try_from(rows.len()).unwrap_or(0) + 10;
        let corner = [(x0, top), (x0 + room - 12, top + height)];
        area.draw(&Rectangle::new(corner, WHITE.filled())).map_err(err)?;
        area.draw(&Rectangle::new(corner, BLACK.stroke_width(1))).map_err(err)?;
        for (i, (mark, text)) in rows.iter().enumerate() {
            let y = top + 5 + line_h * i32::try_from(i).unwrap_or(0) + line_h / 2;
            match mark {
                Some(Mark::Line { color, width, dashed: false }) => {
                    let path = PathElement::new(
                        vec![(x0 + 6, y), (x0 + 28, y)],
                        color.stroke_width(*width.max(&2)),
                    );
                    area.draw(&path).map_err(err)?;
                }
                Some(Mark::Line { color, width, dashed: true }) => {
                    for (a, b) in [(6, 13), (17, 24)] {
                        let path = PathElement::new(
                            vec![(x0 + a, y), (x0 + b, y)],
                            color.stroke_width(*width.max(&2)),
                        );
                        area.draw(&path).map_err(err)?;
                    }
                }
                Some(Mark::Band(color)) => {
                    let band = Rectangle::new([(x0 + 6, y - 6), (x0 + 28, y + 6)], color.filled());
                    area.draw(&band).map_err(err)?;
                }
                None => {}
            }
            area.draw_text(text, &style, (text_x, y)).map_err(err)?;
        }
        Ok(())
    }
}

/// `text` in lines no wider than `width` pixels, broken at spaces.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: u32,
) -> Vec<String> {
    let fits = |t: &str| area.estimate_text_size(t, style).map_or(true, |(w, _)| w <= width);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if line.is_empty() || fits(&candidate) {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        }
    }
    lines.push(line);
    lines
}

/// A logarithmic axis from `bottom` to `top` labelled at 1, 2 and 5 of every decade, with a
/// light line at every other whole step of it (3, 4, 6, …).
pub(super) fn log_axis(bottom: f64, top: f64) -> WithKeyPoints<LogCoord<f64>> {
    let mut labelled = Vec::new();
    let mut light = Vec::new();
    let mut decade = 10f64.powf(bottom.log10().floor());
    while decade <= top {
        for step in 1..10u32 {
            let v = decade * f64::from(step);
            if v < bottom || v > top {
                continue;
            }
            if matches!(step, 1 | 2 | 5) {
                labelled.push(v);
            } else {
                light.push(v);
            }
        }
        decade *= 10.0;
    }
    (bottom..top).log_scale().with_key_points(labelled).with_light_points(light)
}

/// A value on a log axis, in its own unit: `0.5`, `20`, `1,000`, `20,000`.
pub(super) fn log_label(v: f64) -> String {
    if v >= 1.0 {
        thousands(v.round() as u64)
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The label of a chart whose rows are categories at y = 0, 1, …: the row's name on its
/// line, nothing between rows.
pub(super) fn row_label(names: &[&str], y: f64) -> String {
    let row = y.round();
    let on_row = (y - row).abs() < 1e-6 && row >= 0.0;
    let name = on_row.then(|| names.get(row as usize)).flatten();
    name.map_or_else(String::new, |n| (*n).to_owned())
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A value on a linear axis without trailing zeros: `0`, `0.005`, `2.5`, `100`.
pub(super) fn linear_label(v: &f64) -> String {
    let text = format!("{v:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Shades every incident of the run (degraded windows, crashes, link outages) over the full
/// height of a time chart from `y_low` to `y_high`, under the data, with one legend entry per kind.
fn shade_incidents<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    legend: &mut Legend,
    record: &RunRecord,
    (y_low, y_high): (f64, f64),
) -> Drawn
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let hours = |t: crate::payments::time::Timestamp| {
        t.as_nanos().saturating_sub(record.start.as_nanos()) as f64 / 3.6e12
    };
    for kind in [IncidentKind::Outage, IncidentKind::Crash, IncidentKind::Degraded] {
        let color = incident_color(kind);
        let bands: Vec<_> = record
            .incidents
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| {
                Rectangle::new([(hours(i.from), y_low), (hours(i.until), y_high)], color.filled())
            })
            .collect();
        if bands.is_empty() {
            continue;
        }
        let label = match kind {
            IncidentKind::Outage => "link outage",
            IncidentKind::Crash => "node crash",
            IncidentKind::Degraded => "degraded window",
        };
        chart.draw_series(bands).map_err(err)?;
        legend.add(label, Mark::Band(color));
    }
    Ok(())
}

/// The shade of an incident: light red for what is down, light amber for what is degraded.
fn incident_color(kind: IncidentKind) -> RGBColor {
    match kind {
        IncidentKind::Outage | IncidentKind::Crash => RGBColor(250, 205, 205),
        IncidentKind::Degraded => RGBColor(253, 235, 190),
    }
}

/// Minutes per point of a long series: at most about 300 points a line.
fn bucket_minutes(minutes: usize) -> usize {
    minutes.div_ceil(300).max(1)
}

/// A per-minute count as a rate per minute averaged over buckets, at each bucket's middle.
fn per_minute_rate(counts: impl ExactSizeIterator<Item = u32>) -> Series {
    let bucket = bucket_minutes(counts.len());
    let counts: Vec<u32> = counts.collect();
    counts
        .chunks(bucket)
        .enumerate()
        .map(|(i, c)| {
            let x = (i * bucket) as f64 / 60.0 + c.len() as f64 / 120.0;
            (x, c.iter().map(|&n| f64::from(n)).sum::<f64>() / c.len() as f64)
        })
        .collect()
}

/// Per flow, in payments per second: what became of the payments completed, stacked
/// (approved, declined, reversed or sent to manual handling), under the offered rate drawn as
/// a line, so an overload shows as the stack parting from the line and turning to declines.
fn throughput<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    let title =
        caption(record, "throughput per second: offered, and approved, declined or timed out");
    let root = root.titled(&title, font(24)).map_err(err)?;
    let total = (record.flows.len() > 1).then(|| all_flows(record));
    let series: Vec<(&str, &[crate::record::MinuteStats])> = total
        .as_deref()
        .map(|t| ("all flows", t))
        .into_iter()
        .chain(record.flows.iter().zip(&record.minutes).map(|(f, m)| (f.flow.name(), m.as_slice())))
        .collect();
    let panels = root.split_evenly((series.len().max(1), 1));
    let mut legend = Legend::default();
    for (panel, (name, minutes)) in panels.iter().zip(series) {
        let hours = minutes.len() as f64 / 60.0;
        let per_s = |f: fn(&crate::record::MinuteStats) -> u32| -> Series {
            per_minute_rate(minutes.iter().map(f)).into_iter().map(|(x, y)| (x, y / 60.0)).collect()
        };
        let offered = per_s(|m| m.offered);
        let approved = per_s(|m| m.approved);
        let declined = per_s(|m| m.approved + m.declined);
        let timed_out = per_s(|m| m.approved + m.declined + m.timed_out);
        let top =
            offered.iter().chain(&timed_out).map(|p| p.1).fold(0.0, f64::max).max(0.01) * 1.15;
        let mut chart = chart_on(panel, 5)
            .caption(
                format!(
                    "{name} (payments per second, averaged over {} min)",
                    bucket_minutes(minutes.len())
                ),
                font(16),
            )
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..hours.max(1.0 / 60.0), 0.0..top)
            .map_err(err)?;
        time_mesh(&mut chart, record, "payments/s", 12, &linear_label)?;
        shade_incidents(&mut chart, &mut legend, record, (0.0, top))?;
        // Tallest first, each band drawn over the one above it.
        for (points, color, name) in [
            (timed_out, PALETTE[3], "reversed or manual"),
            (declined, PALETTE[1], "declined"),
            (approved, PALETTE[2], "approved"),
        ] {
            // Opaque and lightened (each band covers the one above it, so no blending).
            let light = RGBColor(
                u8::try_from((u16::from(color.0) + 255) / 2).unwrap_or(255),
                u8::try_from((u16::from(color.1) + 255) / 2).unwrap_or(255),
                u8::try_from((u16::from(color.2) + 255) / 2).unwrap_or(255),
            );
            chart
                .draw_series(AreaSeries::new(points, 0.0, light.filled()).border_style(color))
                .map_err(err)?;
            legend.add(name, Mark::Band(light));
        }
        draw_line(&mut chart, &mut legend, offered, BLACK, 2, "offered")?;
    }
    legend.draw(&root, 10, 13)
}

/// The throughput plot's panels: every flow, and all flows together when there are several.
fn throughput_panels(record: &RunRecord) -> usize {
    record.flows.len() + usize::from(record.flows.len() > 1)
}

/// Every flow's per-minute counts added together.
fn all_flows(record: &RunRecord) -> Vec<crate::record::MinuteStats> {
    let len = record.minutes.iter().map(Vec::len).max().unwrap_or(0);
    let mut total = vec![crate::record::MinuteStats::default(); len];
    for minutes in &record.minutes {
        for (t, m) in total.iter_mut().zip(minutes) {
            t.offered += m.offered;
            t.approved += m.approved;
            t.declined += m.declined;
            t.timed_out += m.timed_out;
        }
    }
    total
}

/// The quantile at step `k` of the spectrum: 1 − 10^(−k/20), up to 99.999 %.
fn spectrum_quantile(k: u32) -> f64 {
    1.0 - 10f64.powf(-f64::from(k) / 20.0)
}

/// HdrHistogram-style latency percentile spectrum, one line per flow.
fn spectrum<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    let lines: Vec<(&str, Vec<(f64, f64)>)> = record
        .flows
        .iter()
        .map(|s| {
            let flow = s.flow;
            let h = &s.latency_approved;
            let points = if h.is_empty() {
                Vec::new()
            } else {
                // Only the quantiles the samples resolve: beyond 1 − 1/n every quantile is the
                // maximum, and a flat line there would claim a tail that was not measured.
                let n = h.len() as f64;
                (0..=100)
                    .filter(|&k| (1.0 - spectrum_quantile(k)) * n >= 1.0)
                    .map(|k| {
                        (
                            f64::from(k) / 20.0,
                            h.value_at_quantile(spectrum_quantile(k)) as f64 / 1000.0,
                        )
                    })
                    .collect()
            };
            (flow.name(), points)
        })
        .collect();
    let top = lines.iter().flat_map(|l| l.1.iter().map(|p| p.1)).fold(10.0, f64::max) * 1.5;
    let bottom =
        lines.iter().flat_map(|l| l.1.iter().map(|p| p.1)).fold(top, f64::min).max(0.01) / 1.5;
    let area = root
        .titled(&caption(record, "latency by percentile, approved payments, end to end"), font(24))
        .map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..5.0, log_axis(bottom, top))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, ms (log scale)")
        .x_labels(6)
        .x_label_formatter(&|x| {
            let q = 1.0 - 10f64.powf(-x);
            format!("{}%", (q * 100_000.0).round() / 1000.0)
        })
        .y_label_formatter(&|v| log_label(*v))
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .map_err(err)?;
    let mut legend = Legend::default();
    for (i, (name, points)) in lines.into_iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        draw_line(&mut chart, &mut legend, points, color, 2, name)?;
    }
    legend.draw(&area, 15, 15)
}

/// Indexes of the busiest nodes (by busy time), at most six, in node order.
fn busiest_nodes(record: &RunRecord) -> Vec<usize> {
    let mut order: Vec<usize> = (0..record.nodes.len()).collect();
    order.sort_by(|&a, &b| {
        let util = |i: usize| {
            record.nodes[i].occupancy.busy_ns as f64 / f64::from(record.nodes[i].servers)
        };
        util(b).total_cmp(&util(a)).then(a.cmp(&b))
    });
    order.truncate(6);
    order.sort_unstable();
    order
}

/// Per-minute utilisation (percent) and longest queue of a node.
fn node_series(record: &RunRecord, i: usize) -> (Series, Series) {
    let n = &record.nodes[i];
    let bucket = bucket_minutes(n.minutes.len());
    let mut previous = 0u128;
    let mut util = Vec::new();
    let mut queue = Vec::new();
    for (b, cells) in n.minutes.chunks(bucket).enumerate() {
        let last = cells.last().expect("chunks are not empty");
        let busy = last.busy_ns - previous;
        previous = last.busy_ns;
        let x = (b * bucket) as f64 / 60.0 + cells.len() as f64 / 120.0;
        let span_ns = 60e9 * cells.len() as f64;
        util.push((x, busy as f64 / (span_ns * f64::from(n.servers)) * 100.0));
        queue.push((x, f64::from(cells.iter().map(|c| c.queue_len_max).max().unwrap_or(0))));
    }
    (util, queue)
}

/// Tableau's ten colours, the nodes' palette.
const TAB10: [RGBColor; 10] = [
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

/// A node's line, fixed by its name so that a node looks the same in every run and plot: the
/// switch black, the gateway grey, UPI dark brown; member banks `kh_bank[i]` the i-th colour of
/// the palette (dashed from the eleventh on); China's issuers and acquirers dashed, from the
/// palette's sixth and fourth colours on.
pub(super) fn node_style(name: &str) -> NodeStyle {
    let (kind, index) = match name.split_once('[') {
        Some((kind, rest)) => (kind, rest.trim_end_matches(']').parse::<usize>().unwrap_or(0)),
        None => (name, 0),
    };
    let indexed = |offset: usize, dashed: bool| NodeStyle {
        color: TAB10[(offset + index) % TAB10.len()],
        dashed: dashed != ((index / TAB10.len()) % 2 == 1),
    };
    match kind {
        "bakong_switch" => NodeStyle { color: BLACK, dashed: false },
        "bakong_gateway" => NodeStyle { color: RGBColor(110, 110, 110), dashed: false },
        "upi" => NodeStyle { color: RGBColor(95, 55, 20), dashed: false },
        "kh_bank" => indexed(0, false),
        "cn_issuer" => indexed(5, true),
        "cn_acquirer" => indexed(3, true),
        _ => indexed(7, true),
    }
}

/// How a node's line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NodeStyle {
    pub(super) color: RGBColor,
    pub(super) dashed: bool,
}

/// Draws one labelled line in a node's style.
fn draw_node_line<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    legend: &mut Legend,
    points: Series,
    style: NodeStyle,
    name: &str,
) -> Drawn {
    if !style.dashed {
        return draw_line(chart, legend, points, style.color, 2, name);
    }
    let color = style.color;
    chart.draw_series(DashedLineSeries::new(points, 9, 5, color.stroke_width(2))).map_err(err)?;
    legend.add(name, Mark::Line { color, width: 2, dashed: true });
    Ok(())
}

/// Utilisation of the busiest nodes over time, against a line at 100 %, and their longest queue
/// when any of them queued at all.
fn nodes<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    let chosen = busiest_nodes(record);
    let series: Vec<_> =
        chosen.iter().map(|&i| (record.nodes[i].name.as_str(), node_series(record, i))).collect();
    let queued = series.iter().any(|s| s.1.1.iter().any(|p| p.1 > 0.0));
    let title = if queued {
        caption(record, "busiest nodes: utilisation and longest queue over time")
    } else {
        caption(record, "busiest nodes: utilisation over time (no queue formed at any)")
    };
    let root = root.titled(&title, font(24)).map_err(err)?;
    let (upper, lower) = if queued {
        let (u, l) = root.split_vertically(SIZE.1 / 2 - 20);
        (u, Some(l))
    } else {
        (root.clone(), None)
    };
    let hours = record.minutes.first().map_or(1, Vec::len) as f64 / 60.0;
    let util_top =
        series.iter().flat_map(|s| s.1.0.iter().map(|p| p.1)).fold(100.0, f64::max) * 1.08;
    let queue_top =
        series.iter().flat_map(|s| s.1.1.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.15;
    let panels = [
        Some((&upper, util_top, "utilisation, % of servers busy", false)),
        lower.as_ref().map(|l| (l, queue_top, "longest queue in the minute", true)),
    ];
    let mut legend = Legend::default();
    for (area, top, label, pick_queue) in panels.into_iter().flatten() {
        let mut chart = chart_on(area, 8)
            .x_label_area_size(35)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..hours.max(1.0 / 60.0), 0.0..top)
            .map_err(err)?;
        time_mesh(&mut chart, record, label, 13, &linear_label)?;
        shade_incidents(&mut chart, &mut legend, record, (0.0, top))?;
        if !pick_queue {
            let full = DashedLineSeries::new(
                [(0.0, 100.0), (hours.max(1.0 / 60.0), 100.0)],
                8,
                6,
                RED.stroke_width(2),
            );
            chart.draw_series(full).map_err(err)?;
            legend.add("100 % busy", Mark::Line { color: RED, width: 2, dashed: true });
        }
        for (name, (util, queue)) in &series {
            let points = if pick_queue { queue.clone() } else { util.clone() };
            draw_node_line(&mut chart, &mut legend, points, node_style(name), name)?;
        }
    }
    legend.draw(&root, 10, 13)
}

/// Every non-approved outcome class.
fn classes() -> Vec<Outcome> {
    let mut all =
        vec![Outcome::ApprovedLate, Outcome::Reversed, Outcome::Manual, Outcome::Abandoned];
    all.extend(Decline::ALL.iter().map(|&d| Outcome::Declined(d)));
    all
}

/// The tightest member banks' headroom under their liquidity cap over time (the lowest in each
/// stretch of minutes), percent of the cap: five (bank, currency) pairs at most.
fn liquidity<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    use super::liquidity::{CURRENCIES, tightest};
    let mut pairs: Vec<(usize, usize, f64)> = record
        .liquidity
        .iter()
        .flat_map(|b| {
            (0..2).filter_map(move |k| tightest(b, k).map(|t| (b.bank, k, t.headroom_pct)))
        })
        .collect();
    pairs.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    pairs.truncate(5);
    let minutes = record.liquidity.first().map_or(0, |b| b.minutes[0].len());
    let hours = (minutes as f64 / 60.0).max(1.0 / 60.0);
    let low = pairs.iter().map(|p| p.2).fold(0.0, f64::min);
    let area = root
        .titled(
            &caption(record, "liquidity: headroom under each bank's cap at NBC, tightest banks"),
            font(24),
        )
        .map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..hours, (low - 5.0)..105.0)
        .map_err(err)?;
    time_mesh(&mut chart, record, "headroom, % of the cap", 15, &linear_label)?;
    let mut legend = Legend::default();
    shade_incidents(&mut chart, &mut legend, record, (low - 5.0, 105.0))?;
    let bucket = bucket_minutes(minutes);
    for &(bank, k, _) in &pairs {
        let b = record.liquidity.iter().find(|b| b.bank == bank).expect("listed");
        let points: Series = b.minutes[k]
            .chunks(bucket)
            .enumerate()
            .filter_map(|(j, c)| {
                let lowest = c
                    .iter()
                    .filter(|p| p.cap_minor > 0)
                    .map(|p| p.headroom_minor() as f64 / p.cap_minor as f64 * 100.0)
                    .fold(f64::INFINITY, f64::min);
                lowest.is_finite().then_some(((j * bucket) as f64 / 60.0, lowest))
            })
            .collect();
        let node = format!("kh_bank[{bank}]");
        let name = format!("{node} {}", CURRENCIES[k]);
        let style = NodeStyle { dashed: k == 1, ..node_style(&node) };
        draw_node_line(&mut chart, &mut legend, points, style, &name)?;
    }
    legend.draw(&area, 15, 15)
}

/// Outcomes other than on-time approval, as a share of each flow's payments.
fn outcomes<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    let classes = classes();
    let flows = record.flows.len().max(1);
    let share = |k: usize, o: Outcome| {
        let s = &record.flows[k];
        if s.payments_count == 0 {
            0.0
        } else {
            s.count(o) as f64 / s.payments_count as f64 * 100.0
        }
    };
    let top = (0..record.flows.len())
        .flat_map(|k| classes.iter().map(move |&o| (k, o)))
        .map(|(k, o)| share(k, o))
        .fold(0.1, f64::max)
        * 1.2;
    let names: Vec<String> = classes.iter().map(|o| o.name().replace("declined:", "")).collect();
    let labels: Vec<&str> = names.iter().map(String::as_str).collect();
    let area = root
        .titled(
            &caption(record, "outcomes other than approval, % of each flow's payments"),
            font(24),
        )
        .map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(220)
        .build_cartesian_2d(0.0..top, -0.5..classes.len() as f64 - 0.5)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("share of the flow's payments, %")
        .y_labels(classes.len())
        .y_label_formatter(&|y| row_label(&labels, *y))
        .label_style(font(14))
        .axis_desc_style(font(16))
        .draw()
        .map_err(err)?;
    let band = 0.8 / flows as f64;
    let mut legend = Legend::default();
    for k in 0..record.flows.len() {
        let color = PALETTE[k % PALETTE.len()];
        let bars = classes.iter().enumerate().map(|(i, &o)| {
            let y0 = i as f64 - 0.4 + band * k as f64;
            Rectangle::new([(0.0, y0), (share(k, o), y0 + band * 0.9)], color.filled())
        });
        chart.draw_series(bars).map_err(err)?;
        legend.add(record.flows[k].flow.name(), Mark::Band(color));
    }
    legend.draw(&area, 15, 15)
}

/// Where a flow's mean end-to-end latency goes: one stacked bar per flow, a segment per hop of
/// its route (the mean time at that node, queue and service) in route order and the node's
/// colour, then the rest (links, the payer's mobile network, waiting out timeouts).
fn hops<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    let mean_ms = |h: &hdrhistogram::Histogram<u64>| {
        if h.is_empty() { 0.0 } else { h.mean() / 1000.0 }
    };
    let totals: Vec<f64> = record.flows.iter().map(|f| mean_ms(&f.latency_answered)).collect();
    let top = totals.iter().copied().fold(1.0, f64::max) * 1.25;
    let flows = record.flows.len();
    let area = root
        .titled(
            &caption(record, "where the time goes: mean latency of answered payments by hop"),
            font(24),
        )
        .map_err(err)?;
    let mut chart = chart_on(&area, 15)
        .x_label_area_size(50)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..top, -0.5..flows.max(1) as f64 - 0.5)
        .map_err(err)?;
    let names: Vec<&str> = record.flows.iter().map(|f| f.flow.name()).collect();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("ms (mean of the flow's answered payments)")
        .x_label_formatter(&linear_label)
        .y_labels(flows.max(1))
        .y_label_formatter(&|y| row_label(&names, *y))
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .map_err(err)?;
    let mut legend = Legend::default();
    let rest = RGBColor(215, 215, 215);
    for (k, f) in record.flows.iter().enumerate() {
        let y = k as f64;
        let mut x = 0.0;
        let mut segments: Vec<(String, f64, RGBColor)> = f
            .hops
            .iter()
            .map(|h| (h.node.clone(), mean_ms(&h.latency_us), node_style(&h.node).color))
            .collect();
        let at_nodes: f64 = segments.iter().map(|s| s.1).sum();
        segments.push((
            "links, mobile network, timeouts".to_owned(),
            (totals[k] - at_nodes).max(0.0),
            rest,
        ));
        for (name, width, color) in segments {
            let bar = Rectangle::new([(x, y - 0.3), (x + width, y + 0.3)], color.filled());
            chart.draw_series([bar]).map_err(err)?;
            legend.add(&name, Mark::Band(color));
            x += width;
        }
        let total = Text::new(format!("{:.0} ms", totals[k]), (x + top * 0.01, y + 0.05), font(15));
        chart.draw_series([total]).map_err(err)?;
    }
    legend.draw(&area, 15, 14)
}

/// Every plot's file name (without extension) and title, in the order they are drawn.
pub fn names(record: &RunRecord) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = record
        .flows
        .iter()
        .map(|s| {
            let flow = s.flow;
            (
                format!("latency-{}", flow.name()),
                format!("{} latency percentiles (p50, p99, p99.9) per minute", flow.name()),
            )
        })
        .collect();
    out.push((
        "throughput".into(),
        "payments per second per flow: offered, and approved, declined or timed out".into(),
    ));
    out.push(("latency-spectrum".into(), "latency percentile spectrum per flow".into()));
    out.push(("nodes".into(), "utilisation and queue depth of the busiest nodes".into()));
    out.push(("outcomes".into(), "outcomes by class per flow".into()));
    out.push((
        "latency-hops".into(),
        "mean end-to-end latency per flow, by hop: each node's queue and service, and the rest"
            .into(),
    ));
    if !record.liquidity.is_empty() {
        out.push((
            "liquidity".into(),
            "headroom under their liquidity cap of the tightest member banks".into(),
        ));
    }
    out
}

/// Every plot of a run.
///
/// # Errors
/// A drawing or encoding failure, as text (a bug: the inputs are all in range).
pub fn plots(record: &RunRecord) -> Result<Vec<Plot>, String> {
    let kinds = (0..record.flows.len()).map(Kind::Latency).chain([
        Kind::Throughput,
        Kind::Spectrum,
        Kind::Nodes,
        Kind::Outcomes,
        Kind::Hops,
    ]);
    let kinds = kinds.chain((!record.liquidity.is_empty()).then_some(Kind::Liquidity));
    names(record)
        .into_iter()
        .zip(kinds)
        .map(|((name, title), kind)| render(name, title, record, kind))
        .collect()
}
