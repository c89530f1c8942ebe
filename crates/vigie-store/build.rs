//! Derives the migration lists from the `migrations/<dialect>/` folders, so
//! a migration file cannot be forgotten in one dialect's list (PostgreSQL
//! once stopped at 4 while SQLite had 5). Each file is `NNNN_name.sql`;
//! versions must run 1, 2, 3… without gaps or repeats, and both dialects
//! must hold the same versions under the same names.

use std::fmt::Write as _;
use std::path::Path;

fn list(dir: &Path) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") {
            continue;
        }
        let Some((num, _)) = name.split_once('_') else {
            panic!("migration {name}: expected NNNN_name.sql");
        };
        let Ok(version) = num.parse::<i64>() else {
            panic!("migration {name}: expected NNNN_name.sql");
        };
        out.push((version, name));
    }
    out.sort();
    for (i, (v, name)) in out.iter().enumerate() {
        if *v != i as i64 + 1 {
            panic!(
                "migrations in {}: {name} should be version {} (no gaps or repeats)",
                dir.display(),
                i + 1
            );
        }
    }
    out
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut code = String::new();
    let mut lists = Vec::new();
    for (dialect, konst) in [
        ("sqlite", "MIGRATIONS_SQLITE"),
        ("postgres", "MIGRATIONS_POSTGRES"),
    ] {
        let dir = root.join(dialect);
        println!("cargo:rerun-if-changed={}", dir.display());
        let files = list(&dir);
        let _ = writeln!(code, "pub(crate) const {konst}: &[(i64, &str, &str)] = &[");
        for (v, name) in &files {
            let path = dir.join(name);
            println!("cargo:rerun-if-changed={}", path.display());
            let _ = writeln!(
                code,
                "    ({v}, {name:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        code.push_str("];\n");
        lists.push(files);
    }
    if lists[0] != lists[1] {
        panic!(
            "the sqlite and postgres migration folders differ: {:?} vs {:?}",
            lists[0], lists[1]
        );
    }
    let out =
        Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("migrations.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
