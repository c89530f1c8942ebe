//! The renderer shared by line charts and burndowns.

use std::fmt::Write as _;

use crate::format::{Axis, MAX_DAY, ValueFormat, XAxis};
use crate::svg::{
    self, AXIS, Anchor, GRID, LABEL_FONT, LEGEND_FONT, SUBTITLE_FONT, TEXT_MUTED, TICK_FONT,
    TITLE_FONT, VALUE_FONT,
};
use crate::text::{push_c, text_width, truncate_to_width};
use crate::ticks::{MAX_ABS, Ticks, date_ticks, nice_ticks};

pub(crate) const PAD: f64 = 16.0;
pub(crate) const MIN_W: f64 = 160.0;
pub(crate) const MAX_W: f64 = 4000.0;
pub(crate) const MIN_H: f64 = 100.0;
pub(crate) const MAX_H: f64 = 3000.0;

/// Finite points, values clamped to a drawable magnitude, sorted by x.
pub(crate) fn clean_points(points: &[(i64, f64)], dates: bool) -> Vec<(i64, f64)> {
    let mut v: Vec<(i64, f64)> = points
        .iter()
        .filter(|(_, y)| y.is_finite())
        .map(|&(x, y)| {
            let x = if dates { x.clamp(-MAX_DAY, MAX_DAY) } else { x };
            (x, y.clamp(-MAX_ABS, MAX_ABS))
        })
        .collect();
    v.sort_by_key(|p| p.0);
    v
}

/// One line to draw.
pub(crate) struct Line {
    pub name: String,
    pub color: String,
    pub dash: &'static str,
    pub stroke_width: f64,
    pub shape: usize,
    pub points: Vec<(i64, f64)>,
    pub area: bool,
    pub end_label: bool,
    pub point_markers: bool,
    pub class: String,
}

/// Everything the renderer needs.
pub(crate) struct XyChart<'a> {
    pub title: &'a str,
    pub desc: String,
    pub subtitle: Option<String>,
    pub x: &'a XAxis,
    pub y: &'a Axis,
    pub lines: Vec<Line>,
    pub width: u32,
    pub height: u32,
    pub y_min_zero: bool,
    pub markers: Vec<(i64, String)>,
    pub class: &'static str,
}

struct LegendItem<'a> {
    line: &'a Line,
    label: String,
    width: f64,
}

const LEGEND_ROW: f64 = 20.0;
const SWATCH: f64 = 26.0;

impl XyChart<'_> {
    pub(crate) fn render(&self) -> String {
        let dates = matches!(self.x, XAxis::Dates { .. });
        let w = f64::from(self.width).clamp(MIN_W, MAX_W);
        let h = f64::from(self.height).clamp(MIN_H, MAX_H);
        let mut body = String::with_capacity(4096);
        svg::background(&mut body, w, h);

        // Header: title, subtitle, legend, y-axis label.
        let mut cursor = PAD;
        if !self.title.is_empty() {
            let t = truncate_to_width(self.title, w - 2.0 * PAD, TITLE_FONT.size);
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
        if let Some(sub) = &self.subtitle {
            let t = truncate_to_width(sub, w - 2.0 * PAD, SUBTITLE_FONT.size);
            svg::text(
                &mut body,
                PAD,
                cursor + 11.0,
                &t,
                &SUBTITLE_FONT,
                Anchor::Start,
                "vc-subtitle",
            );
            cursor += 19.0;
        }
        let has_data = self.lines.iter().any(|l| !l.points.is_empty());
        let named: Vec<&Line> = self.lines.iter().filter(|l| !l.name.is_empty()).collect();
        if has_data && !named.is_empty() {
            cursor += 2.0;
            let max_label = (w - 2.0 * PAD - SWATCH - 30.0).clamp(40.0, 260.0);
            let items: Vec<LegendItem> = named
                .iter()
                .map(|l| {
                    let label = truncate_to_width(&l.name, max_label, LEGEND_FONT.size);
                    let width = SWATCH + 6.0 + text_width(&label, LEGEND_FONT.size) + 18.0;
                    LegendItem {
                        line: l,
                        label,
                        width,
                    }
                })
                .collect();
            let mut x = PAD;
            let mut row_y = cursor + LEGEND_ROW / 2.0;
            body.push_str("<g class=\"vc-legend\">");
            for it in &items {
                if x > PAD && x + it.width - 18.0 > w - PAD {
                    x = PAD;
                    row_y += LEGEND_ROW;
                }
                let l = it.line;
                svg::line(
                    &mut body,
                    x,
                    row_y,
                    x + SWATCH,
                    row_y,
                    &l.color,
                    l.stroke_width.max(2.0),
                    l.dash,
                    "",
                );
                if l.point_markers || l.end_label {
                    body.push_str("<path d=\"");
                    svg::marker_shape(&mut body, l.shape, x + SWATCH / 2.0, row_y, 3.5);
                    let _ = write!(
                        body,
                        "\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1\"/>",
                        l.color
                    );
                }
                svg::text(
                    &mut body,
                    x + SWATCH + 6.0,
                    row_y + 4.0,
                    &it.label,
                    &LEGEND_FONT,
                    Anchor::Start,
                    "",
                );
                x += it.width;
            }
            body.push_str("</g>");
            cursor = row_y + LEGEND_ROW / 2.0 + 2.0;
        }
        let y_label = self.y.label.as_str();
        if !y_label.is_empty() {
            cursor += 4.0;
            let t = truncate_to_width(y_label, w - 2.0 * PAD, LABEL_FONT.size);
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
        let plot_top = cursor + 10.0;
        let x_label = self.x.label();
        let plot_bottom =
            (h - PAD - if x_label.is_empty() { 20.0 } else { 38.0 }).max(plot_top + 20.0);

        if !has_data {
            svg::line(
                &mut body,
                PAD,
                plot_bottom,
                w - PAD,
                plot_bottom,
                AXIS,
                1.0,
                "",
                "vc-axis",
            );
            svg::no_data(&mut body, w / 2.0, (plot_top + plot_bottom) / 2.0 + 5.0);
            return svg::document(self.title, &self.desc, w, h, self.class, false, &body);
        }

        // Domains.
        let mut x0 = i64::MAX;
        let mut x1 = i64::MIN;
        let mut y_lo = f64::INFINITY;
        let mut y_hi = f64::NEG_INFINITY;
        for l in &self.lines {
            for &(x, y) in &l.points {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y_lo = y_lo.min(y);
                y_hi = y_hi.max(y);
            }
        }
        let markers: Vec<(i64, &str)> = self
            .markers
            .iter()
            .map(|(x, s)| {
                (
                    if dates {
                        (*x).clamp(-MAX_DAY, MAX_DAY)
                    } else {
                        *x
                    },
                    s.as_str(),
                )
            })
            .collect();
        for &(x, _) in &markers {
            x0 = x0.min(x);
            x1 = x1.max(x);
        }
        if self.y_min_zero {
            y_lo = y_lo.min(0.0);
            y_hi = y_hi.max(0.0);
        }
        let (fx0, fx1) = if x0 == x1 {
            (x0 as f64 - 1.0, x1 as f64 + 1.0)
        } else {
            (x0 as f64, x1 as f64)
        };
        let plot_h = plot_bottom - plot_top;
        let (yt, y_labels, left) = value_axis(y_lo, y_hi, plot_h, self.y.format, w);
        let (ty0, ty1) = (yt.lo(), yt.hi());

        // End labels (last value of each line) decide the right margin; they
        // are left out when the plot is too short to stack them all.
        let n_end = self
            .lines
            .iter()
            .filter(|l| l.end_label && !l.points.is_empty())
            .count();
        let room_for_ends = n_end as f64 * 14.0 <= plot_h - 6.0;
        let end_texts: Vec<Option<String>> = self
            .lines
            .iter()
            .map(|l| {
                if l.end_label && room_for_ends {
                    l.points.last().map(|p| self.y.format.format(p.1))
                } else {
                    None
                }
            })
            .collect();
        let end_w = end_texts
            .iter()
            .flatten()
            .map(|s| text_width(s, VALUE_FONT.size) + 12.0)
            .fold(0.0, f64::max);
        let right = (w - PAD - end_w).max(left + 20.0);
        let plot_w = right - left;

        let sx = |x: f64| left + (x - fx0) / (fx1 - fx0) * plot_w;
        let sy = |y: f64| {
            let r = (y - ty0) / (ty1 - ty0);
            let r = if r.is_finite() { r } else { 0.5 };
            plot_bottom - r * plot_h
        };

        // Horizontal grid and y ticks.
        body.push_str("<g class=\"vc-grid\">");
        let zero_in = ty0 < 0.0 && ty1 > 0.0;
        for (v, lab) in yt.values.iter().zip(&y_labels) {
            let py = sy(*v);
            let is_base = (*v == ty0 && !zero_in) || (*v == 0.0);
            svg::line(
                &mut body,
                left,
                py,
                right,
                py,
                if is_base { AXIS } else { GRID },
                1.0,
                "",
                "",
            );
            svg::text(
                &mut body,
                left - 8.0,
                py + 4.0,
                lab,
                &TICK_FONT,
                Anchor::End,
                "",
            );
        }
        body.push_str("</g>");

        // x ticks.
        body.push_str("<g class=\"vc-xticks\">");
        let ticks: Vec<(f64, String)> = match self.x {
            XAxis::Dates { .. } => {
                let lw = text_width("2026-11-02", TICK_FONT.size) + 18.0;
                let max = ((plot_w / lw).floor() as usize).max(1);
                date_ticks(x0, x1, max)
                    .ticks
                    .into_iter()
                    .map(|(d, s)| (d as f64, s))
                    .collect()
            }
            XAxis::Numbers(a) => {
                let sample = a.format.format_tick(fx1, (fx1 - fx0).abs().max(1.0));
                let lw = text_width(&sample, TICK_FONT.size).max(30.0) + 24.0;
                let target = ((plot_w / lw).floor() as usize).clamp(1, 12);
                let t = nice_ticks(fx0, fx1, target);
                let step = t.step.max(1.0);
                let eps = (fx1 - fx0).abs() * 1e-9;
                t.values
                    .iter()
                    .filter(|v| **v >= fx0 - eps && **v <= fx1 + eps && v.fract() == 0.0)
                    .map(|v| (*v, a.format.format_tick(*v, step)))
                    .collect()
            }
        };
        for (v, lab) in &ticks {
            let px = sx(*v);
            svg::line(
                &mut body,
                px,
                plot_bottom,
                px,
                plot_bottom + 5.0,
                AXIS,
                1.0,
                "",
                "",
            );
            let half = text_width(lab, TICK_FONT.size) / 2.0;
            let cx = px.clamp(half + 2.0, (w - half - 2.0).max(half + 2.0));
            svg::text(
                &mut body,
                cx,
                plot_bottom + 18.0,
                lab,
                &TICK_FONT,
                Anchor::Middle,
                "",
            );
        }
        body.push_str("</g>");
        if !x_label.is_empty() {
            let t = truncate_to_width(x_label, plot_w.max(60.0), LABEL_FONT.size);
            svg::text(
                &mut body,
                (left + right) / 2.0,
                plot_bottom + 35.0,
                &t,
                &LABEL_FONT,
                Anchor::Middle,
                "vc-axis-label",
            );
        }

        // Vertical annotations.
        if !markers.is_empty() {
            body.push_str("<g class=\"vc-markers\">");
            let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
            for (x, label) in &markers {
                let px = sx(*x as f64);
                svg::line(
                    &mut body,
                    px,
                    plot_top - 4.0,
                    px,
                    plot_bottom,
                    TEXT_MUTED,
                    1.25,
                    "4 3",
                    "vc-marker",
                );
                if label.is_empty() {
                    continue;
                }
                let t = truncate_to_width(label, (plot_w * 0.6).max(40.0), TICK_FONT.size);
                let tw = text_width(&t, TICK_FONT.size);
                // To the right of the line when it fits, else to the left,
                // else on the roomier side, shortened; never over the y ticks.
                let space_right = (w - PAD) - (px + 5.0);
                let space_left = (px - 5.0) - left;
                let start = tw <= space_right || (tw > space_left && space_right >= space_left);
                let room = if start { space_right } else { space_left };
                let t = if tw > room {
                    truncate_to_width(&t, room.max(20.0), TICK_FONT.size)
                } else {
                    t
                };
                let tw = text_width(&t, TICK_FONT.size);
                let (x_start, anchor) = if start {
                    (px + 5.0, Anchor::Start)
                } else {
                    (px - 5.0 - tw, Anchor::End)
                };
                let span = (x_start - 3.0, x_start + tw + 3.0);
                let row = rows
                    .iter()
                    .position(|r| r.iter().all(|(a, b)| span.1 < *a || span.0 > *b))
                    .unwrap_or(rows.len());
                if row == rows.len() {
                    rows.push(Vec::new());
                }
                if let Some(r) = rows.get_mut(row) {
                    r.push(span);
                }
                let ty = plot_top + 10.0 + row as f64 * 16.0;
                svg::rect(
                    &mut body,
                    span.0,
                    ty - 11.0,
                    span.1 - span.0,
                    15.0,
                    "#ffffff",
                    "fill-opacity=\"0.9\"",
                );
                let tx = match anchor {
                    Anchor::End => px - 5.0,
                    _ => px + 5.0,
                };
                let font = svg::Font {
                    size: TICK_FONT.size,
                    fill: TEXT_MUTED,
                    weight: 600,
                };
                svg::text(&mut body, tx, ty, &t, &font, anchor, "vc-marker-label");
            }
            body.push_str("</g>");
        }

        // Series.
        let base_y = sy(0.0_f64.clamp(ty0, ty1));
        let pix: Vec<Vec<(f64, f64)>> = self
            .lines
            .iter()
            .map(|l| {
                l.points
                    .iter()
                    .map(|&(x, y)| (sx(x as f64), sy(y)))
                    .collect()
            })
            .collect();
        for (l, p) in self.lines.iter().zip(&pix) {
            if l.area && p.len() >= 2 {
                let d = path_d(p, plot_w);
                let (fx, lx) = (
                    p.first().map_or(left, |q| q.0),
                    p.last().map_or(right, |q| q.0),
                );
                let mut dd = d;
                dd.push('L');
                push_c(&mut dd, lx);
                dd.push(' ');
                push_c(&mut dd, base_y);
                dd.push('L');
                push_c(&mut dd, fx);
                dd.push(' ');
                push_c(&mut dd, base_y);
                dd.push('Z');
                let _ = write!(
                    body,
                    "<path d=\"{dd}\" fill=\"{}\" fill-opacity=\"0.1\" class=\"vc-area\"/>",
                    l.color
                );
            }
        }
        for (l, p) in self.lines.iter().zip(&pix) {
            if p.is_empty() {
                continue;
            }
            let d = if p.len() == 1 {
                // A single point: a short horizontal tick so that it shows.
                let (x, y) = p[0];
                let mut d = String::from("M");
                push_c(&mut d, x - 4.0);
                d.push(' ');
                push_c(&mut d, y);
                d.push('L');
                push_c(&mut d, x + 4.0);
                d.push(' ');
                push_c(&mut d, y);
                d
            } else {
                path_d(p, plot_w)
            };
            let _ = write!(
                body,
                "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\" stroke-linecap=\"round\"",
                l.color,
                crate::text::c(l.stroke_width)
            );
            if !l.dash.is_empty() {
                let _ = write!(body, " stroke-dasharray=\"{}\"", l.dash);
            }
            let _ = write!(body, " class=\"vc-series {}\"/>", l.class);
        }
        // Point markers: every point when they are sparse, otherwise the last one.
        for (l, p) in self.lines.iter().zip(&pix) {
            if p.is_empty() || !(l.point_markers || l.end_label) {
                continue;
            }
            let all = l.point_markers && (p.len() as f64) <= plot_w / 14.0;
            let mut d = String::new();
            if all {
                for &(x, y) in p {
                    svg::marker_shape(&mut d, l.shape, x, y, 3.5);
                }
            } else if let Some(&(x, y)) = p.last() {
                svg::marker_shape(&mut d, l.shape, x, y, 4.0);
            }
            let _ = write!(
                body,
                "<path d=\"{d}\" fill=\"{}\" stroke=\"#ffffff\" stroke-width=\"1.25\" class=\"vc-points\"/>",
                l.color
            );
        }
        // End labels, pushed apart so they never overlap.
        let mut ends: Vec<(f64, f64, &str, &str)> = Vec::new();
        for ((l, p), t) in self.lines.iter().zip(&pix).zip(&end_texts) {
            if let (Some(&(x, y)), Some(t)) = (p.last(), t) {
                ends.push((y, x, t.as_str(), l.color.as_str()));
            }
        }
        if !ends.is_empty() {
            ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let gap = 14.0;
            let mut placed: Vec<f64> = Vec::with_capacity(ends.len());
            for (i, e) in ends.iter().enumerate() {
                let prev = if i == 0 {
                    f64::NEG_INFINITY
                } else {
                    placed[i - 1] + gap
                };
                placed.push(e.0.max(prev));
            }
            let overflow = placed.last().map_or(0.0, |l| l - (plot_bottom + 4.0));
            if overflow > 0.0 {
                for p in placed.iter_mut() {
                    *p -= overflow;
                }
                for i in (0..placed.len().saturating_sub(1)).rev() {
                    placed[i] = placed[i].min(placed[i + 1] - gap);
                }
            }
            body.push_str("<g class=\"vc-endlabels\">");
            for (e, ly) in ends.iter().zip(&placed) {
                let (y, x, t, color) = *e;
                if (ly - y).abs() > 2.0 {
                    svg::line(&mut body, x + 4.0, y, x + 8.0, *ly, color, 1.0, "", "");
                }
                // A light backing keeps the value legible over other lines.
                svg::rect(
                    &mut body,
                    x + 7.0,
                    ly - 7.5,
                    text_width(t, VALUE_FONT.size) + 4.0,
                    15.0,
                    "#ffffff",
                    "fill-opacity=\"0.85\"",
                );
                svg::text(
                    &mut body,
                    x + 9.0,
                    ly + 4.0,
                    t,
                    &VALUE_FONT,
                    Anchor::Start,
                    "",
                );
            }
            body.push_str("</g>");
        }

        svg::document(self.title, &self.desc, w, h, self.class, false, &body)
    }
}

/// Path data for pixel points; dense series are reduced per pixel column
/// (first, minimum, maximum, last) so that thousands of points stay compact
/// without losing peaks.
fn path_d(p: &[(f64, f64)], plot_w: f64) -> String {
    let reduced: Vec<(f64, f64)> = if (p.len() as f64) > 4.0 * plot_w.max(1.0) {
        let mut out = Vec::new();
        let mut i = 0;
        while i < p.len() {
            let col = p[i].0.floor();
            let mut j = i;
            while j < p.len() && p[j].0.floor() == col {
                j += 1;
            }
            let group = &p[i..j];
            let (mut lo, mut hi) = (0, 0);
            for (k, q) in group.iter().enumerate() {
                if q.1 < group[lo].1 {
                    lo = k;
                }
                if q.1 > group[hi].1 {
                    hi = k;
                }
            }
            let mut idx = vec![0, lo, hi, group.len() - 1];
            idx.sort_unstable();
            idx.dedup();
            out.extend(idx.into_iter().map(|k| group[k]));
            i = j;
        }
        out
    } else {
        p.to_vec()
    };
    let mut d = String::with_capacity(reduced.len() * 12);
    let mut last = String::new();
    for (i, &(x, y)) in reduced.iter().enumerate() {
        let mut pt = String::new();
        push_c(&mut pt, x);
        pt.push(' ');
        push_c(&mut pt, y);
        if pt == last {
            continue;
        }
        d.push(if i == 0 { 'M' } else { 'L' });
        d.push_str(&pt);
        last = pt;
    }
    d
}

/// Text summary of one series for `<desc>`: range, first, last, min and max.
pub(crate) fn series_summary(name: &str, pts: &[(i64, f64)], x: &XAxis, y: &Axis) -> String {
    let name = if name.is_empty() { "Series" } else { name };
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return format!("{name}: no data.");
    };
    if pts.len() == 1 {
        return format!(
            "{name}: {} on {}.",
            y.format.format(first.1),
            x.format(first.0)
        );
    }
    let min = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let max = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{name}: {} on {} → {} on {} ({} points, min {}, max {}).",
        y.format.format(first.1),
        x.format(first.0),
        y.format.format(last.1),
        x.format(last.0),
        pts.len(),
        y.format.format(min),
        y.format.format(max)
    )
}

/// The value axis of a plot `plot_h` pixels tall over `[lo, hi]`: nice ticks
/// (about one per 40 px, 3 to 10), their labels, and the left margin the
/// labels need (at most 40 % of the width `w`).
pub(crate) fn value_axis(
    lo: f64,
    hi: f64,
    plot_h: f64,
    format: ValueFormat,
    w: f64,
) -> (Ticks, Vec<String>, f64) {
    let target = ((plot_h / 40.0).floor() as usize).clamp(3, 10);
    let t = nice_ticks(lo, hi, target);
    let labels: Vec<String> = t
        .values
        .iter()
        .map(|v| format.format_tick(*v, t.step))
        .collect();
    let label_w = labels
        .iter()
        .map(|l| text_width(l, TICK_FONT.size))
        .fold(0.0, f64::max);
    let left = (PAD + label_w + 10.0).min(w * 0.4);
    (t, labels, left)
}
