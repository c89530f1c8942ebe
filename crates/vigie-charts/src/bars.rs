//! Stacked bars, vertical or horizontal.

use std::fmt::Write as _;

use crate::format::Axis;
use crate::line::Series;
use crate::palette::{fill_color, sanitize_color, text_color_on};
use crate::svg::{
    self, AXIS, Anchor, GRID, LABEL_FONT, LEGEND_FONT, TICK_FONT, TITLE_FONT, VALUE_FONT,
};
use crate::table::table_html;
use crate::text::{c, escape, text_width, truncate_to_width, wrap};
use crate::ticks::{MAX_ABS, nice_ticks};
use crate::xy::{MAX_H, MAX_W, MIN_H, MIN_W, PAD, value_axis};

/// Stacked bars: one bar per category, one coloured segment per stack.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBars {
    pub title: String,
    pub description: String,
    pub categories: Vec<String>,
    /// One series per stack; points are (category index, value). Values of
    /// the same category are added; out-of-range indexes and non-finite values
    /// are skipped; negative values stack below zero.
    pub stacks: Vec<Series>,
    /// The value axis.
    pub y: Axis,
    pub width: u32,
    pub height: u32,
    /// Bars grow to the right and categories are listed top to bottom
    /// (best for long establishment names).
    pub horizontal: bool,
}

impl Default for StackedBars {
    fn default() -> Self {
        StackedBars {
            title: String::new(),
            description: String::new(),
            categories: Vec::new(),
            stacks: Vec::new(),
            y: Axis::default(),
            width: 800,
            height: 360,
            horizontal: false,
        }
    }
}

struct Data {
    /// values[stack][category]
    values: Vec<Vec<f64>>,
    has: Vec<Vec<bool>>,
    pos: Vec<f64>,
    neg: Vec<f64>,
}

impl StackedBars {
    fn data(&self) -> Data {
        let n = self.categories.len();
        let mut values = vec![vec![0.0; n]; self.stacks.len()];
        let mut has = vec![vec![false; n]; self.stacks.len()];
        for (s, st) in self.stacks.iter().enumerate() {
            for &(i, v) in &st.points {
                if !v.is_finite() || i < 0 {
                    continue;
                }
                let Ok(i) = usize::try_from(i) else { continue };
                if i >= n {
                    continue;
                }
                values[s][i] = (values[s][i] + v).clamp(-MAX_ABS, MAX_ABS);
                has[s][i] = true;
            }
        }
        let mut pos = vec![0.0; n];
        let mut neg = vec![0.0; n];
        for row in &values {
            for (i, v) in row.iter().enumerate() {
                if *v > 0.0 {
                    pos[i] = (pos[i] + v).min(MAX_ABS);
                } else {
                    neg[i] = (neg[i] + v).max(-MAX_ABS);
                }
            }
        }
        Data {
            values,
            has,
            pos,
            neg,
        }
    }

    fn color(&self, s: usize) -> String {
        self.stacks
            .get(s)
            .and_then(|st| st.color.as_deref())
            .and_then(sanitize_color)
            .unwrap_or_else(|| fill_color(s).to_string())
    }

    fn category(&self, i: usize) -> String {
        match self.categories.get(i) {
            Some(c) if !c.is_empty() => c.clone(),
            _ => format!("#{}", i + 1),
        }
    }

    fn stack_name(&self, s: usize) -> String {
        match self.stacks.get(s) {
            Some(st) if !st.name.is_empty() => st.name.clone(),
            _ => format!("Series {}", s + 1),
        }
    }

    fn desc(&self, d: &Data, has_data: bool) -> String {
        let mut out = self.description.trim().to_string();
        let mut push = |s: &str| {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
        };
        if !has_data {
            push("No data.");
            return out;
        }
        let f = |v: f64| self.y.format.format(v);
        for i in 0..self.categories.len() {
            let parts: Vec<String> = (0..self.stacks.len())
                .filter(|s| d.has[*s][i])
                .map(|s| format!("{} {}", self.stack_name(s), f(d.values[s][i])))
                .collect();
            if parts.is_empty() {
                push(&format!("{}: no data.", self.category(i)));
            } else {
                push(&format!(
                    "{}: {} (total {}).",
                    self.category(i),
                    parts.join(", "),
                    f(d.pos[i] + d.neg[i])
                ));
            }
        }
        out
    }

    /// The chart as a standalone SVG document (also valid inline in HTML).
    pub fn to_svg(&self) -> String {
        let d = self.data();
        let has_data = d.has.iter().any(|r| r.iter().any(|b| *b));
        let desc = self.desc(&d, has_data);
        let w = f64::from(self.width).clamp(MIN_W, MAX_W);
        let h = f64::from(self.height).clamp(MIN_H, MAX_H);
        let mut body = String::with_capacity(4096);
        svg::background(&mut body, w, h);

        let mut cursor = PAD;
        if !self.title.is_empty() {
            let t = truncate_to_width(&self.title, w - 2.0 * PAD, TITLE_FONT.size);
            svg::text(
                &mut body,
                PAD,
                cursor + 13.0,
                &t,
                &TITLE_FONT,
                Anchor::Start,
                "vc-title",
            );
            cursor += 22.0;
        }
        if has_data && !self.stacks.is_empty() {
            cursor += 2.0;
            let max_label = (w - 2.0 * PAD - 40.0).clamp(40.0, 240.0);
            let mut x = PAD;
            let mut row_y = cursor + 10.0;
            body.push_str("<g class=\"vc-legend\">");
            for s in 0..self.stacks.len() {
                let label = truncate_to_width(&self.stack_name(s), max_label, LEGEND_FONT.size);
                let item_w = 14.0 + 6.0 + text_width(&label, LEGEND_FONT.size) + 18.0;
                if x > PAD && x + item_w - 18.0 > w - PAD {
                    x = PAD;
                    row_y += 20.0;
                }
                let color = self.color(s);
                svg::rect(&mut body, x, row_y - 7.0, 14.0, 14.0, &color, "rx=\"2\"");
                svg::text(
                    &mut body,
                    x + 20.0,
                    row_y + 4.0,
                    &label,
                    &LEGEND_FONT,
                    Anchor::Start,
                    "",
                );
                x += item_w;
            }
            body.push_str("</g>");
            cursor = row_y + 12.0;
        }
        if !self.horizontal && !self.y.label.is_empty() {
            cursor += 4.0;
            let t = truncate_to_width(&self.y.label, w - 2.0 * PAD, LABEL_FONT.size);
            svg::text(
                &mut body,
                PAD,
                cursor + 11.0,
                &t,
                &LABEL_FONT,
                Anchor::Start,
                "vc-axis-label",
            );
            cursor += 16.0;
        }

        if !has_data {
            let bottom = h - PAD - 20.0;
            svg::line(
                &mut body,
                PAD,
                bottom,
                w - PAD,
                bottom,
                AXIS,
                1.0,
                "",
                "vc-axis",
            );
            svg::no_data(&mut body, w / 2.0, (cursor + bottom) / 2.0 + 5.0);
            return svg::document(&self.title, &desc, w, h, "vc-stacked-bars", false, &body);
        }

        let lo = d.neg.iter().copied().fold(0.0, f64::min);
        let hi = d.pos.iter().copied().fold(0.0, f64::max);
        if self.horizontal {
            self.horizontal_body(&mut body, &d, cursor, w, h, lo, hi);
        } else {
            self.vertical_body(&mut body, &d, cursor, w, h, lo, hi);
        }
        svg::document(&self.title, &desc, w, h, "vc-stacked-bars", false, &body)
    }

    /// Draws the segments of category `i`; `pos(v0, v1)` maps a value span
    /// to (x, y, width, height).
    fn segments(
        &self,
        body: &mut String,
        d: &Data,
        i: usize,
        pos: &dyn Fn(f64, f64) -> (f64, f64, f64, f64),
    ) {
        let mut up = 0.0;
        let mut down = 0.0;
        for s in 0..self.stacks.len() {
            let v = d.values[s][i];
            if !d.has[s][i] || v == 0.0 {
                continue;
            }
            let (a, b) = if v > 0.0 {
                let r = (up, up + v);
                up += v;
                r
            } else {
                let r = (down + v, down);
                down += v;
                r
            };
            let (x, y, sw, sh) = pos(a, b);
            let color = self.color(s);
            let _ = write!(
                body,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\" class=\"vc-seg vc-s{s}\"><title>{}</title></rect>",
                c(x),
                c(y),
                c(sw.max(0.0)),
                c(sh.max(0.0)),
                escape(&color),
                escape(&format!(
                    "{} · {}: {}",
                    self.category(i),
                    self.stack_name(s),
                    self.y.format.format(v)
                ))
            );
            let label = self.y.format.format(v);
            let tw = text_width(&label, TICK_FONT.size);
            if sh >= 16.0 && sw >= tw + 8.0 {
                svg::text_colored(
                    body,
                    x + sw / 2.0,
                    y + sh / 2.0 + 4.0,
                    &label,
                    TICK_FONT.size,
                    text_color_on(&color),
                    500,
                    Anchor::Middle,
                    "vc-seg-label",
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn vertical_body(
        &self,
        body: &mut String,
        d: &Data,
        top: f64,
        w: f64,
        h: f64,
        lo: f64,
        hi: f64,
    ) {
        let n = self.categories.len();
        let plot_top = top + 18.0;
        // Category labels: horizontal when they fit, otherwise slanted.
        let est_plot_w = w - 2.0 * PAD - 60.0;
        let band_est = est_plot_w / n as f64;
        let longest = (0..n)
            .map(|i| text_width(&self.category(i), TICK_FONT.size))
            .fold(0.0, f64::max);
        let fits = (band_est - 8.0).max(20.0);
        // One line, two lines, or slanted (truncated) labels.
        let wrapped: Option<Vec<Vec<String>>> = if longest <= fits {
            Some((0..n).map(|i| vec![self.category(i)]).collect())
        } else {
            (0..n)
                .map(|i| wrap(&self.category(i), fits, TICK_FONT.size, 2))
                .collect()
        };
        let slanted = wrapped.is_none();
        let max_label = if slanted {
            (h * 0.3).clamp(40.0, 170.0)
        } else {
            fits
        };
        let labels: Vec<String> = (0..n)
            .map(|i| truncate_to_width(&self.category(i), max_label, TICK_FONT.size))
            .collect();
        let lines = wrapped
            .as_ref()
            .map_or(1, |w| w.iter().map(Vec::len).max().unwrap_or(1));
        let label_h = if slanted {
            let lw = labels
                .iter()
                .map(|l| text_width(l, TICK_FONT.size))
                .fold(0.0, f64::max);
            lw * 0.574 + 22.0
        } else {
            10.0 + 14.0 * lines as f64
        };
        let plot_bottom = (h - PAD - label_h).max(plot_top + 20.0);
        let plot_h = plot_bottom - plot_top;
        let (t, tick_labels, left) = value_axis(lo, hi, plot_h, self.y.format, w);
        let (t0, t1) = (t.lo(), t.hi());
        let right = w - PAD;
        let plot_w = (right - left).max(10.0);
        let sy = move |v: f64| {
            let r = (v - t0) / (t1 - t0);
            plot_bottom - if r.is_finite() { r } else { 0.0 } * plot_h
        };
        body.push_str("<g class=\"vc-grid\">");
        for (v, lab) in t.values.iter().zip(&tick_labels) {
            let py = sy(*v);
            svg::line(
                body,
                left,
                py,
                right,
                py,
                if *v == 0.0 { AXIS } else { GRID },
                1.0,
                "",
                "",
            );
            svg::text(body, left - 8.0, py + 4.0, lab, &TICK_FONT, Anchor::End, "");
        }
        body.push_str("</g>");
        let band = plot_w / n as f64;
        let bar_w = (band * 0.62).clamp(1.0, 72.0);
        let every = if slanted {
            (15.0 / band).ceil().max(1.0) as usize
        } else {
            1
        };
        body.push_str("<g class=\"vc-bars\">");
        for i in 0..n {
            let cx = left + band * (i as f64 + 0.5);
            let x = cx - bar_w / 2.0;
            self.segments(body, d, i, &|a, b| {
                let (ya, yb) = (sy(a), sy(b));
                (x, yb.min(ya), bar_w, (ya - yb).abs())
            });
            let total = d.pos[i] + d.neg[i];
            let any = (0..self.stacks.len()).any(|s| d.has[s][i]);
            if any {
                let label = self.y.format.format(total);
                if text_width(&label, VALUE_FONT.size) <= band + 4.0 {
                    svg::text(
                        body,
                        cx,
                        sy(d.pos[i]) - 5.0,
                        &label,
                        &VALUE_FONT,
                        Anchor::Middle,
                        "vc-total",
                    );
                }
            }
        }
        body.push_str("</g><g class=\"vc-categories\">");
        for (i, lab) in labels.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let cx = left + band * (i as f64 + 0.5);
            if slanted {
                let y = plot_bottom + 14.0;
                let _ = write!(
                    body,
                    "<text x=\"{x}\" y=\"{y}\" font-size=\"{}\" fill=\"{}\" text-anchor=\"end\" transform=\"rotate(-35 {x} {y})\">{}</text>",
                    c(TICK_FONT.size),
                    TICK_FONT.fill,
                    escape(lab),
                    x = c(cx + 4.0),
                    y = c(y),
                );
            } else if let Some(ls) = wrapped.as_ref().and_then(|w| w.get(i)) {
                for (k, l) in ls.iter().enumerate() {
                    svg::text(
                        body,
                        cx,
                        plot_bottom + 17.0 + 14.0 * k as f64,
                        l,
                        &TICK_FONT,
                        Anchor::Middle,
                        "",
                    );
                }
            }
        }
        body.push_str("</g>");
    }

    #[allow(clippy::too_many_arguments)]
    fn horizontal_body(
        &self,
        body: &mut String,
        d: &Data,
        top: f64,
        w: f64,
        h: f64,
        lo: f64,
        hi: f64,
    ) {
        let n = self.categories.len();
        let plot_top = top + 8.0;
        let has_x_label = !self.y.label.is_empty();
        let plot_bottom = (h - PAD - if has_x_label { 40.0 } else { 22.0 }).max(plot_top + 20.0);
        let plot_h = plot_bottom - plot_top;
        let max_label = (w * 0.32).clamp(40.0, 260.0);
        let labels: Vec<String> = (0..n)
            .map(|i| truncate_to_width(&self.category(i), max_label, TICK_FONT.size))
            .collect();
        let lw = labels
            .iter()
            .map(|l| text_width(l, TICK_FONT.size))
            .fold(0.0, f64::max);
        let left = PAD + lw + 10.0;
        let totals: Vec<Option<String>> = (0..n)
            .map(|i| {
                let any = (0..self.stacks.len()).any(|s| d.has[s][i]);
                any.then(|| self.y.format.format(d.pos[i] + d.neg[i]))
            })
            .collect();
        let total_w = totals
            .iter()
            .flatten()
            .map(|t| text_width(t, VALUE_FONT.size) + 10.0)
            .fold(0.0, f64::max);
        let right = (w - PAD - total_w).max(left + 20.0);
        let plot_w = right - left;
        let target = ((plot_w / 80.0).floor() as usize).clamp(2, 10);
        let t = nice_ticks(lo, hi, target);
        let (t0, t1) = (t.lo(), t.hi());
        let sx = move |v: f64| {
            let r = (v - t0) / (t1 - t0);
            left + if r.is_finite() { r } else { 0.0 } * plot_w
        };
        body.push_str("<g class=\"vc-grid\">");
        for v in &t.values {
            let px = sx(*v);
            svg::line(
                body,
                px,
                plot_top,
                px,
                plot_bottom,
                if *v == 0.0 { AXIS } else { GRID },
                1.0,
                "",
                "",
            );
            let lab = self.y.format.format_tick(*v, t.step);
            let half = text_width(&lab, TICK_FONT.size) / 2.0;
            let cx = px.clamp(half + 2.0, (w - half - 2.0).max(half + 2.0));
            svg::text(
                body,
                cx,
                plot_bottom + 17.0,
                &lab,
                &TICK_FONT,
                Anchor::Middle,
                "",
            );
        }
        body.push_str("</g>");
        if has_x_label {
            let lab = truncate_to_width(&self.y.label, plot_w.max(60.0), LABEL_FONT.size);
            svg::text(
                body,
                (left + right) / 2.0,
                plot_bottom + 35.0,
                &lab,
                &LABEL_FONT,
                Anchor::Middle,
                "vc-axis-label",
            );
        }
        let band = plot_h / n as f64;
        let bar_h = (band * 0.66).clamp(1.0, 34.0);
        let every = (14.0 / band).ceil().max(1.0) as usize;
        body.push_str("<g class=\"vc-bars\">");
        for i in 0..n {
            let cy = plot_top + band * (i as f64 + 0.5);
            let y = cy - bar_h / 2.0;
            self.segments(body, d, i, &|a, b| {
                let (xa, xb) = (sx(a), sx(b));
                (xa.min(xb), y, (xb - xa).abs(), bar_h)
            });
            if let Some(Some(total)) = totals.get(i)
                && bar_h >= 9.0
            {
                svg::text(
                    body,
                    sx(d.pos[i]) + 6.0,
                    cy + 4.0,
                    total,
                    &VALUE_FONT,
                    Anchor::Start,
                    "vc-total",
                );
            }
        }
        body.push_str("</g><g class=\"vc-categories\">");
        for (i, lab) in labels.iter().enumerate() {
            if i % every != 0 {
                continue;
            }
            let cy = plot_top + band * (i as f64 + 0.5);
            svg::text(body, left - 8.0, cy + 4.0, lab, &TICK_FONT, Anchor::End, "");
        }
        body.push_str("</g>");
    }

    /// The same numbers as an HTML `<table>`: one row per category, one
    /// column per stack, and the total.
    pub fn data_table_html(&self) -> String {
        let d = self.data();
        let mut headers = vec![String::new()];
        headers.extend((0..self.stacks.len()).map(|s| self.stack_name(s)));
        headers.push("Total".to_string());
        let rows: Vec<Vec<String>> = (0..self.categories.len())
            .map(|i| {
                let mut row = vec![self.category(i)];
                row.extend((0..self.stacks.len()).map(|s| {
                    if d.has[s][i] {
                        self.y.format.format(d.values[s][i])
                    } else {
                        "—".to_string()
                    }
                }));
                row.push(self.y.format.format(d.pos[i] + d.neg[i]));
                row
            })
            .collect();
        table_html(&self.title, &headers, &rows)
    }
}
