//! A legend for the risk colour ramp (region grids, heat maps).

use crate::palette::{NO_DATA_COLOR, RISK_BANDS};
use crate::svg::{self, Anchor, LEGEND_FONT, TICK_FONT};
use crate::text::text_width;

/// A horizontal legend of [`crate::risk_color`]: one swatch per band with its
/// range, then "No data". `title` is shown first (e.g. "Share of hosts at risk").
pub fn risk_legend_svg(title: &str, width: u32) -> String {
    let w = f64::from(width).clamp(200.0, 4000.0);
    let h = 44.0;
    let mut body = String::new();
    svg::background(&mut body, w, h);
    let mut x = 8.0;
    if !title.is_empty() {
        let t = crate::text::truncate_to_width(title, w * 0.35, LEGEND_FONT.size);
        svg::text(
            &mut body,
            x,
            27.0,
            &t,
            &LEGEND_FONT,
            Anchor::Start,
            "vc-title",
        );
        x += text_width(&t, LEGEND_FONT.size) + 14.0;
    }
    let n = RISK_BANDS.len() + 1;
    let cell = ((w - x - 8.0) / n as f64).max(20.0);
    let mut desc = String::from("Colour ramp of the share of hosts at risk:");
    for (i, (_, fill, text, label)) in RISK_BANDS.iter().enumerate() {
        let cx = x + cell * i as f64;
        svg::rect(
            &mut body,
            cx,
            8.0,
            cell - 2.0,
            28.0,
            fill,
            "class=\"vc-swatch\"",
        );
        svg::text_colored(
            &mut body,
            cx + (cell - 2.0) / 2.0,
            26.0,
            label,
            TICK_FONT.size,
            text,
            500,
            Anchor::Middle,
            "",
        );
        desc.push_str(&format!(
            " {label}{}",
            if i + 1 < RISK_BANDS.len() { "," } else { ";" }
        ));
    }
    let cx = x + cell * RISK_BANDS.len() as f64;
    svg::rect(
        &mut body,
        cx,
        8.0,
        cell - 2.0,
        28.0,
        NO_DATA_COLOR,
        "class=\"vc-swatch\"",
    );
    svg::text_colored(
        &mut body,
        cx + (cell - 2.0) / 2.0,
        26.0,
        "No data",
        TICK_FONT.size,
        "#111111",
        500,
        Anchor::Middle,
        "",
    );
    desc.push_str(" grey for no data. Lighter is better, darker is worse.");
    let title = if title.is_empty() {
        "Risk colour legend"
    } else {
        title
    };
    svg::document(title, &desc, w, h, "vc-risk-legend", false, &body)
}
