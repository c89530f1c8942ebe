//! HTML tables carrying the numbers of a chart, for screen readers and print.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::format::{Axis, XAxis};
use crate::line::Series;
use crate::text::escape;

/// A generic table: `headers[0]` heads the row-header column; the first cell
/// of each row is a row header. Everything is escaped.
pub fn table_html(caption: &str, headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table class=\"vigie-chart-table\">");
    if !caption.is_empty() {
        let _ = write!(out, "<caption>{}</caption>", escape(caption));
    }
    if !headers.is_empty() {
        out.push_str("<thead><tr>");
        for h in headers {
            let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
        }
        out.push_str("</tr></thead>");
    }
    out.push_str("<tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "<th scope=\"row\">{}</th>", escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// Series as a table: one row per x value (dates or numbers), one column per
/// series; missing values are "—". Non-finite values are skipped.
pub fn series_table_html(caption: &str, x: &XAxis, y: &Axis, series: &[Series]) -> String {
    let mut grid: BTreeMap<i64, Vec<Option<f64>>> = BTreeMap::new();
    for (s, ser) in series.iter().enumerate() {
        for &(px, v) in &ser.points {
            if !v.is_finite() {
                continue;
            }
            let row = grid.entry(px).or_insert_with(|| vec![None; series.len()]);
            if let Some(cell) = row.get_mut(s) {
                *cell = Some(v);
            }
        }
    }
    let first = match x.label() {
        "" => match x {
            XAxis::Dates { .. } => "Date".to_string(),
            XAxis::Numbers(_) => String::new(),
        },
        l => l.to_string(),
    };
    let mut headers = vec![first];
    headers.extend(series.iter().enumerate().map(|(i, s)| {
        if s.name.is_empty() {
            format!("Series {}", i + 1)
        } else {
            s.name.clone()
        }
    }));
    let rows: Vec<Vec<String>> = grid
        .into_iter()
        .map(|(px, vals)| {
            let mut row = vec![x.format(px)];
            row.extend(
                vals.into_iter()
                    .map(|v| v.map_or_else(|| "—".to_string(), |v| y.format.format(v))),
            );
            row
        })
        .collect();
    table_html(caption, &headers, &rows)
}
