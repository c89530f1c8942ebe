//! A grid of tiles coloured by risk (regions, establishments).

use crate::format::ValueFormat;
use crate::palette::{risk_color, risk_label, risk_text_color};
use crate::svg::{self, Anchor, TITLE_FONT};
use crate::table::table_html;
use crate::text::truncate_to_width;
use crate::xy::{MAX_W, MIN_W, PAD};

/// One tile of a [`HeatGrid`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HeatCell {
    /// Name shown on the tile (region, establishment).
    pub label: String,
    /// Share of hosts at risk (0–1) that colours the tile; NaN for no data.
    pub value: f64,
    /// A second line, e.g. "412 of 4,210 hosts".
    pub detail: String,
}

/// Tiles coloured with [`crate::risk_color`], with the value written on each
/// in a colour that contrasts with it, so the grid reads without colour too.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatGrid {
    pub title: String,
    pub description: String,
    pub cells: Vec<HeatCell>,
    /// Tiles per row (at least 1).
    pub columns: u32,
    pub width: u32,
    /// Format of the values written on the tiles (usually `Percent`).
    pub format: ValueFormat,
}

impl Default for HeatGrid {
    fn default() -> Self {
        HeatGrid {
            title: String::new(),
            description: String::new(),
            cells: Vec::new(),
            columns: 4,
            width: 800,
            format: ValueFormat::Percent,
        }
    }
}

const TILE_H: f64 = 76.0;
const GAP: f64 = 8.0;

impl HeatGrid {
    fn value_text(&self, v: f64) -> String {
        if v.is_finite() {
            self.format.format(v)
        } else {
            "no data".to_string()
        }
    }

    pub fn to_svg(&self) -> String {
        let w = f64::from(self.width).clamp(MIN_W, MAX_W);
        let cols = (self.columns.clamp(1, 100) as usize).min(self.cells.len().max(1));
        let rows = self.cells.len().div_ceil(cols).max(1);
        let top = if self.title.is_empty() {
            PAD
        } else {
            PAD + 26.0
        };
        let h = top + rows as f64 * (TILE_H + GAP) - GAP + PAD;
        let mut body = String::new();
        svg::background(&mut body, w, h);
        if !self.title.is_empty() {
            let t = truncate_to_width(&self.title, w - 2.0 * PAD, TITLE_FONT.size);
            svg::text(
                &mut body,
                PAD,
                PAD + 13.0,
                &t,
                &TITLE_FONT,
                Anchor::Start,
                "vc-title",
            );
        }
        let mut desc = self.description.trim().to_string();
        if self.cells.is_empty() {
            svg::no_data(&mut body, w / 2.0, top + TILE_H / 2.0);
            desc.push_str(if desc.is_empty() {
                "No data."
            } else {
                " No data."
            });
        }
        let tile_w = (w - 2.0 * PAD - GAP * (cols as f64 - 1.0)) / cols as f64;
        for (i, cell) in self.cells.iter().enumerate() {
            let x = PAD + (i % cols) as f64 * (tile_w + GAP);
            let y = top + (i / cols) as f64 * (TILE_H + GAP);
            let fill = risk_color(cell.value);
            let ink = risk_text_color(cell.value);
            let value = self.value_text(cell.value);
            svg::rect(
                &mut body,
                x,
                y,
                tile_w,
                TILE_H,
                fill,
                "rx=\"6\" class=\"vc-tile\"",
            );
            let inner = (tile_w - 20.0).max(10.0);
            let name = truncate_to_width(&cell.label, inner, 13.0);
            svg::text_colored(
                &mut body,
                x + 10.0,
                y + 20.0,
                &name,
                13.0,
                ink,
                600,
                Anchor::Start,
                "vc-tile-label",
            );
            svg::text_colored(
                &mut body,
                x + 10.0,
                y + 48.0,
                &value,
                22.0,
                ink,
                700,
                Anchor::Start,
                "vc-tile-value",
            );
            if !cell.detail.is_empty() {
                let detail = truncate_to_width(&cell.detail, inner, 11.5);
                svg::text_colored(
                    &mut body,
                    x + 10.0,
                    y + 66.0,
                    &detail,
                    11.5,
                    ink,
                    400,
                    Anchor::Start,
                    "vc-tile-detail",
                );
            }
            let label = if cell.label.is_empty() {
                "?"
            } else {
                cell.label.as_str()
            };
            let band = if cell.value.is_finite() {
                format!(", band {}", risk_label(cell.value))
            } else {
                String::new()
            };
            let detail = if cell.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", cell.detail)
            };
            if !desc.is_empty() {
                desc.push(' ');
            }
            desc.push_str(&format!("{label}: {value}{band}{detail}."));
        }
        svg::document(&self.title, &desc, w, h, "vc-heat-grid", false, &body)
    }

    /// The tiles as an HTML `<table>` (name, value, detail).
    pub fn data_table_html(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .cells
            .iter()
            .map(|c| vec![c.label.clone(), self.value_text(c.value), c.detail.clone()])
            .collect();
        table_html(
            &self.title,
            &[String::new(), "Value".to_string(), String::new()],
            &rows,
        )
    }
}
