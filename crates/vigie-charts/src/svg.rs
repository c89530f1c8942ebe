//! The SVG document frame shared by every chart and small drawing helpers.

use std::fmt::Write as _;

use crate::text::{c, escape, fnv1a};

/// Font stack: the platform UI font, then common sans-serif fonts.
pub(crate) const FONT_FAMILY: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', 'Noto Sans', 'Liberation Sans', Arial, sans-serif";

/// Placeholder for the document id; user text is escaped so it never contains `<`.
pub(crate) const ID: &str = "<ID>";

pub(crate) const TEXT: &str = "#111827";
pub(crate) const TEXT_MUTED: &str = "#374151";
pub(crate) const TEXT_SOFT: &str = "#4b5563";
pub(crate) const GRID: &str = "#e5e7eb";
pub(crate) const AXIS: &str = "#6b7280";

/// Wraps `body` into a complete SVG document.
///
/// `fixed_size`: write the pixel size as `width`/`height` (sparklines) instead
/// of `width="100%"`.
pub(crate) fn document(
    title: &str,
    desc: &str,
    w: f64,
    h: f64,
    class: &str,
    fixed_size: bool,
    body: &str,
) -> String {
    let mut out = String::with_capacity(body.len() + 600);
    let size = if fixed_size {
        format!("width=\"{}\" height=\"{}\"", c(w), c(h))
    } else {
        "width=\"100%\"".to_string()
    };
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 {w} {h}\" {size} \
preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-labelledby=\"{ID}-t {ID}-d\" \
class=\"vigie-chart {class}\" font-family=\"{FONT_FAMILY}\">\
<title id=\"{ID}-t\">{title}</title><desc id=\"{ID}-d\">{desc}</desc>",
        w = c(w),
        h = c(h),
        title = escape(title),
        desc = escape(desc),
    );
    out.push_str(body);
    out.push_str("</svg>");
    let id = format!("vc{:012x}", fnv1a(out.as_bytes()) & 0xffff_ffff_ffff);
    out.replace(ID, &id)
}

/// Text anchor.
#[derive(Clone, Copy)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// Text style.
pub(crate) struct Font {
    pub size: f64,
    pub fill: &'static str,
    pub weight: u16,
}

pub(crate) const TITLE_FONT: Font = Font {
    size: 16.0,
    fill: TEXT,
    weight: 600,
};
pub(crate) const SUBTITLE_FONT: Font = Font {
    size: 12.5,
    fill: TEXT_MUTED,
    weight: 400,
};
pub(crate) const LABEL_FONT: Font = Font {
    size: 12.0,
    fill: TEXT_SOFT,
    weight: 500,
};
pub(crate) const TICK_FONT: Font = Font {
    size: 11.5,
    fill: TEXT_MUTED,
    weight: 400,
};
pub(crate) const LEGEND_FONT: Font = Font {
    size: 12.0,
    fill: TEXT,
    weight: 400,
};
pub(crate) const VALUE_FONT: Font = Font {
    size: 11.5,
    fill: TEXT,
    weight: 600,
};

/// Appends a `<text>` element; `s` is escaped here.
pub(crate) fn text(
    out: &mut String,
    x: f64,
    y: f64,
    s: &str,
    font: &Font,
    anchor: Anchor,
    class: &str,
) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\"",
        c(x),
        c(y),
        c(font.size),
        font.fill
    );
    if font.weight != 400 {
        let _ = write!(out, " font-weight=\"{}\"", font.weight);
    }
    if !matches!(anchor, Anchor::Start) {
        let _ = write!(out, " text-anchor=\"{}\"", anchor.as_str());
    }
    if !class.is_empty() {
        let _ = write!(out, " class=\"{class}\"");
    }
    let _ = write!(out, ">{}</text>", escape(s));
}

/// Appends a `<text>` with an explicit fill colour (already sanitized).
#[allow(clippy::too_many_arguments)]
pub(crate) fn text_colored(
    out: &mut String,
    x: f64,
    y: f64,
    s: &str,
    size: f64,
    fill: &str,
    weight: u16,
    anchor: Anchor,
    class: &str,
) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"{}\" font-weight=\"{}\" text-anchor=\"{}\" class=\"{}\">{}</text>",
        c(x),
        c(y),
        c(size),
        escape(fill),
        weight,
        anchor.as_str(),
        class,
        escape(s)
    );
}

/// Appends a horizontal or vertical line.
#[allow(clippy::too_many_arguments)]
pub(crate) fn line(
    out: &mut String,
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    stroke: &str,
    width: f64,
    dash: &str,
    class: &str,
) {
    let _ = write!(
        out,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"",
        c(x1),
        c(y1),
        c(x2),
        c(y2),
        escape(stroke),
        c(width)
    );
    if !dash.is_empty() {
        let _ = write!(out, " stroke-dasharray=\"{dash}\"");
    }
    if !class.is_empty() {
        let _ = write!(out, " class=\"{class}\"");
    }
    out.push_str("/>");
}

/// Appends a rectangle.
pub(crate) fn rect(out: &mut String, x: f64, y: f64, w: f64, h: f64, fill: &str, extra: &str) {
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}{}/>",
        c(x),
        c(y),
        c(w.max(0.0)),
        c(h.max(0.0)),
        escape(fill),
        if extra.is_empty() { "" } else { " " },
        extra
    );
}

/// Appends the white card background.
pub(crate) fn background(out: &mut String, w: f64, h: f64) {
    rect(out, 0.0, 0.0, w, h, "#ffffff", "class=\"vc-bg\"");
}

/// Appends a centred "No data" message.
pub(crate) fn no_data(out: &mut String, cx: f64, cy: f64) {
    text(
        out,
        cx,
        cy,
        "No data",
        &Font {
            size: 15.0,
            fill: TEXT_SOFT,
            weight: 500,
        },
        Anchor::Middle,
        "vc-nodata",
    );
}

/// A path (sub-path list) drawing the point-marker shape `shape` at (x, y).
pub(crate) fn marker_shape(out: &mut String, shape: usize, x: f64, y: f64, r: f64) {
    match shape % 5 {
        0 => {
            let _ = write!(
                out,
                "M{} {}a{} {} 0 1 0 {} 0a{} {} 0 1 0 -{} 0z",
                c(x - r),
                c(y),
                c(r),
                c(r),
                c(2.0 * r),
                c(r),
                c(r),
                c(2.0 * r)
            );
        }
        1 => {
            let s = r * 0.9;
            let _ = write!(
                out,
                "M{} {}h{}v{}h-{}z",
                c(x - s),
                c(y - s),
                c(2.0 * s),
                c(2.0 * s),
                c(2.0 * s)
            );
        }
        2 => {
            let s = r * 1.2;
            let _ = write!(
                out,
                "M{} {}L{} {}L{} {}z",
                c(x),
                c(y - s),
                c(x + s),
                c(y + s * 0.8),
                c(x - s),
                c(y + s * 0.8)
            );
        }
        3 => {
            let s = r * 1.25;
            let _ = write!(
                out,
                "M{} {}L{} {}L{} {}L{} {}z",
                c(x),
                c(y - s),
                c(x + s),
                c(y),
                c(x),
                c(y + s),
                c(x - s),
                c(y)
            );
        }
        _ => {
            let s = r * 1.2;
            let _ = write!(
                out,
                "M{} {}L{} {}L{} {}z",
                c(x - s),
                c(y - s * 0.8),
                c(x + s),
                c(y - s * 0.8),
                c(x),
                c(y + s)
            );
        }
    }
}
