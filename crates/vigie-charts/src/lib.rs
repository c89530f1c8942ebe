//! vigie charts: accessible, printable SVG generated on the server (trend
//! lines, stacked bars, burndown, sparklines). Pure: no I/O, no dependencies.
//!
//! Every chart is a complete SVG 1.1 document (`role="img"`, a `<title>` and a
//! `<desc>` with the key figures, referenced by `aria-labelledby`), valid both
//! standalone and inline in HTML. It uses presentation attributes only (no
//! `<style>`, no `style=""`), so a strict Content-Security-Policy does not
//! affect it; elements carry `vc-*` classes for page CSS. Text is near-black
//! and series differ by dash pattern and marker shape as well as colour, so
//! charts print in grey. Output is deterministic (same input, same bytes).
//!
//! Ids (for `aria-labelledby`) are derived from a hash of the content, so
//! several charts can share a page.

mod bars;
mod format;
mod heat;
mod line;
mod palette;
mod risk;
mod spark;
mod svg;
mod table;
mod text;
pub mod ticks;
mod xy;

pub use bars::StackedBars;
pub use format::{Axis, ValueFormat, XAxis, civil_from_days, days_from_civil, format_date};
pub use heat::{HeatCell, HeatGrid};
pub use line::{Burndown, BurndownStatus, LineChart, Series};
pub use palette::{
    DASHES, FILL_PALETTE, LINE_PALETTE, NO_DATA_COLOR, RISK_BANDS, contrast_ratio, dash,
    fill_color, line_color, relative_luminance, risk_color, risk_label, risk_text_color,
    text_color_on,
};
pub use risk::risk_legend_svg;
pub use spark::Sparkline;
pub use table::{series_table_html, table_html};
pub use text::{escape, text_width, truncate_to_width};
