//! Bar charts as inline SVG, rendered on the server: no chart library, no script, no CDN.
//! Each chart also says what it shows in its accessible name, so a screen reader gets the
//! figures the bars draw.

use maud::{Markup, html};

/// Drawing size (the SVG scales to its box).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 150.0;
/// Room under the bars for the labels.
const LABEL_ROOM: f64 = 16.0;

/// One bar: a good part and a bad part stacked (the bad part on top), and its label.
pub struct Bar {
    pub good: u64,
    pub bad: u64,
    pub label: String,
}

/// Stacked bars of `bars`, with `summary` as the chart's accessible name. Labels are shown
/// on every `label_every`-th bar, so they never overlap.
pub fn stacked(summary: &str, bars: &[Bar], label_every: usize) -> Markup {
    let top = bars
        .iter()
        .map(|b| b.good + b.bad)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = WIDTH / bars.len().max(1) as f64;
    let plot = HEIGHT - LABEL_ROOM;
    html! {
        svg viewBox={"0 0 " (WIDTH) " " (HEIGHT)} role="img" aria-label=(summary) preserveAspectRatio="none" {
            title { (summary) }
            @for (i, bar) in bars.iter().enumerate() {
                @let x = i as f64 * slot + slot * 0.1;
                @let w = slot * 0.8;
                @let good = bar.good as f64 / top * plot;
                @let bad = bar.bad as f64 / top * plot;
                @if bar.good > 0 {
                    rect.ok x=(x) y=(plot - good) width=(w) height=(good) {
                        title { (bar.label) ": " (bar.good) }
                    }
                }
                @if bar.bad > 0 {
                    rect.bad x=(x) y=(plot - good - bad) width=(w) height=(bad) {
                        title { (bar.label) ": " (bar.bad) " failed" }
                    }
                }
                @if label_every > 0 && i % label_every == 0 {
                    text x=(x) y=(HEIGHT - 3.0) { (bar.label) }
                }
            }
            line x1="0" y1=(plot) x2=(WIDTH) y2=(plot) stroke="#9aa3ae" {}
        }
    }
}
