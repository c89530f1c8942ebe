//! CSV written for people's spreadsheets: the one cell-escaping function
//! behind every CSV vigie writes (the API's exports, the command line's
//! `--format csv`).
//!
//! Inventories are not trusted: a host name such as `PC7;=1+1;` must reach
//! a spreadsheet as text, whichever separator the spreadsheet splits on
//! (`,` by default, `;` with French and other regional settings). Every
//! field is therefore
//!
//! - neutralised: a field starting with `=`, `+`, `-`, `@`, TAB or CR,
//!   which spreadsheets run as a formula, is prefixed with `'`;
//! - quoted (RFC 4180, quotes doubled) when it contains `,`, `;`, `"`,
//!   TAB, CR or LF, so no separator or line break inside it can start
//!   another cell, whatever the separator.
//!
//! Records end with `\n`.

use std::borrow::Cow;

/// What a spreadsheet runs as a formula when a cell starts with it.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A field holding any of these is quoted: the separators spreadsheets
/// split on (`,`, `;`, TAB), the quote itself, and line breaks.
const QUOTED_IF_PRESENT: [char; 6] = [',', ';', '"', '\t', '\r', '\n'];

/// One field as a CSV cell: neutralised, then quoted when needed.
pub fn cell(field: &str) -> Cow<'_, str> {
    let formula = field.starts_with(FORMULA_STARTS);
    let quote = field.contains(QUOTED_IF_PRESENT);
    if !formula && !quote {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len() + 4);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quote {
        for c in field.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(field);
    }
    Cow::Owned(out)
}

/// One record: every field through [`cell`], separated by `,`, ending
/// with `\n`.
pub fn record<I, S>(fields: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut line = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&cell(f.as_ref()));
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How a spreadsheet splits a line on `sep`: separators inside quotes
    /// do not count. Returns the cells as written (quotes kept).
    fn split(line: &str, sep: char) -> Vec<String> {
        let mut cells = vec![String::new()];
        let mut quoted = false;
        for c in line.chars() {
            if c == '"' {
                quoted = !quoted;
            }
            if c == sep && !quoted {
                cells.push(String::new());
            } else if let Some(last) = cells.last_mut() {
                last.push(c);
            }
        }
        cells
    }

    /// The text a spreadsheet shows for one written cell (RFC 4180).
    fn unquote(cell: &str) -> String {
        match cell
            .strip_prefix('"')
            .and_then(|c| c.strip_suffix('"'))
            .filter(|_| cell.len() >= 2)
        {
            Some(inner) => inner.replace("\"\"", "\""),
            None => cell.to_string(),
        }
    }

    fn starts_a_formula(s: &str) -> bool {
        s.starts_with(FORMULA_STARTS)
    }

    #[test]
    fn a_semicolon_hostname_stays_one_text_cell() {
        assert_eq!(cell("PC7;=1+1;"), "\"PC7;=1+1;\"");
        assert_eq!(split(&cell("PC7;=1+1;"), ';').len(), 1);
        assert_eq!(cell("=1+1;x"), "\"'=1+1;x\"");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(cell("x\ry"), "\"x\ry\"");
        assert_eq!(cell("tab\there"), "\"tab\there\"");
    }

    #[test]
    fn formula_starts_are_neutralised() {
        for (raw, want) in [
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("+33 1 23", "'+33 1 23"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "\"'\t=1\""),
            ("\r=1", "\"'\r=1\""),
        ] {
            assert_eq!(cell(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn plain_fields_are_untouched() {
        for s in [
            "",
            "PC7",
            "host-01.example",
            "42",
            "0.25",
            "Windows 10 (22H2)",
        ] {
            assert_eq!(cell(s), s);
            assert!(matches!(cell(s), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn records_join_cells() {
        assert_eq!(
            record(["id", "PC7;=1+1;", "-1", ""]),
            "id,\"PC7;=1+1;\",'-1,\n"
        );
        assert_eq!(record(Vec::<String>::new()), "\n");
    }

    /// Any string, and often one made of what matters here: formula
    /// starts, separators, quotes and line breaks.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[-=+@\t\r\n,;\"' aZ0]{0,12}",]
    }

    proptest! {
        #[test]
        fn any_field_is_one_inert_cell(s in field()) {
            let c = cell(&s);
            prop_assert!(!starts_a_formula(&c), "{c:?} starts a formula");
            for sep in [';', ',', '\t'] {
                let cells = split(&c, sep);
                prop_assert_eq!(cells.len(), 1, "{:?} split on {:?}: {:?}", c, sep, cells);
                let shown = unquote(&cells[0]);
                prop_assert!(!starts_a_formula(&shown), "{shown:?} starts a formula");
                // nothing lost: the text is the field, behind a quote if it
                // looked like a formula
                if starts_a_formula(&s) {
                    prop_assert_eq!(shown, format!("'{s}"));
                } else {
                    prop_assert_eq!(shown, s.clone());
                }
            }
            // no line break outside quotes: the record stays one line
            let mut quoted = false;
            for ch in c.chars() {
                if ch == '"' {
                    quoted = !quoted;
                }
                prop_assert!(quoted || (ch != '\n' && ch != '\r'), "{c:?}");
            }
            prop_assert!(!quoted, "unbalanced quotes in {c:?}");
        }

        #[test]
        fn any_record_splits_into_its_fields(fields in proptest::collection::vec(field(), 0..6)) {
            let line = record(&fields);
            let body = line.strip_suffix('\n').unwrap_or(&line);
            let cells = split(body, ',');
            prop_assert_eq!(cells.len(), fields.len().max(1));
            for (f, c) in fields.iter().zip(&cells) {
                let shown = unquote(c);
                let want = if starts_a_formula(f) { format!("'{f}") } else { f.clone() };
                prop_assert_eq!(shown, want);
            }
        }
    }
}
