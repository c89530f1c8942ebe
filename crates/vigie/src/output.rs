//! Command output: a human table by default, JSON or CSV for scripts.

use anyhow::Result;
use comfy_table::{ContentArrangement, Table as Comfy, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// Rows for people (and CSV); JSON comes from the typed value instead.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

pub fn emit<T: Serialize>(format: OutputFormat, value: &T, table: &Table) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, value)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => write_csv(&mut out, table)?,
        OutputFormat::Table => {
            let mut t = Comfy::new();
            t.load_style(UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic);
            t.set_header(&table.headers);
            for r in &table.rows {
                t.add_row(r);
            }
            writeln!(out, "{t}")?;
        }
    }
    Ok(())
}

/// The table as CSV, every cell through the one escaping function the
/// API's exports use: quoted when it holds a separator (`,` or `;`), a
/// quote or a line break, and never starting a spreadsheet formula (host
/// names and software titles come from inventories).
pub fn write_csv(out: &mut impl Write, table: &Table) -> std::io::Result<()> {
    out.write_all(vigie_core::csv_export::record(&table.headers).as_bytes())?;
    for r in &table.rows {
        out.write_all(vigie_core::csv_export::record(r).as_bytes())?;
    }
    out.flush()
}

pub fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
    }
}

/// A progress bar on a terminal, nothing in pipes or with --quiet.
pub fn progress(len: u64, what: &str, quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg:12} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_cannot_split_or_run_formulas() {
        let mut t = Table::new(["hostname", "os", "findings"]);
        t.row(["PC7;=1+1;", "=HYPERLINK(\"http://x\")", "-1"]);
        t.row(["@SUM(A1)", "Windows 10, 22H2", "say \"hi\"\nbye"]);
        let mut out = Vec::new();
        write_csv(&mut out, &t).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "hostname,os,findings\n\
             \"PC7;=1+1;\",\"'=HYPERLINK(\"\"http://x\"\")\",'-1\n\
             '@SUM(A1),\"Windows 10, 22H2\",\"say \"\"hi\"\"\nbye\"\n"
        );
    }
}
