//! The report's plots, as PNG and SVG bytes: latency percentiles over time per flow,
//! throughput per flow (offered, and approved, declined or timed out, stacked), the latency percentile spectrum per flow,
//! queue depth and utilisation of the busiest nodes, and outcomes by class.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (`assets/fonts`), so plots render on
//! machines without system fonts. Every plot names the scenario, the seed and its time zone.
//! Pure: the caller writes the bytes.

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::payments::network::{Decline, Outcome};
use crate::payments::time::{Span, Zone};
use crate::record::{INTERVAL_MINUTES, RunRecord, SloBound, SloMetric};

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "dejavu";
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
        Kind::Liquidity => liquidity(root, record),
    }
}

/// Draws a plot on a bitmap (encoded as PNG) and on an SVG.
/// Something drawn on a plot's area, by either backend.
pub(super) trait Drawing {
    /// Draws on `root`.
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
}

struct RunPlot<'a> {
    record: &'a RunRecord,
    kind: Kind,
}

impl Drawing for RunPlot<'_> {
    fn draw_on<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        draw(root, self.record, self.kind)
    }
}

/// A drawing rendered as PNG bytes and SVG text, on a white 1200 × 700 canvas.
pub(super) fn render_drawing(
    name: String,
    title: String,
    d: &impl Drawing,
) -> Result<Plot, String> {
    register_font();
    let mut buffer = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        d.draw_on(&root)?;
        root.present().map_err(err)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&buffer, SIZE.0, SIZE.1, image::ColorType::Rgb8)
        .map_err(err)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
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
    let line = |q: f64, samples_min: u64| -> Series {
        intervals
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty() && h.len() >= samples_min)
            .map(|(i, h)| (at(i), h.value_at_quantile(q) as f64 / 1000.0))
            .collect()
    };
    let series: [(&str, Series); 3] = [
        ("p50", line(0.5, 1)),
        ("p99 (intervals of 100 payments or more)", line(0.99, 100)),
        ("p99.9 (intervals of 1,000 or more)", line(0.999, 1000)),
    ];
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
    let mut chart = ChartBuilder::on(root)
        .caption(caption(record, &format!("{flow}: end-to-end latency of approved payments, per {INTERVAL_MINUTES} minutes")), font(24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..hours.max(1.0 / 60.0), (bottom..top).log_scale())
        .map_err(err)?;
    time_mesh(&mut chart, record, "latency, ms (log scale)", 15)?;
    // p99.9 first and thin, so p99 and p50 stay visible where few payments make them equal;
    // an interval without payments breaks the line rather than being bridged.
    for (i, (name, points)) in series.iter().enumerate().rev() {
        let color = PALETTE[i];
        let width = if i == 2 { 1 } else { 2 };
        draw_segments(&mut chart, points, width_h * 1.5, color, width, name)?;
    }
    for (name, ms) in &slos {
        let dashed = DashedLineSeries::new(
            [(0.0, *ms), (hours.max(1.0 / 60.0), *ms)],
            8,
            6,
            BLACK.stroke_width(2),
        );
        chart
            .draw_series(dashed)
            .map_err(err)?
            .label(name.as_str())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    legend(&mut chart, 16)
}

/// Draws one labelled line.
pub(super) fn draw_line<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: impl IntoIterator<Item = (f64, f64)>,
    color: RGBColor,
    width: u32,
    name: &str,
) -> Drawn {
    chart
        .draw_series(LineSeries::new(points, color.stroke_width(width)))
        .map_err(err)?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
    Ok(())
}

/// Draws a labelled line in pieces: where two points are more than `gap` apart on the x axis
/// (an interval without data between them), the line breaks instead of bridging it.
pub(super) fn draw_segments<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: &[(f64, f64)],
    gap: f64,
    color: RGBColor,
    width: u32,
    name: &str,
) -> Drawn {
    let mut start = 0;
    let mut labelled = false;
    for end in 1..=points.len() {
        if end < points.len() && points[end].0 - points[end - 1].0 <= gap {
            continue;
        }
        let piece = points[start..end].iter().copied();
        if labelled {
            chart.draw_series(LineSeries::new(piece, color.stroke_width(width))).map_err(err)?;
        } else {
            draw_line(chart, piece, color, width, name)?;
            labelled = true;
        }
        start = end;
    }
    Ok(())
}

/// Draws the mesh of a chart whose x axis is simulated time in hours, labelled as local
/// wall-clock time; axis descriptions one point larger than labels.
fn time_mesh<'a, DB, Y, YT>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    record: &RunRecord,
    y_desc: &str,
    label_size: u32,
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
        .label_style(font(label_size))
        .axis_desc_style(font(label_size + 2))
        .draw()
        .map_err(err)
}

/// Draws the legend box where plotters puts it by default (middle right).
pub(super) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    size: u32,
) -> Drawn {
    legend_at(chart, size, SeriesLabelPosition::MiddleRight)
}

/// Draws the legend box at `position`.
pub(super) fn legend_at<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    size: u32,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(font(size))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)
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
    let panels = root.split_evenly((record.flows.len().max(1), 1));
    for (k, panel) in panels.iter().enumerate().take(record.flows.len()) {
        let minutes = &record.minutes[k];
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
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!(
                    "{} (payments per second, averaged over {} min)",
                    record.flows[k].flow.name(),
                    bucket_minutes(minutes.len())
                ),
                font(16),
            )
            .margin(5)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..hours.max(1.0 / 60.0), 0.0..top)
            .map_err(err)?;
        time_mesh(&mut chart, record, "payments/s", 12)?;
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
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], color.filled())
                });
        }
        draw_line(&mut chart, offered, BLACK, 2, "offered")?;
        if k > 0 {
            continue; // One legend, on the first panel, covers them all.
        }
        legend_at(&mut chart, 12, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
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
                (0..=100)
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
    let mut chart = ChartBuilder::on(root)
        .caption(caption(record, "latency by percentile, approved payments, end to end"), font(24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..5.0, (bottom..top).log_scale())
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
        .label_style(font(15))
        .axis_desc_style(font(17))
        .draw()
        .map_err(err)?;
    for (i, (name, points)) in lines.into_iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        draw_line(&mut chart, points, color, 2, name)?;
    }
    legend(&mut chart, 16)
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

/// Utilisation and queue depth of the busiest nodes over time.
fn nodes<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, record: &RunRecord) -> Drawn {
    let title = caption(record, "busiest nodes: utilisation and longest queue over time");
    let root = root.titled(&title, font(24)).map_err(err)?;
    let (upper, lower) = root.split_vertically(SIZE.1 / 2 - 20);
    let chosen = busiest_nodes(record);
    let series: Vec<_> =
        chosen.iter().map(|&i| (record.nodes[i].name.as_str(), node_series(record, i))).collect();
    let hours = record.minutes.first().map_or(1, Vec::len) as f64 / 60.0;
    let util_top = series.iter().flat_map(|s| s.1.0.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.15;
    let queue_top =
        series.iter().flat_map(|s| s.1.1.iter().map(|p| p.1)).fold(1.0, f64::max) * 1.15;
    for (area, top, label, pick_queue) in [
        (&upper, util_top, "utilisation, % of servers busy", false),
        (&lower, queue_top, "longest queue in the minute", true),
    ] {
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .x_label_area_size(35)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..hours.max(1.0 / 60.0), 0.0..top)
            .map_err(err)?;
        time_mesh(&mut chart, record, label, 13)?;
        for (j, (name, (util, queue))) in series.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let points = if pick_queue { queue.clone() } else { util.clone() };
            draw_line(&mut chart, points, color, 2, name)?;
        }
        legend(&mut chart, 13)?;
    }
    Ok(())
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
    let mut chart = ChartBuilder::on(root)
        .caption(
            caption(record, "liquidity: headroom under each bank's cap at NBC, tightest banks"),
            font(24),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..hours, (low - 5.0)..105.0)
        .map_err(err)?;
    time_mesh(&mut chart, record, "headroom, % of the cap", 15)?;
    let bucket = bucket_minutes(minutes);
    for (i, &(bank, k, _)) in pairs.iter().enumerate() {
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
        let name = format!("kh_bank[{bank}] {}", CURRENCIES[k]);
        draw_line(&mut chart, points, PALETTE[i % PALETTE.len()], 2, &name)?;
    }
    legend(&mut chart, 16)
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
    let mut chart = ChartBuilder::on(root)
        .caption(
            caption(record, "outcomes other than approval, % of each flow's payments"),
            font(24),
        )
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(220)
        .build_cartesian_2d(0.0..top, -0.5..classes.len() as f64 - 0.5)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("share of the flow's payments, %")
        .y_labels(classes.len())
        .y_label_formatter(&|y| {
            let i = y.round();
            if (y - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(font(14))
        .axis_desc_style(font(16))
        .draw()
        .map_err(err)?;
    let band = 0.8 / flows as f64;
    for k in 0..record.flows.len() {
        let color = PALETTE[k % PALETTE.len()];
        let bars = classes.iter().enumerate().map(|(i, &o)| {
            let y0 = i as f64 - 0.4 + band * k as f64;
            Rectangle::new([(0.0, y0), (share(k, o), y0 + band * 0.9)], color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(record.flows[k].flow.name())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    legend_at(&mut chart, 16, SeriesLabelPosition::LowerRight)
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
    ]);
    let kinds = kinds.chain((!record.liquidity.is_empty()).then_some(Kind::Liquidity));
    names(record)
        .into_iter()
        .zip(kinds)
        .map(|((name, title), kind)| render(name, title, record, kind))
        .collect()
}
