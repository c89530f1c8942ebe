//! Writes sample charts to `$CARGO_TARGET_DIR/chart-samples/` (or
//! `target/chart-samples/`), plus `index.html` showing them together.
//!
//! `cargo run -p vigie-charts --example samples`

#[path = "../tests/common/samples.rs"]
mod samples;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let base =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let dir = base.join("chart-samples");
    std::fs::create_dir_all(&dir)?;
    let mut html = String::from(
        "<!doctype html><meta charset=\"utf-8\"><title>vigie charts</title>\
<body style=\"margin:24px;background:#f3f4f6;font-family:system-ui,sans-serif\">",
    );
    for (name, svg) in samples::all() {
        let path = dir.join(format!("{name}.svg"));
        std::fs::write(&path, &svg)?;
        html.push_str(&format!(
            "<div style=\"background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:0 0 16px;max-width:900px\">{svg}</div>"
        ));
        println!("{}", path.display());
    }
    html.push_str(&samples::trend().data_table_html());
    std::fs::write(dir.join("index.html"), html)?;
    Ok(())
}
