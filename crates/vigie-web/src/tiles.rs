//! Region and establishment tiles for the overview grid: an SVG card
//! coloured by the share of machines with a critical finding, with the
//! name, the share in words and a detail line (so colour is never the only
//! carrier of the information).

use vigie_charts as charts;

/// A CSS class for a share of machines at risk.
pub fn risk_level(share: f64) -> &'static str {
    if !share.is_finite() || share < 0.05 {
        "low"
    } else if share < 0.20 {
        "moderate"
    } else if share < 0.35 {
        "high"
    } else {
        "critical"
    }
}

/// The level of a group: its share of machines with a confirmed critical
/// finding, unless a large share of its machines cannot be assessed
/// (`unknown`), which is never shown as low risk.
pub fn level(confirmed: f64, unknown: f64) -> &'static str {
    match risk_level(confirmed) {
        "low" | "moderate" if unknown.is_finite() && unknown >= UNKNOWN_LEVEL => "unknown",
        l => l,
    }
}

/// Share of machines whose critical findings cannot be decided from which
/// a group is shown as "unknown" rather than low or moderate.
pub const UNKNOWN_LEVEL: f64 = 0.20;

/// Fill of a tile whose figures are mostly unknown.
const UNKNOWN_FILL: &str = "#7b8794";

pub fn risk_tile(name: &str, code: &str, share: f64, unknown: f64, detail: &str) -> String {
    let unknown_level = level(share, unknown) == "unknown";
    let (fill, ink) = if unknown_level {
        (UNKNOWN_FILL, "#ffffff")
    } else {
        (charts::risk_color(share), charts::risk_text_color(share))
    };
    let title = format!(
        "{name} ({code}): {:.1} % of machines with a critical finding, {:.1} % unknown, {detail}",
        share * 100.0,
        unknown * 100.0
    );
    let name_s = charts::truncate_to_width(name, 176.0, 15.0);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 200 96\" width=\"100%\" role=\"img\" aria-label=\"{t}\">\
         <title>{t}</title>\
         <rect x=\"0\" y=\"0\" width=\"200\" height=\"96\" rx=\"6\" fill=\"{fill}\" stroke=\"#44546a\" stroke-width=\"1\"/>\
         <text x=\"12\" y=\"24\" font-family=\"system-ui, sans-serif\" font-size=\"15\" font-weight=\"700\" fill=\"{ink}\">{n}</text>\
         <text x=\"12\" y=\"42\" font-family=\"system-ui, sans-serif\" font-size=\"12\" fill=\"{ink}\">{c}</text>\
         <text x=\"12\" y=\"72\" font-family=\"system-ui, sans-serif\" font-size=\"24\" font-weight=\"800\" fill=\"{ink}\">{p:.1} %</text>\
         <text x=\"12\" y=\"88\" font-family=\"system-ui, sans-serif\" font-size=\"11\" fill=\"{ink}\">{d}</text></svg>",
        t = charts::escape(&title),
        n = charts::escape(&name_s),
        c = charts::escape(code),
        p = share * 100.0,
        d = charts::escape(detail),
    )
}

pub fn legend() -> Vec<String> {
    vec![charts::risk_legend_svg(
        "Share of machines with a critical finding",
        640,
    )]
}
