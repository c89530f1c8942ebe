//! `vigie user`, `vigie token` and `vigie audit`, end to end, on a
//! temporary SQLite database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

const ORG: &str = "code,name,kind,region,parent,hostname_patterns,subnets,region_name\n\
RBH,Royal Berkshire,acute,Y59,QU9,rbh-*,10.1.0.0/16,South East\n\
CHUN,CHU Nord,acute,NORD,,chun-*,10.40.0.0/16,Nord\n";

struct T {
    dir: tempfile::TempDir,
}

impl T {
    fn new() -> T {
        let t = T {
            dir: tempfile::tempdir().unwrap(),
        };
        let org = t.dir.path().join("org.csv");
        std::fs::write(&org, ORG).unwrap();
        t.vigie()
            .args(["org", "import"])
            .arg(&org)
            .assert()
            .success();
        t
    }
    fn vigie(&self) -> Command {
        let mut c = Command::cargo_bin("vigie").unwrap();
        c.env_remove("VIGIE_DB")
            .env_remove("VIGIE_RULES")
            .env("USER", "tester")
            .arg("--db")
            .arg(self.dir.path().join("v.db"))
            .arg("--quiet");
        c
    }
    /// Runs a command that must succeed; returns stdout and stderr.
    fn ok(&self, args: &[&str], stdin: &str) -> (String, String) {
        let out = self.vigie().args(args).write_stdin(stdin).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{args:?}: {stderr}");
        (stdout, stderr)
    }
    /// Runs a command that must fail; returns stderr.
    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let out = self.vigie().args(args).write_stdin(stdin).output().unwrap();
        assert!(
            !out.status.success(),
            "{args:?} should fail: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        let (out, _) = self.ok(&a, "");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }
    fn add_user(&self, name: &str, extra: &[&str]) -> Value {
        let mut a = vec!["user", "add", name, "--password-stdin", "--format", "json"];
        a.extend(extra);
        let (out, _) = self.ok(&a, &format!("{PASSWORD}\n"));
        serde_json::from_str(&out).unwrap()
    }
}

#[test]
fn users_are_added_listed_disabled_and_enabled() {
    let t = T::new();
    let alice = t.add_user("Alice", &["--role", "national-admin"]);
    assert_eq!(alice["username"], "alice", "usernames are lowercased");
    assert_eq!(alice["role"], "national-admin");
    assert!(alice["disabled_at"].is_null());
    let bob = t.add_user("bob", &["--role", "regional-analyst", "--region", "y59"]);
    assert_eq!(bob["region"], "Y59");
    let carol = t.add_user(
        "carol@rbh.nhs.uk",
        &["--role", "establishment-officer", "--establishment", "RBH"],
    );
    assert_eq!(carol["establishment"], "RBH");

    let users = t.json(&["user", "list"]);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol@rbh.nhs.uk"]);
    // the password hash never leaves the database, in any format
    for format in ["table", "json", "csv"] {
        let (out, _) = t.ok(&["user", "list", "--format", format], "");
        assert!(!out.contains("argon2"), "{format}: {out}");
        assert!(!out.contains("password"), "{format}: {out}");
    }
    let (table, _) = t.ok(&["user", "list"], "");
    assert!(table.contains("region Y59") && table.contains("establishment RBH"));

    let d = t.json(&["user", "disable", "BOB"]);
    assert!(d["disabled_at"].is_string(), "{d}");
    let users = t.json(&["user", "list"]);
    assert!(users[1]["disabled_at"].is_string());
    let (csv, _) = t.ok(&["user", "list", "--format", "csv"], "");
    assert!(
        csv.starts_with("id,username,role,perimeter,created,last login,disabled\n"),
        "{csv}"
    );
    let e = t.json(&["user", "enable", "bob"]);
    assert!(e["disabled_at"].is_null(), "{e}");
    let err = t.fails(&["user", "disable", "nobody"], "");
    assert!(err.contains("no user \"nobody\""), "{err}");

    // a new password from stdin
    let (out, _) = t.ok(
        &["user", "passwd", "bob", "--password-stdin"],
        "another long passphrase\n",
    );
    assert!(out.contains("password of bob changed"), "{out}");
    let err = t.fails(&["user", "passwd", "bob", "--password-stdin"], "short\n");
    assert!(err.contains("too short"), "{err}");
}

#[test]
fn bad_user_requests_are_refused_and_write_nothing() {
    let t = T::new();
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &[
                "user",
                "add",
                "bob",
                "--role",
                "national-admin",
                "--password-stdin",
            ],
            "short\n",
            "at least 12 characters",
        ),
        (
            &[
                "user",
                "add",
                "bob",
                "--role",
                "regional-analyst",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "needs a region",
        ),
        (
            &[
                "user",
                "add",
                "bob",
                "--role",
                "national-analyst",
                "--region",
                "Y59",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "neither a region nor an establishment",
        ),
        (
            &[
                "user",
                "add",
                "bob",
                "--role",
                "regional-analyst",
                "--region",
                "ZZZ",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "unknown region ZZZ",
        ),
        (
            &[
                "user",
                "add",
                "bob",
                "--role",
                "establishment-officer",
                "--establishment",
                "NOPE",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "unknown establishment NOPE",
        ),
        (
            &["user", "add", "bob", "--role", "root", "--password-stdin"],
            "correct horse battery\n",
            "unknown role",
        ),
        (
            &[
                "user",
                "add",
                "bob",
                "--role",
                "ingest",
                "--establishment",
                "RBH",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "for API tokens",
        ),
        (
            &[
                "user",
                "add",
                "bad name",
                "--role",
                "national-admin",
                "--password-stdin",
            ],
            "correct horse battery\n",
            "invalid username",
        ),
        // no terminal and no --password-stdin: never prompts on a pipe
        (
            &["user", "add", "bob", "--role", "national-admin"],
            "correct horse battery\n",
            "--password-stdin",
        ),
    ];
    for (args, stdin, needle) in cases {
        let err = t.fails(args, stdin);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(t.json(&["user", "list"]), Value::Array(vec![]));
    // the password is never an argument
    let err = t.fails(
        &[
            "user",
            "add",
            "bob",
            "--role",
            "national-admin",
            "--password",
            "x",
        ],
        "",
    );
    assert!(err.contains("--password"), "{err}");

    t.add_user("bob", &["--role", "national-analyst"]);
    let err = t.fails(
        &[
            "user",
            "add",
            "BOB",
            "--role",
            "national-admin",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(t.json(&["user", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn tokens_are_shown_once_listed_without_secret_and_revoked() {
    let t = T::new();
    let (out, err) = t.ok(
        &[
            "token",
            "create",
            "--name",
            "RBH GLPI",
            "--role",
            "ingest",
            "--establishment",
            "RBH",
            "--expires-days",
            "30",
        ],
        "",
    );
    assert!(err.contains("only time"), "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .unwrap()
        .to_string();
    assert!(secret.starts_with("vgt_") && secret.len() == 68, "{secret}");
    let created = t.json(&[
        "token",
        "create",
        "--name",
        "national export",
        "--role",
        "national-analyst",
    ]);
    let secret2 = created["secret"].as_str().unwrap().to_string();
    assert!(secret2.starts_with(created["prefix"].as_str().unwrap()));
    assert!(created["expires_at"].is_null());
    assert!(created.get("token_hash").is_none());

    let list = t.json(&["token", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "RBH GLPI");
    assert_eq!(list[0]["prefix"], &secret[..12]);
    assert_eq!(list[0]["establishment"], "RBH");
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[0]["created_by"], "cli:tester");
    assert!(list[0]["expires_at"].is_string());
    assert!(list[0]["last_used_at"].is_null());
    // never the secret nor its hash, in any format
    for format in ["table", "json", "csv"] {
        let (out, _) = t.ok(&["token", "list", "--format", format], "");
        assert!(!out.contains(&secret) && !out.contains(&secret2), "{out}");
        assert!(!out.contains(&secret[12..20]), "{format}: {out}");
        assert!(!out.contains("hash"), "{format}: {out}");
    }

    let prefix = list[0]["prefix"].as_str().unwrap();
    let r = t.json(&["token", "revoke", prefix]);
    assert_eq!(r["state"], "revoked");
    assert!(r["revoked_at"].is_string());
    let id = list[1]["id"].to_string();
    let r = t.json(&["token", "revoke", &id]);
    assert_eq!(r["state"], "revoked");
    let err = t.fails(&["token", "revoke", "vgt_00000000"], "");
    assert!(err.contains("no token"), "{err}");

    // perimeters are checked like users'
    for (args, needle) in [
        (
            vec!["token", "create", "--name", "x", "--role", "ingest"],
            "needs an establishment",
        ),
        (
            vec![
                "token",
                "create",
                "--name",
                "x",
                "--role",
                "ingest",
                "--establishment",
                "NOPE",
            ],
            "unknown establishment",
        ),
        (
            vec![
                "token",
                "create",
                "--name",
                "x",
                "--role",
                "national-admin",
                "--expires-days",
                "0",
            ],
            "expires-days",
        ),
    ] {
        let err = t.fails(&args, "");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert_eq!(t.json(&["token", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn administrative_actions_are_audited() {
    let t = T::new();
    t.add_user("alice", &["--role", "national-admin"]);
    t.fails(
        &[
            "user",
            "add",
            "bob",
            "--role",
            "regional-analyst",
            "--region",
            "ZZZ",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    t.ok(&["user", "disable", "alice"], "");
    t.ok(&["user", "enable", "alice"], "");
    let tok = t.json(&[
        "token",
        "create",
        "--name",
        "rbh",
        "--role",
        "ingest",
        "--establishment",
        "RBH",
    ]);
    let prefix = tok["prefix"].as_str().unwrap();
    t.ok(&["token", "revoke", prefix], "");

    let log = t.json(&["audit"]);
    let log = log.as_array().unwrap();
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("token.revoke", prefix, "ok"),
            ("token.create", prefix, "ok"),
            ("user.enable", "alice", "ok"),
            ("user.disable", "alice", "ok"),
            ("user.add", "bob", "failed"),
            ("user.add", "alice", "ok"),
        ],
        "newest first"
    );
    assert!(log.iter().all(|e| e["actor"] == "cli:tester"));
    assert_eq!(log[4]["detail"]["error"], "unknown region ZZZ");
    assert_eq!(log[5]["detail"]["role"], "national-admin");
    // the secret is not in the log either
    let (table, _) = t.ok(&["audit"], "");
    assert!(!table.contains(tok["secret"].as_str().unwrap()));

    let adds = t.json(&["audit", "--action", "user.add"]);
    assert_eq!(adds.as_array().unwrap().len(), 2);
    let last = t.json(&["audit", "--limit", "1"]);
    assert_eq!(last[0]["action"], "token.revoke");
    assert_eq!(
        t.json(&["audit", "--since", "2999-01-01"]),
        Value::Array(vec![])
    );
    assert_eq!(
        t.json(&["audit", "--since", "2000-01-01T00:00:00Z"])
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        t.json(&["audit", "--actor", "cli:someone-else"]),
        Value::Array(vec![])
    );
    let (csv, _) = t.ok(
        &["audit", "--format", "csv", "--action", "token.revoke"],
        "",
    );
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,at,actor,action,target,outcome,ip,detail")
    );
    assert!(lines.next().unwrap().contains(",cli:tester,token.revoke,"));
    let err = t.fails(&["audit", "--since", "yesterday"], "");
    assert!(err.contains("--since"), "{err}");
    // reading the log is not itself logged
    assert_eq!(t.json(&["audit"]).as_array().unwrap().len(), 6);
}
