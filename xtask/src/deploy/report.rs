//! The report page: the table and, per run, an SVG chart of requests/s, errors and p99 per second,
//! with a marker at each restart, kill and cut. The chart is plain SVG written here (no
//! JavaScript, no chart library), so the page works offline and the book can include the same
//! picture.

use super::outcome::{Outcome, markdown_table, text_table};
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 56.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 40.0;

/// How many lines of event labels the chart has above its plot, and the width of a label's
/// character at 12 px (sans-serif, a little generous).
const LABEL_LINES: usize = 5;
const LABEL_CHAR_WIDTH: f64 = 7.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A round upper bound for an axis.
fn nice_max(value: f64) -> f64 {
    let value = value.max(1.0);
    let magnitude = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if value <= step * magnitude {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn marker_colour(kind: &str) -> &'static str {
    match kind {
        "restart" => "#2563eb",
        "kill" => "#7c3aed",
        _ => "#b45309",
    }
}

/// The chart of one run. It carries its own white background and dark text, so it reads the
/// same in the book's light and dark themes.
pub fn svg(outcome: &Outcome) -> String {
    let seconds = outcome.per_second.len().max(1) as f64;
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let max_rate = nice_max(
        outcome
            .per_second
            .iter()
            .map(|s| s.requests)
            .max()
            .unwrap_or(1) as f64,
    );
    let max_p99 = nice_max(
        outcome
            .per_second
            .iter()
            .map(|s| s.p99_ms)
            .max()
            .unwrap_or(1) as f64,
    );
    let x = |second: f64| LEFT + second / seconds * plot_width;
    let y_rate = |rate: f64| TOP + plot_height - rate / max_rate * plot_height;
    let y_p99 = |ms: f64| TOP + plot_height - ms / max_p99 * plot_height;
    let bar = plot_width / seconds;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12" role="img" aria-label="Requests per second, failed requests and p99 latency per second of the deploy demo, {app}">
<title>The deploy demo, second by second: {app}</title>
<desc>Bars: requests per second through the load balancer, failed ones in red; line: the p99 latency of each second; dashed lines: each restart, kill and Redis cut.</desc>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="18" font-size="14" font-weight="bold" fill="#111827">{app}</text>
<text x="{LEFT}" y="34" fill="#374151"><tspan fill="#475569">■ requests/s</tspan>   <tspan fill="#dc2626">■ failed/s</tspan>   <tspan fill="#c2410c">— p99 latency (right axis)</tspan>   <tspan fill="#2563eb">| restart</tspan>   <tspan fill="#7c3aed">| kill</tspan>   <tspan fill="#b45309">| Redis cut</tspan></text>
"##,
        app = escape(&outcome.app)
    );
    // Axes and grid.
    for step in 0..=4 {
        let fraction = step as f64 / 4.0;
        let y = TOP + plot_height - fraction * plot_height;
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#767676" stroke-width="0.4" stroke-dasharray="2 4"/><text x="{}" y="{:.1}" text-anchor="end" fill="#374151">{}</text><text x="{}" y="{:.1}" fill="#9a3412">{} ms</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            (fraction * max_rate).round(),
            WIDTH - RIGHT + 6.0,
            y + 4.0,
            (fraction * max_p99).round()
        );
    }
    let tick = if seconds > 30.0 { 10 } else { 5 };
    for second in (0..=seconds as usize).step_by(tick) {
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#374151">{second} s</text>"##,
            x(second as f64),
            HEIGHT - BOTTOM + 16.0
        );
    }
    // Requests and failures, one bar per second.
    for (index, second) in outcome.per_second.iter().enumerate() {
        let left = x(index as f64) + 1.0;
        let width = (bar - 2.0).max(1.0);
        let top = y_rate(second.requests as f64);
        let _ = writeln!(
            svg,
            r##"<rect x="{left:.1}" y="{top:.1}" width="{width:.1}" height="{:.1}" fill="#94a3b8"/>"##,
            TOP + plot_height - top
        );
        if second.failed > 0 {
            let top = y_rate(second.failed as f64).min(TOP + plot_height - 2.0);
            let _ = writeln!(
                svg,
                r##"<rect x="{left:.1}" y="{top:.1}" width="{width:.1}" height="{:.1}" fill="#dc2626"><title>{} failed</title></rect>"##,
                TOP + plot_height - top,
                second.failed
            );
        }
    }
    // p99, one point per second.
    let points: Vec<String> = outcome
        .per_second
        .iter()
        .enumerate()
        .map(|(index, second)| {
            format!(
                "{:.1},{:.1}",
                x(index as f64 + 0.5),
                y_p99(second.p99_ms as f64)
            )
        })
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#c2410c" stroke-width="2"/>"##,
        points.join(" ")
    );
    // A marker at each event, its label above the plot, on the first line where it does not
    // overlap the label before it (events a few milliseconds apart, such as the workers'
    // restarts, would otherwise print over each other).
    let mut line_ends = [f64::MIN; LABEL_LINES];
    for event in &outcome.events {
        let at = x(event.at);
        let colour = marker_colour(&event.kind);
        let width = event.label.chars().count() as f64 * LABEL_CHAR_WIDTH;
        let line = (0..LABEL_LINES)
            .find(|&line| line_ends[line] < at)
            .unwrap_or_else(|| {
                (0..LABEL_LINES)
                    .min_by(|&a, &b| line_ends[a].total_cmp(&line_ends[b]))
                    .unwrap_or(0)
            });
        line_ends[line] = at + 3.0 + width + 4.0;
        let label_y = TOP + 12.0 + line as f64 * 13.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{TOP}" y2="{}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{:.1}" y="{label_y:.1}" fill="{colour}">{}</text>"##,
            TOP + plot_height,
            at + 3.0,
            escape(&event.label)
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#111827"/>"##,
        WIDTH - RIGHT,
        TOP + plot_height,
        TOP + plot_height
    );
    svg.push_str("</svg>\n");
    svg
}

/// The report page: the table, the load balancer against one replica, and a chart per run.
pub fn html(runs: &[&Outcome]) -> String {
    let mut page = String::from(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Deploy demo: report</title>
<style>
body { font-family: sans-serif; margin: 2rem; color: #111827; background: #ffffff; }
pre { font-size: 14px; background: #f3f4f6; padding: 1rem; overflow-x: auto; }
figure { margin: 1.5rem 0; }
</style></head><body>
<h1>Deploy demo</h1>
<p>Generated by <code>cargo xtask deploy --demo</code>: the app as several processes behind HAProxy,
under load from <code>oha</code>, while the demo restarted every web replica, killed a worker in the
middle of a delivery and cut Redis. Latencies are as the load balancer logged them.</p>
"#,
    );
    let _ = writeln!(page, "<pre>{}</pre>", escape(&text_table(runs)));
    for run in runs {
        if let (Some(lb), Some(direct)) = (&run.through_balancer, &run.direct) {
            let _ = writeln!(
                page,
                "<p>{}: an unlimited burst through the load balancer: {:.0} requests/s, p99 {:.1} ms; \
                 to one replica directly: {:.0} requests/s, p99 {:.1} ms.</p>",
                escape(&run.app),
                lb.rate,
                lb.p99_ms,
                direct.rate,
                direct.p99_ms
            );
        }
        if !run.failures.is_empty() {
            let failures: Vec<String> = run
                .failures
                .iter()
                .map(|(what, count)| format!("{} × {}", count, escape(what)))
                .collect();
            let _ = writeln!(
                page,
                "<p>{}: failures: {}.</p>",
                escape(&run.app),
                failures.join("; ")
            );
        }
    }
    for run in runs {
        let _ = writeln!(page, "<figure>{}</figure>", svg(run));
    }
    page.push_str("</body></html>\n");
    page
}

/// The Markdown the book includes: the table and the load balancer against one replica.
pub fn markdown(runs: &[&Outcome]) -> String {
    let mut text = String::from(
        "<!-- Written by `cargo xtask deploy --demo --book`: do not edit by hand. -->\n\n",
    );
    text.push_str(&markdown_table(runs));
    for run in runs {
        if let (Some(lb), Some(direct)) = (&run.through_balancer, &run.direct) {
            let _ = write!(
                text,
                "\nAn unlimited burst of requests to {}: through the load balancer, {:.0} \
                 requests/s with a p99 of {:.1} ms; to one replica directly, {:.0} requests/s \
                 with a p99 of {:.1} ms.\n",
                run.app, lb.rate, lb.p99_ms, direct.rate, direct.p99_ms
            );
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::outcome::{Event, Second};

    #[test]
    fn the_chart_has_a_bar_per_second_and_a_marker_per_event() {
        let outcome = Outcome {
            app: "the <finished> app".into(),
            per_second: vec![
                Second {
                    requests: 300,
                    failed: 0,
                    p99_ms: 9,
                },
                Second {
                    requests: 280,
                    failed: 4,
                    p99_ms: 30,
                },
            ],
            events: vec![Event {
                at: 1.2,
                kind: "restart".into(),
                label: "web.1 → web.4".into(),
            }],
            ..Outcome::default()
        };
        let svg = svg(&outcome);
        assert!(svg.contains("the &lt;finished&gt; app"));
        assert!(svg.contains("<title>4 failed</title>"));
        assert!(svg.contains("web.1 → web.4"));
        assert!(
            svg.contains(r##"fill="#ffffff""##),
            "a background of its own"
        );
        assert_eq!(svg.matches("fill=\"#94a3b8\"").count(), 2);
        assert!(html(&[&outcome]).contains("<svg"));
        // The book includes it: the same rules as its hand-drawn pictures.
        assert_eq!(crate::book::svg::svg_problems(&svg), Vec::<String>::new());
    }
}
