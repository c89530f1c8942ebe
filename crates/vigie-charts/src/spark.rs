//! Sparklines: a small line without axes, for tables and headline figures.

use std::fmt::Write as _;

use crate::format::ValueFormat;
use crate::palette::sanitize_color;
use crate::svg::{self, Anchor, Font, TEXT_SOFT};
use crate::table::table_html;
use crate::text::{c, push_c};
use crate::ticks::MAX_ABS;

/// A sparkline. Unlike the charts, it has a fixed pixel size (`width` and
/// `height` attributes as well as the `viewBox`) since it sits inline in
/// text and tables; CSS can still scale it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparkline {
    /// Values in order (e.g. one per day); non-finite values are skipped.
    pub values: Vec<f64>,
    pub width: u32,
    pub height: u32,
    /// Accessible text, e.g. "os-eol share, last 30 days: 12.1 % → 9.8 %".
    pub label: String,
    /// Format of the values in the description and the table.
    pub format: ValueFormat,
    /// Line colour (a plain CSS colour); blue when `None`.
    pub color: Option<String>,
}

impl Default for Sparkline {
    fn default() -> Self {
        Sparkline {
            values: Vec::new(),
            width: 120,
            height: 32,
            label: String::new(),
            format: ValueFormat::Count,
            color: None,
        }
    }
}

impl Sparkline {
    fn points(&self) -> Vec<(usize, f64)> {
        self.values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| (i, v.clamp(-MAX_ABS, MAX_ABS)))
            .collect()
    }

    /// "first → last (min …, max …, n values)", or "No data".
    pub fn summary(&self) -> String {
        let pts = self.points();
        let f = |v: f64| self.format.format(v);
        match (pts.first(), pts.last()) {
            (Some(a), Some(b)) if pts.len() > 1 => {
                let min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                let max = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
                format!(
                    "{} → {} (min {}, max {}, {} values)",
                    f(a.1),
                    f(b.1),
                    f(min),
                    f(max),
                    pts.len()
                )
            }
            (Some(a), _) => format!("{} (1 value)", f(a.1)),
            _ => "No data".to_string(),
        }
    }

    pub fn to_svg(&self) -> String {
        let w = f64::from(self.width).clamp(16.0, 2000.0);
        let h = f64::from(self.height).clamp(8.0, 1000.0);
        let pts = self.points();
        let color = self
            .color
            .as_deref()
            .and_then(sanitize_color)
            .unwrap_or_else(|| "#0072B2".to_string());
        let title = if self.label.is_empty() {
            "Sparkline"
        } else {
            self.label.as_str()
        };
        let mut body = String::new();
        if pts.is_empty() {
            let font = Font {
                size: (h * 0.45).clamp(6.0, 12.0),
                fill: TEXT_SOFT,
                weight: 400,
            };
            svg::text(
                &mut body,
                w / 2.0,
                h / 2.0 + font.size * 0.35,
                "No data",
                &font,
                Anchor::Middle,
                "vc-nodata",
            );
            return svg::document(title, &self.summary(), w, h, "vc-sparkline", true, &body);
        }
        let pad = 3.0;
        let n = self.values.len().max(2) - 1;
        let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let sx = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n as f64;
        let sy = |v: f64| {
            let r = (v - lo) / (hi - lo);
            let r = if r.is_finite() { r } else { 0.5 };
            h - pad - r * (h - 2.0 * pad)
        };
        let xy: Vec<(f64, f64)> = if pts.len() == 1 {
            let y = sy(pts[0].1);
            vec![(pad, y), (w - pad, y)]
        } else {
            pts.iter().map(|&(i, v)| (sx(i), sy(v))).collect()
        };
        let mut d = String::new();
        let mut last = String::new();
        for (k, &(x, y)) in xy.iter().enumerate() {
            let mut p = String::new();
            push_c(&mut p, x);
            p.push(' ');
            push_c(&mut p, y);
            if p != last {
                d.push(if k == 0 { 'M' } else { 'L' });
                d.push_str(&p);
                last = p;
            }
        }
        if let (Some(f), Some(l)) = (xy.first(), xy.last()) {
            let _ = write!(
                body,
                "<path d=\"{d}L{} {}L{} {}Z\" fill=\"{color}\" fill-opacity=\"0.12\" class=\"vc-area\"/>",
                c(l.0),
                c(h - pad + 1.0),
                c(f.0),
                c(h - pad + 1.0)
            );
            let _ = write!(
                body,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\" class=\"vc-series\"/>"
            );
            let _ = write!(
                body,
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{color}\" stroke=\"#ffffff\" stroke-width=\"1\" class=\"vc-last\"/>",
                c(l.0),
                c(l.1)
            );
        }
        svg::document(title, &self.summary(), w, h, "vc-sparkline", true, &body)
    }

    /// The values as a two-column HTML table (position, value).
    pub fn data_table_html(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .points()
            .into_iter()
            .map(|(i, v)| vec![(i + 1).to_string(), self.format.format(v)])
            .collect();
        table_html(&self.label, &["#".to_string(), "Value".to_string()], &rows)
    }
}
