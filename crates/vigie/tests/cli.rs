//! The command line, end to end, on a temporary SQLite database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigie-inventory/tests/data")
        .join(rel)
}

struct T {
    dir: tempfile::TempDir,
}

impl T {
    fn new() -> T {
        T {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn db(&self) -> String {
        self.dir.path().join("v.db").display().to_string()
    }
    fn vigie(&self) -> Command {
        let mut c = Command::cargo_bin("vigie").unwrap();
        c.env_remove("VIGIE_DB")
            .env_remove("VIGIE_RULES")
            .arg("--db")
            .arg(self.db())
            .arg("--quiet");
        c
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = self
            .vigie()
            .args(args)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
    fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }
}

const ORG: &str = "code,name,kind,region,parent,hostname_patterns,subnets,region_name\n\
RBH,Royal Berkshire,acute,Y59,QU9,rbh-*,10.1.0.0/16,South East\n\
CHUN,CHU Nord,acute,NORD,,chun-*;*.chu-nord.local,10.40.0.0/16,Nord\n\
A81001,The Densham Surgery,gp-practice,Y63,QHM,a81001-*,10.2.1.0/24,North East and Yorkshire\n";

fn seeded() -> T {
    let t = T::new();
    let org = t.write("org.csv", ORG);
    t.vigie()
        .args(["org", "import"])
        .arg(&org)
        .assert()
        .success();
    t
}

#[test]
fn ingest_then_query_in_every_format() {
    let t = seeded();
    let out = t
        .vigie()
        .arg("ingest")
        .arg(fixture("osquery/windows7-snapshot.log"))
        .arg(fixture("nmap/hospital-subnet.xml"))
        .arg(fixture("ocs/windows7-fr.ocs"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    assert!(
        rows.as_array().unwrap().iter().all(|r| r["ok"] == true),
        "{rows}"
    );

    let hosts = t.json(&["hosts"]);
    let hosts = hosts.as_array().unwrap();
    assert!(hosts.len() >= 3, "{hosts:?}");
    for h in hosts {
        for key in ["hostname", "establishment", "os", "sources", "findings"] {
            assert!(h.get(key).is_some(), "host lacks {key}: {h}");
        }
        for key in ["name", "version", "build"] {
            assert!(h["os"].get(key).is_some(), "os lacks {key}: {h}");
        }
        for f in h["findings"].as_array().unwrap() {
            for key in ["rule", "severity", "first_seen", "evidence"] {
                assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
            }
        }
    }
    let rbh = t.json(&["hosts", "--establishment", "RBH"]);
    assert!(
        rbh.as_array()
            .unwrap()
            .iter()
            .all(|h| h["establishment"] == "RBH")
    );
    let with_rule = t.json(&["hosts", "--rule", "smbv1-enabled"]);
    assert!(with_rule.as_array().unwrap().iter().all(|h| {
        h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "smbv1-enabled")
    }));

    let posture = t.json(&["posture", "--by", "establishment", "--at", "2030-01-01"]);
    let groups: Vec<&str> = posture
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"RBH"), "{groups:?}");
    let rbh = posture
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "RBH")
        .unwrap();
    assert!(rbh["hosts"].as_u64().unwrap() >= 1);
    assert!(rbh["rules"]["os-eol"]["share"].is_number(), "{rbh}");

    let trend = t.json(&[
        "trend",
        "--rule",
        "os-eol",
        "--by",
        "region",
        "--from",
        "2024-01-30",
        "--to",
        "2024-02-02",
    ]);
    assert!(!trend.as_array().unwrap().is_empty());
    assert!(trend[0].get("day").is_some() && trend[0].get("with_rule").is_some());

    // CSV and tables work too
    let csv = t
        .vigie()
        .args(["posture", "--by", "region", "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(csv.stdout)
            .unwrap()
            .starts_with("group,name,hosts,")
    );
    t.vigie().args(["hosts", "--limit", "5"]).assert().success();

    // re-ingesting changes nothing
    let again = t.json(&[
        "ingest",
        fixture("osquery/windows7-snapshot.log").to_str().unwrap(),
    ]);
    assert_eq!(again[0]["status"], "already-ingested");
    let status = t.json(&["status"]);
    assert!(status["hosts"].as_u64().unwrap() >= 3);
}

/// Wrong clocks, control characters and overlong values are counted and
/// shown, not applied silently (docs/formats.md).
#[test]
fn ingest_shows_implausible_times_and_adjusted_values() {
    let t = seeded();
    let line = |host: &str, unix: &str| {
        format!(
            "{{\"hostIdentifier\":\"{host}\",\"unixTime\":{unix},\"name\":\"patches\",\"snapshot\":[{{\"hotfix_id\":\"KB4012212\"}}]}}\n"
        )
    };
    let long = format!("rbh-{}", "a".repeat(1024));
    let log = [
        line("rbh-pc1", "0"),
        line("rbh-pc2", "253402300800"),
        line("rbh-pc3\\u0000", "1706695200"),
        line(&long, "1706695200"),
    ]
    .concat();
    let f = t.write("clocks.log", &log);
    let out = t.vigie().arg("ingest").arg(&f).output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    for shown in [
        "1 future-dated (counted now)",
        "1 dated before 1995 (counted now)",
        "1 value cut to length",
        "1 value with control characters escaped",
    ] {
        assert!(table.contains(shown), "{shown}: {table}");
    }
    let f = t.write("clocks2.log", &log.replace("rbh-", "RBH-"));
    let rows = t.json(&["ingest", f.to_str().unwrap()]);
    let r = &rows[0];
    assert_eq!(
        (
            &r["future_dated"],
            &r["too_old"],
            &r["values_truncated"],
            &r["values_escaped"]
        ),
        (
            &Value::from(1),
            &Value::from(1),
            &Value::from(1),
            &Value::from(1)
        ),
        "{r}"
    );
}

#[test]
fn bad_input_names_the_file_and_line_and_changes_nothing() {
    let t = seeded();
    t.vigie()
        .arg("ingest")
        .arg(fixture("osquery/windows7-snapshot.log"))
        .assert()
        .success();
    let before = t.json(&["hosts"]);
    let text = std::fs::read_to_string(fixture("osquery/windows7-snapshot.log")).unwrap();
    let cut = &text[..text.len() * 2 / 3];
    let dir = t.dir.path().join("drop");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a-truncated.log"), cut).unwrap();
    std::fs::copy(fixture("nmap/hospital-subnet.xml"), dir.join("b-scan.xml")).unwrap();
    let out = t.vigie().arg("ingest").arg(&dir).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed file makes the run fail"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a-truncated.log") && err.contains("line "),
        "{err}"
    );
    // the directory's other file went in
    let hosts = t.json(&["hosts"]);
    assert!(hosts.as_array().unwrap().len() > before.as_array().unwrap().len());
    let files = t.json(&["files"]);
    assert!(
        !files
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"].as_str().unwrap().contains("a-truncated"))
    );
}

#[test]
fn rules_list_and_check() {
    let t = T::new();
    let rules = t.json(&["rules", "list"]);
    let ids: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            "os-eol",
            "os-eol-soon",
            "ms17-010-missing",
            "smbv1-enabled",
            "patch-age",
            "kev-software",
            "silent"
        ]
    );
    // what each rule does when it cannot decide
    let policy = |id: &str| {
        rules
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["unknown"].as_str().unwrap_or("").to_string())
            .unwrap()
    };
    assert_eq!(policy("ms17-010-missing"), "report");
    assert_eq!(policy("smbv1-enabled"), "ignore");
    let bad = t.write("bad.toml", "[[rule]]\nid = \"x\"\ntitle = \"t\"\nseverity = \"urgent\"\nrationale = \"r\"\nremediation = \"m\"\nwhen = { stale_days = 3 }\n");
    let out = t
        .vigie()
        .args(["rules", "check"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.toml:1: rule x: unknown severity"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = t.dir.path().join("rules");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("site.toml"),
        "[[rule]]\nid = \"old-7zip\"\ntitle = \"7-Zip older than 24\"\nseverity = \"low\"\nrationale = \"r\"\nremediation = \"m\"\nwhen = { software = \"(?i)^7-zip\", version = { version_lt = \"24\" } }\n",
    )
    .unwrap();
    t.vigie()
        .args(["rules", "check"])
        .arg(dir.join("site.toml"))
        .assert()
        .success();
    let out = t
        .vigie()
        .arg("--rules")
        .arg(&dir)
        .args(["rules", "list", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // the defaults and the site's rule
    assert_eq!(v.as_array().unwrap().len(), ids.len() + 1);
}

/// Serves one file over HTTP on 127.0.0.1 for a bounded number of requests.
fn serve_once(body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        if let Ok((mut s, _)) = listener.accept() {
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    (format!("http://{addr}/kev.json"), h)
}

/// The CISA KEV entry of `vigie kb status`.
fn kev_source(t: &T) -> Value {
    // (a threshold no source reaches: the embedded data is months old)
    let status = t.json(&["kb", "status", "--max-age-days", "100000"]);
    status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "cisa-kev")
        .unwrap()
        .clone()
}

#[test]
fn kb_status_and_update_from_file_and_http() {
    let t = T::new();
    let kev = kev_source(&t);
    assert_eq!(kev["version"], "2026.08.21");
    let older = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vigie-kb/tests/data");
    let fixture = std::fs::read_dir(&older)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("2025.08.25")
        })
        .expect("trimmed 2025.08.25 KEV fixture");
    // an older catalog is refused unless asked for (no silent downgrade)
    let out = t
        .vigie()
        .args(["kb", "update", "--from"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("older than the one in use"), "{err}");
    let (url, server) = serve_once(std::fs::read(&fixture).unwrap());
    t.vigie()
        .args(["kb", "update", "--allow-older", "--from", &url])
        .assert()
        .success();
    server.join().unwrap();
    let kev = kev_source(&t);
    assert_eq!(kev["version"], "2025.08.25", "{kev}");
    assert_eq!(kev["origin"], "update");
    // a malformed update is refused and changes nothing
    let bad = t.write(
        "bad.json",
        "{\"catalogVersion\": \"2099.01.01\", \"vulnerabilities\": [",
    );
    let out = t
        .vigie()
        .args(["kb", "update", "--from"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kev = kev_source(&t);
    assert_eq!(kev["version"], "2025.08.25");
}

/// One source of `vigie kb status`.
fn kb_source(t: &T, name: &str) -> Option<Value> {
    let status = t.json(&["kb", "status", "--max-age-days", "100000"]);
    status
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
}

#[test]
fn kb_update_loads_msrc_months_over_http_and_directories_all_or_nothing() {
    let t = T::new();
    let cvrf = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../vigie-kb/tests/data/msrc-cvrf-2026-Nov.sample.json"),
    )
    .unwrap();
    let text = String::from_utf8(cvrf.clone()).unwrap();
    assert!(kb_source(&t, "msrc-cvrf/2026-Nov").is_none());
    assert_eq!(
        kb_source(&t, "windows-builds").unwrap()["horizon"],
        "2026-08-12"
    );
    // the month over HTTP, as from api.msrc.microsoft.com
    let (url, server) = serve_once(cvrf);
    let out = t.json(&["kb", "update", "--from", &url]);
    server.join().unwrap();
    let names: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "msrc-cvrf/2026-Nov",
            "windows-legacy-rollups",
            "windows-builds"
        ]
    );
    let month = kb_source(&t, "msrc-cvrf/2026-Nov").unwrap();
    assert_eq!(month["version"], "2026-11-18");
    assert_eq!(month["origin"], "update");
    // recorded: a later process sees the build history reach November
    let builds = kb_source(&t, "windows-builds").unwrap();
    assert_eq!(builds["horizon"], "2026-11-10", "{builds}");
    assert_eq!(builds["date"], "2026-08-12");

    // a directory: an earlier revision of the month is refused, and the
    // valid file beside it is not recorded either
    let dir = t.dir.path().join("feeds");
    std::fs::create_dir(&dir).unwrap();
    let legacy: Value = serde_json::from_slice(include_bytes!(
        "../../../data/patches/windows-legacy-rollups.min.json"
    ))
    .unwrap();
    let mut legacy = legacy;
    legacy["generated"] = "2026-11-30".into();
    std::fs::write(dir.join("a-legacy.json"), legacy.to_string()).unwrap();
    std::fs::write(
        dir.join("b-2026-Nov.json"),
        text.replace("2026-11-18T08:00:00", "2026-11-12T08:00:00"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not json, not read").unwrap();
    // refused with exit code 1, the file at fault and the reason named
    let refused = |why: &str| {
        let out = t
            .vigie()
            .args(["kb", "update", "--from"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("b-2026-Nov.json") && err.contains(why),
            "{err}"
        );
    };
    refused("older than the one in use");
    let rollups = kb_source(&t, "windows-legacy-rollups").unwrap();
    assert_eq!(rollups["origin"], "embedded", "{rollups}");
    // a malformed file names itself and the place at fault
    std::fs::write(
        dir.join("b-2026-Nov.json"),
        text.replace("\"10.0.19045.7920\"", "\"10.0.19045\""),
    )
    .unwrap();
    refused("FixedBuild");
    assert_eq!(
        kb_source(&t, "windows-legacy-rollups").unwrap()["origin"],
        "embedded"
    );
    // every file usable: both recorded, in name order
    std::fs::write(
        dir.join("b-2026-Nov.json"),
        text.replace("2026-11-18T08:00:00", "2026-11-25T08:00:00"),
    )
    .unwrap();
    t.vigie()
        .args(["kb", "update", "--from"])
        .arg(&dir)
        .assert()
        .success();
    let rollups = kb_source(&t, "windows-legacy-rollups").unwrap();
    assert_eq!(rollups["version"], "2026-11-30");
    assert_eq!(rollups["origin"], "update");
    // the replaced legacy list is still extended by the month loaded before
    assert_eq!(rollups["horizon"], "2026-11-10");
    assert_eq!(
        kb_source(&t, "msrc-cvrf/2026-Nov").unwrap()["version"],
        "2026-11-25"
    );
}

#[test]
fn demo_runs_small() {
    let t = T::new();
    let out_dir = t.dir.path().join("demo");
    let out = t
        .vigie()
        .args([
            "demo",
            "--no-serve",
            "--scale",
            "0.0004",
            "--days",
            "4",
            "--end",
            "2026-11-20",
            "--reset",
            "--format",
            "json",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["regions"], 7);
    assert!(v["hosts"].as_u64().unwrap() > 100, "{v}");
    assert_eq!(v["failed_files"], 0);
    // the demo database is the one named by --db here
    let posture = t.json(&["posture", "--by", "region", "--at", "2026-11-20"]);
    assert_eq!(
        posture
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["group"] != "unassigned")
            .count(),
        7
    );
}

#[test]
fn csv_with_a_column_mapping_from_flags_and_file() {
    let t = seeded();
    // headers no automatic mapping knows
    let csv = t.write(
        "export.csv",
        "Poste;Série;Système;Noyau;Correctifs;Relevé\n\
         RBH-PC777;SN777;Windows 7 Entreprise;6.1.7601;KB3205394 KB3212646;2017-05-11T08:00:00Z\n\
         RBH-PC778;SN778;Windows 7 Entreprise;6.1.7601;KB4012215;2017-05-11T08:00:00Z\n",
    );
    let out = t
        .vigie()
        .arg("ingest")
        .args([
            "--input-format",
            "csv",
            "--csv-column",
            "hostname=Poste",
            "--csv-column",
            "serial=Série",
        ])
        .args([
            "--csv-column",
            "os_name=Système",
            "--csv-column",
            "os_version=Noyau",
        ])
        .args([
            "--csv-column",
            "hotfixes=Correctifs",
            "--csv-column",
            "observed_at=Relevé",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hosts = t.json(&["hosts", "--establishment", "RBH"]);
    let by_name = |n: &str| {
        hosts
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["hostname"] == n)
            .cloned()
            .unwrap()
    };
    let rules = |h: &Value| -> Vec<String> {
        h["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    let h777 = by_name("RBH-PC777");
    assert_eq!(h777["os"]["build"], 7601);
    assert!(
        rules(&h777).contains(&"ms17-010-missing".to_string()),
        "{h777}"
    );
    assert!(!rules(&by_name("RBH-PC778")).contains(&"ms17-010-missing".to_string()));
    assert_eq!(h777["first_seen"], "2017-05-11T08:00:00Z");
    // the same mapping from a file
    let map = t.write(
        "map.toml",
        "hostname = \"Poste\"\nserial = \"Série\"\nos_name = \"Système\"\nos_version = \"Noyau\"\nhotfixes = \"Correctifs\"\nobserved_at = \"Relevé\"\n",
    );
    let csv2 = t.write(
        "export2.csv",
        "Poste;Série;Système;Noyau;Correctifs;Relevé\nRBH-PC779;SN779;Windows 7 Entreprise;6.1.7601;KB4012212;2017-05-12T08:00:00Z\n",
    );
    t.vigie()
        .arg("ingest")
        .args(["--input-format", "csv", "--csv-map"])
        .arg(&map)
        .arg(&csv2)
        .assert()
        .success();
    let hosts = t.json(&["hosts", "--hostname", "rbh-pc779"]);
    assert_eq!(hosts.as_array().unwrap().len(), 1);
    assert_eq!(hosts[0]["os"]["version"], "6.1.7601");
    // a mapping naming a column the file lacks is refused with the file named
    let bad = t.write("bad-map.toml", "hostname = \"Nom\"\n");
    let csv3 = t.write("export3.csv", "Poste;Série\nRBH-PC780;SN780\n");
    let out = t
        .vigie()
        .arg("ingest")
        .args(["--input-format", "csv", "--csv-map"])
        .arg(&bad)
        .arg(&csv3)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("export3.csv") && err.contains("\"Nom\""),
        "{err}"
    );
}

#[test]
fn france_demo_and_assess() {
    let t = T::new();
    let out = t
        .vigie()
        .args([
            "demo",
            "--no-serve",
            "--profile",
            "france",
            "--scale",
            "0.0003",
            "--days",
            "3",
            "--reset",
            "--format",
            "json",
            "--out",
        ])
        .arg(t.dir.path().join("fr"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // small scales sample establishments, so a few overseas regions may be empty
    assert!(v["regions"].as_u64().unwrap() >= 12, "{v}");
    assert_eq!(v["failed_files"], 0);
    let a = t.json(&["assess", "--at", "2026-09-15"]);
    assert!(a["hosts"].as_u64().unwrap() > 0, "{a}");
    let p = t.json(&["posture", "--at", "2026-09-15"]);
    assert!(
        p[0]["rules"]["patch-age"]["hosts"].as_u64().unwrap() > 0,
        "patch age grows after the history: {p}"
    );
}

/// The README's first command ends on the dashboard: it prints the address
/// and a demo login that works.
#[test]
fn demo_ends_on_the_dashboard() {
    use std::io::BufRead;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let t = T::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .env_remove("VIGIE_DB")
        .args([
            "demo",
            "--scale",
            "0.0002",
            "--days",
            "2",
            "--end",
            "2026-08-31",
            "--listen",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--out")
        .arg(t.dir.path().join("demo"))
        .current_dir(t.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // read standard error on a thread that keeps draining it (closing the
    // pipe would make the server's next message fail)
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("sign in as demo ") {
                let words: Vec<&str> = line.split_whitespace().collect();
                if let Some(pw) = words.iter().position(|w| *w == "password") {
                    let _ = tx.send(words[pw + 1].to_string());
                }
            }
        }
    });
    let password = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the demo prints a login");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ok = rt.block_on(async {
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut page = None;
        // the server starts after the accounts are written (debug builds
        // load the knowledge base slowly): wait up to a minute
        for _ in 0..600 {
            if let Ok(r) = c.get(format!("{base}/login")).send().await {
                page = Some(r);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let page = page.expect("the dashboard answers");
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("vigie_login_csrf="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let token = cookie.trim_start_matches("vigie_login_csrf=").to_string();
        let r = c
            .post(format!("{base}/login"))
            .header("cookie", cookie)
            .form(&[
                ("username", "demo"),
                ("password", password.as_str()),
                ("csrf", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.starts_with("vigie_session=")))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "the printed demo login signs in");
}

/// `vigie hosts` names machines by the opaque ids the API and the pages
/// show (docs/web.md, "Machine ids"): 13 characters, never a number, the
/// same from one process to the next (the key is in the database).
#[test]
fn hosts_are_listed_by_opaque_ids() {
    let t = seeded();
    t.vigie()
        .arg("ingest")
        .arg(fixture("osquery/windows7-snapshot.log"))
        .assert()
        .success();
    let first = t.json(&["hosts"]);
    let ids: Vec<String> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!ids.is_empty(), "{first}");
    for id in &ids {
        assert_eq!(id.len(), 13, "{id}");
        assert!(id.parse::<i64>().is_err(), "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
            "{id}"
        );
    }
    // another process, the same ids; in CSV and in the table too
    let again = t.json(&["hosts"]);
    assert_eq!(first, again);
    let csv = t
        .vigie()
        .args(["hosts", "--format", "csv"])
        .output()
        .unwrap();
    let table = t.vigie().args(["hosts"]).output().unwrap();
    for out in [csv, table] {
        let text = String::from_utf8(out.stdout).unwrap();
        for id in &ids {
            assert!(text.contains(id.as_str()), "{id} not in {text}");
        }
    }
}

/// `kb status` gives each source's age and exits 2 while one is older than
/// its threshold, so a monitoring system can alert.
#[test]
fn kb_status_flags_stale_sources_with_its_exit_code() {
    let t = T::new();
    let out = t
        .vigie()
        .args(["kb", "status", "--max-age-days", "1", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let builds = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "windows-builds")
        .unwrap();
    assert_eq!(builds["stale"], true, "{builds}");
    assert!(builds["age_days"].as_i64().unwrap() > 1, "{builds}");
    let ms17 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "ms17-010")
        .unwrap();
    assert_eq!(ms17["stale"], false, "a closed past never ages: {ms17}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("windows-builds") && err.contains("kb update"),
        "{err}"
    );
    let out = t
        .vigie()
        .args(["kb", "status", "--max-age-days", "100000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// `vigie status` says what its figures stand on: a stale knowledge base
/// and machines never brought up to date are warned about.
#[test]
fn status_warns_of_stale_knowledge_and_no_assessment() {
    let t = seeded();
    let out = t.vigie().arg("status").output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // the embedded build history ends in August 2026 (30-day threshold)
    assert!(
        err.contains("knowledge-base source windows-builds"),
        "{err}"
    );
    assert!(err.contains("never brought up to date"), "{err}");
    t.vigie().arg("assess").assert().success();
    let out = t.vigie().arg("status").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("brought up to date"), "{err}");
}
