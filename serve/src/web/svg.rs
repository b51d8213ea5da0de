//! Pictures drawn on the server as SVG: the interleaving timeline (hand-written, one `<rect>`
//! per wedge carrying `data-ordinal`, so tests and scripts can read it) and statistics against
//! resolution (plotters, SVG backend, no system fonts).

use plotters::prelude::*;

/// One wedge of the timeline.
pub(crate) struct Wedge {
    /// Acquisition ordinal (as stored: MXLIMS wedge ordinals).
    pub ordinal: i64,
    /// Sweep number (1-based, in acquisition order of first wedges).
    pub sweep: usize,
    /// Rotation range (degrees).
    pub start_deg: f64,
    pub end_deg: f64,
    /// What a tooltip says.
    pub label: String,
}

/// Colours for sweeps (dark enough on white for 3:1 contrast of graphics).
const COLOURS: [&str; 8] = [
    "#1f5fa8", "#b5400a", "#2e7d32", "#7b1fa2", "#8d6e00", "#00796b", "#c2185b", "#455a64",
];

/// The interleaving timeline: x = ordinal, y = rotation range, one `<rect>` per wedge.
pub(crate) fn timeline(wedges: &[Wedge], sweep_labels: &[String]) -> String {
    let (w, h, left, bottom, top, right) = (760.0, 300.0, 60.0, 40.0, 16.0, 180.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let first = wedges.iter().map(|x| x.ordinal).min().unwrap_or(0);
    let last = wedges.iter().map(|x| x.ordinal).max().unwrap_or(0);
    let n = (last - first + 1).max(1) as f64;
    let lo = wedges
        .iter()
        .map(|x| x.start_deg.min(x.end_deg))
        .fold(f64::INFINITY, f64::min);
    let hi = wedges
        .iter()
        .map(|x| x.start_deg.max(x.end_deg))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let x = |ordinal: f64| left + (ordinal - first as f64) / n * plot_w;
    let y = |deg: f64| top + (hi - deg) / (hi - lo) * plot_h;
    let mut out = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="Acquisition timeline: {} wedges of {} sweeps" class="timeline">"#,
        wedges.len(),
        sweep_labels.len()
    );
    // Axes and ticks.
    out.push_str(&format!(
        r##"<g stroke="#333" fill="none"><line x1="{left}" y1="{}" x2="{}" y2="{}"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}"/></g>"##,
        top + plot_h,
        left + plot_w,
        top + plot_h,
        top + plot_h
    ));
    for i in 0..=4 {
        let deg = lo + (hi - lo) * i as f64 / 4.0;
        out.push_str(&format!(
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#222">{deg:.1}°</text>"##,
            left - 4.0,
            y(deg) + 4.0
        ));
    }
    let step = ((n / 10.0).ceil() as i64).max(1);
    let mut o = first;
    while o <= last {
        out.push_str(&format!(
            r##"<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#222">{o}</text>"##,
            x(o as f64) + plot_w / n / 2.0,
            top + plot_h + 14.0
        ));
        o += step;
    }
    out.push_str(&format!(
        r##"<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#222">wedge ordinal (acquisition order)</text>"##,
        left + plot_w / 2.0,
        h - 6.0
    ));
    // One mark per wedge, in acquisition order.
    let mut sorted: Vec<&Wedge> = wedges.iter().collect();
    sorted.sort_by_key(|w| w.ordinal);
    for wedge in sorted {
        let colour = COLOURS[(wedge.sweep.max(1) - 1) % COLOURS.len()];
        let (y0, y1) = (
            y(wedge.start_deg.max(wedge.end_deg)),
            y(wedge.start_deg.min(wedge.end_deg)),
        );
        out.push_str(&format!(
            r#"<rect class="wedge" data-ordinal="{}" data-sweep="{}" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{colour}"><title>{}</title></rect>"#,
            wedge.ordinal,
            wedge.sweep,
            x(wedge.ordinal as f64) + 1.0,
            y0,
            (plot_w / n - 2.0).max(1.0),
            (y1 - y0).max(1.0),
            escape(&wedge.label)
        ));
    }
    // Legend.
    for (i, label) in sweep_labels.iter().enumerate() {
        let ly = top + 8.0 + i as f64 * 18.0;
        out.push_str(&format!(
            r##"<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}" font-size="12" fill="#222">{}</text>"##,
            left + plot_w + 12.0,
            ly,
            COLOURS[i % COLOURS.len()],
            left + plot_w + 30.0,
            ly + 10.0,
            escape(label)
        ));
    }
    out.push_str("</svg>");
    out
}

/// A statistic against resolution: one point per shell at the shell's high-resolution limit,
/// on a 1/d² axis labelled in Å. `points` are (d in Å, value).
pub(crate) fn against_resolution(title: &str, y_label: &str, points: &[(f64, f64)]) -> String {
    let mut svg = String::new();
    let xs: Vec<(f64, f64)> = points
        .iter()
        .filter(|(d, v)| *d > 0.0 && v.is_finite())
        .map(|(d, v)| (1.0 / (d * d), *v))
        .collect();
    {
        let root = SVGBackend::with_string(&mut svg, (360, 240)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let (x0, x1) = bounds(xs.iter().map(|p| p.0));
        let (y0, y1) = bounds(xs.iter().map(|p| p.1));
        let chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(44)
            .build_cartesian_2d(x0..x1, y0..y1);
        if let Ok(mut chart) = chart {
            let _ = chart
                .configure_mesh()
                .x_desc("resolution (Å)")
                .y_desc(y_label)
                .x_labels(5)
                .y_labels(5)
                .x_label_formatter(&|s| {
                    if *s > 0.0 {
                        format!("{:.2}", 1.0 / s.sqrt())
                    } else {
                        "∞".to_owned()
                    }
                })
                .light_line_style(WHITE)
                .draw();
            let colour = RGBColor(0x1f, 0x5f, 0xa8);
            let _ = chart.draw_series(LineSeries::new(xs.iter().copied(), colour));
            let _ = chart.draw_series(xs.iter().map(|p| Circle::new(*p, 4, colour.filled())));
        }
        let _ = root.present();
    }
    // Name the picture for assistive technology; mark it so tests find the points.
    svg.replacen(
        "<svg ",
        &format!(
            r#"<svg role="img" aria-label="{} against resolution, {} shells" data-points="{}" "#,
            escape(title),
            xs.len(),
            xs.len()
        ),
        1,
    )
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

/// Text for SVG/HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Lines against a numeric x (one `<circle>` per point; the picture says how many points).
pub(crate) fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> String {
    let mut svg = String::new();
    let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
    {
        let root = SVGBackend::with_string(&mut svg, (520, 260)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let (x0, x1) = bounds(all.iter().map(|p| p.0));
        let (y0, y1) = bounds(all.iter().map(|p| p.1));
        if let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(44)
            .build_cartesian_2d(x0..x1, y0..y1)
        {
            let _ = chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .light_line_style(WHITE)
                .draw();
            for (i, (name, points)) in series.iter().enumerate() {
                let colour = palette(i);
                if let Ok(s) = chart.draw_series(LineSeries::new(points.iter().copied(), colour)) {
                    s.label(*name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
                }
                let _ =
                    chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())));
            }
            let _ = chart
                .configure_series_labels()
                .background_style(WHITE)
                .border_style(BLACK)
                .draw();
        }
        let _ = root.present();
    }
    label(svg, title, all.len())
}

/// A histogram of `values` in `bins` bins (one `<rect>` per non-empty bin).
pub(crate) fn histogram(title: &str, x_label: &str, values: &[f64], bins: usize) -> String {
    let mut svg = String::new();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for v in values {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    {
        let root = SVGBackend::with_string(&mut svg, (300, 200)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
        if let Ok(mut chart) = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(30)
            .y_label_area_size(36)
            .build_cartesian_2d(lo..hi, 0.0..top)
        {
            let _ = chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc("count")
                .x_labels(4)
                .y_labels(4)
                .light_line_style(WHITE)
                .draw();
            let colour = palette(0);
            let _ = chart.draw_series(counts.iter().enumerate().filter(|(_, c)| **c > 0).map(
                |(i, c)| {
                    let x0 = lo + i as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, *c as f64)], colour.filled())
                },
            ));
        }
        let _ = root.present();
    }
    label(svg, title, values.len())
}

fn palette(i: usize) -> RGBColor {
    let hex = COLOURS[i % COLOURS.len()].trim_start_matches('#');
    let c = |k: usize| u8::from_str_radix(&hex[k..k + 2], 16).unwrap_or(0);
    RGBColor(c(0), c(2), c(4))
}

/// Name an SVG for assistive technology and say how many values it shows.
fn label(svg: String, title: &str, n: usize) -> String {
    svg.replacen(
        "<svg ",
        &format!(
            r#"<svg role="img" aria-label="{}, {n} values" data-values="{n}" "#,
            escape(title)
        ),
        1,
    )
}
