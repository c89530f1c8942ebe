//! Colours and dash patterns: colour-blind safe, readable on white, printable in grey.

/// Line colours: the Okabe–Ito hues, the light ones darkened so that every
/// line has a contrast of at least 3:1 against white (WCAG 1.4.11).
pub const LINE_PALETTE: [&str; 8] = [
    "#0072B2", // blue
    "#D55E00", // vermillion
    "#009E73", // bluish green
    "#CC79A7", // reddish purple
    "#B06F00", // orange, darkened
    "#000000", // black
    "#2E86C1", // sky blue, darkened
    "#8F7D00", // yellow, darkened to olive
];

/// Bar fills: the Okabe–Ito palette, ordered so that neighbouring stacks
/// differ in lightness (they stay apart when printed in grey).
pub const FILL_PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#F0E442", "#D55E00", "#56B4E9", "#CC79A7", "#000000",
];

/// Dash patterns (SVG `stroke-dasharray`, empty = solid), one per series so
/// that lines stay distinguishable without colour.
pub const DASHES: [&str; 6] = ["", "8 4", "2 3", "10 3 2 3", "5 3", "14 3 2 3 2 3"];

/// Colour of series `i` for lines.
pub fn line_color(i: usize) -> &'static str {
    LINE_PALETTE[i % LINE_PALETTE.len()]
}

/// Colour of stack `i` for bars.
pub fn fill_color(i: usize) -> &'static str {
    FILL_PALETTE[i % FILL_PALETTE.len()]
}

/// Dash pattern of series `i`.
pub fn dash(i: usize) -> &'static str {
    DASHES[i % DASHES.len()]
}

/// A caller-supplied colour if it is a plain CSS colour (`#rgb`, `#rrggbb`,
/// a keyword, or `rgb(…)`/`hsl(…)`), otherwise `None`.
pub(crate) fn sanitize_color(c: &str) -> Option<String> {
    let c = c.trim();
    if c.is_empty() || c.len() > 40 || c.to_ascii_lowercase().contains("url") {
        return None;
    }
    let ok = c.chars().all(|ch| {
        ch.is_ascii_alphanumeric() || matches!(ch, '#' | '(' | ')' | ',' | '.' | '%' | ' ')
    });
    if ok { Some(c.to_string()) } else { None }
}

/// Relative luminance of a `#rrggbb`/`#rgb` colour, if it is one.
pub fn relative_luminance(hex: &str) -> Option<f64> {
    let h = hex.strip_prefix('#')?;
    let (r, g, b) = match h.len() {
        6 => (
            u8::from_str_radix(h.get(0..2)?, 16).ok()?,
            u8::from_str_radix(h.get(2..4)?, 16).ok()?,
            u8::from_str_radix(h.get(4..6)?, 16).ok()?,
        ),
        3 => {
            let p = |i: usize| -> Option<u8> {
                let v = u8::from_str_radix(h.get(i..i + 1)?, 16).ok()?;
                Some(v * 17)
            };
            (p(0)?, p(1)?, p(2)?)
        }
        _ => return None,
    };
    let f = |v: u8| {
        let c = f64::from(v) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    Some(0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b))
}

/// WCAG contrast ratio between two `#rrggbb` colours.
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    let la = relative_luminance(a)?;
    let lb = relative_luminance(b)?;
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

/// Black or white, whichever reads better on `background` (black if unknown).
pub fn text_color_on(background: &str) -> &'static str {
    match relative_luminance(background) {
        Some(l) if (l + 0.05) / 0.05 < 1.05 / (l + 0.05) => "#ffffff",
        _ => "#111111",
    }
}

/// Risk bands for a share of hosts at risk (0–1): lower bound, fill colour,
/// text colour, label. The ramp is ColorBrewer YlOrRd (sequential, ordered
/// by lightness, so it is colour-blind safe and reads in grey).
pub const RISK_BANDS: [(f64, &str, &str, &str); 7] = [
    (0.0, "#ffffb2", "#111111", "< 2 %"),
    (0.02, "#fed976", "#111111", "2–5 %"),
    (0.05, "#feb24c", "#111111", "5–10 %"),
    (0.10, "#fd8d3c", "#111111", "10–20 %"),
    (0.20, "#fc4e2a", "#111111", "20–35 %"),
    (0.35, "#e31a1c", "#ffffff", "35–50 %"),
    (0.50, "#b10026", "#ffffff", "≥ 50 %"),
];

/// Colour of a cell (region grid, heat map) for no data.
pub const NO_DATA_COLOR: &str = "#e5e7eb";

fn risk_band(share: f64) -> Option<&'static (f64, &'static str, &'static str, &'static str)> {
    if !share.is_finite() {
        return None;
    }
    RISK_BANDS
        .iter()
        .rev()
        .find(|b| share >= b.0)
        .or(RISK_BANDS.first())
}

/// Fill colour for a share (0–1) of hosts at risk: a 7-step yellow → dark red
/// ramp; [`NO_DATA_COLOR`] for NaN or infinite shares. Negative shares count as 0.
pub fn risk_color(share: f64) -> &'static str {
    risk_band(share).map_or(NO_DATA_COLOR, |b| b.1)
}

/// Text colour to write on [`risk_color`]`(share)` (contrast ≥ 4.5:1).
pub fn risk_text_color(share: f64) -> &'static str {
    risk_band(share).map_or("#111111", |b| b.2)
}

/// Legend label of the band of `share` (`"5–10 %"`), or `"no data"`.
pub fn risk_label(share: f64) -> &'static str {
    risk_band(share).map_or("no data", |b| b.3)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lines_contrast_with_white() {
        for c in LINE_PALETTE {
            assert!(contrast_ratio(c, "#ffffff").unwrap() >= 3.0, "{c}");
        }
    }

    #[test]
    fn risk_text_is_readable() {
        for (_, fill, text, _) in RISK_BANDS {
            assert!(
                contrast_ratio(fill, text).unwrap() >= 4.5,
                "{fill} / {text}"
            );
        }
        assert!(contrast_ratio(NO_DATA_COLOR, "#111111").unwrap() >= 4.5);
    }

    #[test]
    fn risk_ramp_is_monotonic_in_lightness() {
        let l: Vec<f64> = RISK_BANDS
            .iter()
            .map(|b| relative_luminance(b.1).unwrap())
            .collect();
        assert!(l.windows(2).all(|w| w[0] > w[1]));
        assert_eq!(risk_color(0.0), "#ffffb2");
        assert_eq!(risk_color(-1.0), "#ffffb2");
        assert_eq!(risk_color(0.07), "#feb24c");
        assert_eq!(risk_color(1.0), "#b10026");
        assert_eq!(risk_color(f64::NAN), NO_DATA_COLOR);
        assert_eq!(risk_text_color(0.6), "#ffffff");
        assert_eq!(risk_label(0.03), "2–5 %");
    }

    #[test]
    fn colours_are_sanitized() {
        assert_eq!(sanitize_color("#abcdef").as_deref(), Some("#abcdef"));
        assert_eq!(
            sanitize_color("rgb(1, 2, 3)").as_deref(),
            Some("rgb(1, 2, 3)")
        );
        assert_eq!(sanitize_color("red\" onload=\"x"), None);
        assert_eq!(sanitize_color("url(javascript:x)"), None);
        assert_eq!(sanitize_color("URL(x)"), None);
        assert_eq!(text_color_on("#000000"), "#ffffff");
        assert_eq!(text_color_on("#F0E442"), "#111111");
    }
}
