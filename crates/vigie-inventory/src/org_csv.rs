//! The organisation directory as a CSV file:
//!
//! ```text
//! code,name,kind,region,parent,hostname_patterns,subnets,region_name
//! RBH,Royal Brompton,acute,LDN,,RBH-*;*.rbh.nhs.uk,10.1.0.0/16;10.2.0.0/16,London
//! ```
//!
//! `parent`, `hostname_patterns`, `subnets` and `region_name` are optional
//! columns; lists are separated by `;`.

use crate::error::OrgCsvError;
use crate::input::decode_text;
use ipnet::IpNet;
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};

fn err(line: u64, message: impl Into<String>) -> OrgCsvError {
    OrgCsvError {
        line,
        message: message.into(),
    }
}

fn list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// Reads regions and establishments. Regions are the distinct region codes,
/// in order of first appearance, named by `region_name` when given.
pub fn parse_org_csv<R: Read>(reader: R) -> Result<(Vec<Region>, Vec<Establishment>), OrgCsvError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut header = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut header) {
        Ok(true) => {}
        Ok(false) => return Err(err(1, "empty file: expected a header line")),
        Err(e) => {
            return Err(err(
                1,
                format!("invalid csv: {}", e.to_string().to_lowercase()),
            ));
        }
    }
    let names: Vec<String> = header
        .iter()
        .map(|h| {
            decode_text(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase()
        })
        .collect();
    let col = |n: &str| names.iter().position(|h| h == n);
    let required = |n: &str| {
        col(n).ok_or_else(|| {
            err(1, format!("missing column {n:?}; expected code,name,kind,region[,parent,hostname_patterns,subnets,region_name]"))
        })
    };
    let (c_code, c_name, c_kind, c_region) = (
        required("code")?,
        required("name")?,
        required("kind")?,
        required("region")?,
    );
    let (c_parent, c_patterns, c_subnets, c_region_name) = (
        col("parent"),
        col("hostname_patterns"),
        col("subnets"),
        col("region_name"),
    );

    let mut regions: Vec<Region> = Vec::new();
    let mut establishments: Vec<Establishment> = Vec::new();
    let mut first_line: HashMap<EstablishmentCode, u64> = HashMap::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map_or(line, csv::Position::line);
                return Err(err(
                    line,
                    format!("invalid csv: {}", e.to_string().to_lowercase()),
                ));
            }
        }
        let line = record.position().map_or(line, csv::Position::line);
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let cell = |i: Option<usize>| -> String {
            i.and_then(|i| record.get(i))
                .map(|b| decode_text(b).trim().to_string())
                .unwrap_or_default()
        };
        let code =
            EstablishmentCode::new(&cell(Some(c_code))).map_err(|e| err(line, e.to_string()))?;
        if let Some(first) = first_line.get(&code) {
            return Err(err(
                line,
                format!("duplicate establishment code {code} (first on line {first})"),
            ));
        }
        let name = cell(Some(c_name));
        if name.is_empty() {
            return Err(err(line, format!("establishment {code} has no name")));
        }
        let kind_text = cell(Some(c_kind));
        let kind = EstablishmentKind::parse(&kind_text).ok_or_else(|| {
            let known: Vec<&str> = EstablishmentKind::ALL.iter().map(|k| k.as_str()).collect();
            err(
                line,
                format!(
                    "unknown kind {kind_text:?}; expected one of {}",
                    known.join(", ")
                ),
            )
        })?;
        let region =
            RegionCode::new(&cell(Some(c_region))).map_err(|e| err(line, e.to_string()))?;
        let region_name = cell(c_region_name);
        match regions.iter_mut().find(|r| r.code == region) {
            Some(r) => {
                // The first row that names the region wins.
                if r.name == r.code.as_str() && !region_name.is_empty() {
                    r.name = region_name;
                }
            }
            None => regions.push(Region {
                name: if region_name.is_empty() {
                    region.as_str().to_string()
                } else {
                    region_name
                },
                code: region.clone(),
            }),
        }
        let parent = Some(cell(c_parent)).filter(|p| !p.is_empty());
        let hostname_patterns: Vec<String> = list(&cell(c_patterns)).map(str::to_string).collect();
        let mut subnets = Vec::new();
        for s in list(&cell(c_subnets)) {
            let net = s
                .parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| err(line, format!("invalid subnet {s:?} for {code}")))?;
            subnets.push(net);
        }
        first_line.insert(code.clone(), line);
        establishments.push(Establishment {
            code,
            name,
            kind,
            region,
            parent,
            hostname_patterns,
            subnets,
        });
    }
    Ok((regions, establishments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_directory() {
        let text = "code,name,kind,region,parent,hostname_patterns,subnets,region_name\n\
                    RBH,Royal Brompton,hospital,LDN,ICB1,RBH-*;*.rbh.nhs.uk,10.1.0.0/16;10.9.9.9,London\n\
                    GP1,Surgery,gp,LDN,,,,\n\
                    AMB,Ambulance,ambulance,NW,,,,\n";
        let (regions, est) = parse_org_csv(text.as_bytes()).unwrap();
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[0].name, "London");
        assert_eq!(regions[1].name, "NW");
        assert_eq!(est.len(), 3);
        assert_eq!(est[0].kind, EstablishmentKind::Acute);
        assert_eq!(est[0].hostname_patterns, vec!["RBH-*", "*.rbh.nhs.uk"]);
        assert_eq!(est[0].subnets.len(), 2);
        assert_eq!(est[0].parent.as_deref(), Some("ICB1"));
        assert_eq!(est[1].parent, None);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_org_csv("code,name,kind\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("region"));
        let e = parse_org_csv("code,name,kind,region\nA,a,acute,R\nB,b,spaceship,R\n".as_bytes())
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("line 3: unknown kind"), "{e}");
        let e =
            parse_org_csv("code,name,kind,region,subnets\nA,a,acute,R,10.0.0.0/33\n".as_bytes())
                .unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_org_csv("code,name,kind,region\nA,a,acute,R\na,b,acute,R\n".as_bytes())
            .unwrap_err();
        assert!(e.message.contains("duplicate"), "{e}");
        let e = parse_org_csv("code,name,kind,region\nA B,a,acute,R\n".as_bytes()).unwrap_err();
        assert_eq!(e.line, 2);
    }
}
