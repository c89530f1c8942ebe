//! The benchmark fleet: many similar Windows hosts in one osquery log.

use crate::DemoError;
use crate::os;
use crate::rng::{Rng, key};
use crate::software;
use crate::updates::Updates;
use crate::write::{calendar_time, json_kv, json_str, us_date};
use std::io::Write;
use vigie_core::{Day, EstablishmentCode};

struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn line(out: &mut String, query: &str, head: &str, rows: &str) {
    out.push_str("{\"name\":");
    json_str(out, query);
    out.push_str(head);
    out.push_str(",\"snapshot\":[");
    out.push_str(rows);
    out.push_str("],\"action\":\"snapshot\"}\n");
}

pub(crate) fn write_osquery_fleet(
    w: impl Write,
    hosts: u64,
    establishments: &[EstablishmentCode],
    programs_per_host: usize,
    hotfixes_per_host: usize,
    day: Day,
    seed: u64,
) -> Result<u64, DemoError> {
    if establishments.is_empty() && hosts > 0 {
        return Err(DemoError::Spec(
            "no establishment to attribute hosts to".into(),
        ));
    }
    let mut w = Counting {
        inner: std::io::BufWriter::with_capacity(1 << 20, w),
        bytes: 0,
    };
    let updates = Updates::get();
    let catalogue: Vec<(&str, &str, &str)> = software::WINDOWS
        .iter()
        .map(|p| (p.name, p.version, p.publisher))
        .chain(
            software::DRIVER_PACKAGES
                .iter()
                .map(|(n, p)| (*n, "1.0.0", *p)),
        )
        .collect();
    let mut out = String::with_capacity(64 * 1024);
    let mut rows = String::with_capacity(32 * 1024);
    for i in 0..hosts {
        let est = &establishments[usize::try_from(i % establishments.len() as u64).unwrap_or(0)];
        let mut rng = Rng::keyed(&[seed, i, 0xBE7C]);
        let os_id = match rng.below(10) {
            0..=5 => os::W10_22H2,
            6..=8 => os::W11_24H2,
            _ => os::W11_23H2,
        };
        let spec = os::spec(os_id);
        let build = spec.nt_build().parse::<u32>().unwrap_or(19045);
        let lag = rng.range(2, 60);
        let cutoff = day.add_days(-i32::try_from(lag).unwrap_or(0));
        let releases = updates.releases(build, false);
        let idx = updates.release_index(build, false, cutoff);
        let ubr = idx
            .and_then(|i| releases.get(i))
            .map(|r| r.ubr.to_string())
            .unwrap_or_default();
        let hostname = format!("{est}-WS{i:07}");
        let a = rng.next_u64();
        let b = rng.next_u64();
        let uuid = format!(
            "{:08X}-{:04X}-4{:03X}-8{:03X}-{:012X}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFF,
            (b >> 48) & 0xFFF,
            b & 0xFFFF_FFFF_FFFF
        );
        let time = day.start_second() + i64::try_from(rng.range(7 * 3600, 19 * 3600)).unwrap_or(0);
        let mut head = String::with_capacity(256);
        head.push_str(",\"hostIdentifier\":");
        json_str(&mut head, &hostname);
        head.push_str(",\"calendarTime\":");
        json_str(&mut head, &calendar_time(time));
        head.push_str(&format!(
            ",\"unixTime\":{time},\"epoch\":0,\"counter\":0,\"numerics\":false,\"decorations\":{{"
        ));
        json_kv(&mut head, true, "host_uuid", &uuid);
        json_kv(&mut head, false, "establishment", est.as_str());
        head.push('}');

        out.clear();
        rows.clear();
        let (major, minor) = ("10", "0");
        rows.push('{');
        json_kv(&mut rows, true, "name", spec.name);
        json_kv(&mut rows, false, "version", spec.version);
        json_kv(&mut rows, false, "major", major);
        json_kv(&mut rows, false, "minor", minor);
        json_kv(&mut rows, false, "build", spec.nt_build());
        json_kv(&mut rows, false, "platform", "windows");
        json_kv(&mut rows, false, "revision", &ubr);
        rows.push('}');
        line(&mut out, "pack_vigie_os_version", &head, &rows);

        rows.clear();
        rows.push('{');
        json_kv(&mut rows, true, "hostname", &hostname);
        json_kv(&mut rows, false, "computer_name", &hostname);
        json_kv(&mut rows, false, "uuid", &uuid);
        json_kv(
            &mut rows,
            false,
            "hardware_serial",
            &format!("CZC{:07}", i % 10_000_000),
        );
        json_kv(&mut rows, false, "hardware_vendor", "HP");
        rows.push('}');
        line(&mut out, "pack_vigie_system_info", &head, &rows);

        rows.clear();
        let real: Vec<_> = match idx {
            Some(i) => releases[..=i]
                .iter()
                .rev()
                .take(hotfixes_per_host)
                .collect(),
            None => Vec::new(),
        };
        for k in 0..hotfixes_per_host {
            if k > 0 {
                rows.push(',');
            }
            let (id, date) = match real.get(k) {
                Some(r) => (format!("KB{}", r.kb), r.date),
                None => (
                    format!(
                        "KB{}",
                        2_500_000 + (key(&[seed, i, k as u64]) % 100_000) * 5 + k as u64 % 5
                    ),
                    Day::from_number(16_000 + (k as i32 % 700)),
                ),
            };
            rows.push('{');
            json_kv(&mut rows, true, "hotfix_id", &id);
            json_kv(&mut rows, false, "description", "Security Update");
            json_kv(&mut rows, false, "installed_on", &us_date(date));
            json_kv(&mut rows, false, "csname", &hostname);
            rows.push('}');
        }
        line(&mut out, "pack_vigie_patches", &head, &rows);

        rows.clear();
        let start = usize::try_from(rng.below(catalogue.len() as u64)).unwrap_or(0);
        for k in 0..programs_per_host {
            if k > 0 {
                rows.push(',');
            }
            let (name, version, publisher) = catalogue[(start + k) % catalogue.len()];
            rows.push('{');
            if k < catalogue.len() {
                json_kv(&mut rows, true, "name", name);
            } else {
                json_kv(
                    &mut rows,
                    true,
                    "name",
                    &format!("{name} ({})", k / catalogue.len()),
                );
            }
            json_kv(&mut rows, false, "version", version);
            json_kv(&mut rows, false, "publisher", publisher);
            rows.push('}');
        }
        line(&mut out, "pack_vigie_programs", &head, &rows);
        w.write_all(out.as_bytes())?;
    }
    w.flush()?;
    Ok(w.bytes)
}
