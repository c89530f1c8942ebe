#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn region(s: &str) -> RegionCode {
    RegionCode::new(s).unwrap()
}
fn est(s: &str) -> EstablishmentCode {
    EstablishmentCode::new(s).unwrap()
}

#[test]
fn roles_round_trip_as_text_and_json() {
    for r in Role::ALL {
        assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        assert_eq!(r.to_string(), r.as_str());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, format!("\"{}\"", r.as_str()));
        assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
    }
    assert_eq!(
        "Regional_Analyst".parse::<Role>().unwrap(),
        Role::RegionalAnalyst
    );
    let err = "admin".parse::<Role>().unwrap_err();
    assert!(err.to_string().contains("national-admin"), "{err}");
}

#[test]
fn grants_need_exactly_their_perimeter() {
    let r = || Some(region("Y56"));
    let e = || Some(est("RX1"));
    assert_eq!(
        Grant::new(Role::NationalAdmin, None, None).unwrap(),
        Grant::NationalAdmin
    );
    assert_eq!(
        Grant::new(Role::NationalAnalyst, None, None).unwrap(),
        Grant::NationalAnalyst
    );
    assert_eq!(
        Grant::new(Role::RegionalAnalyst, r(), None).unwrap(),
        Grant::RegionalAnalyst(region("Y56"))
    );
    assert_eq!(
        Grant::new(Role::EstablishmentOfficer, None, e()).unwrap(),
        Grant::EstablishmentOfficer(est("RX1"))
    );
    assert_eq!(
        Grant::new(Role::Ingest, None, e()).unwrap(),
        Grant::Ingest(est("RX1"))
    );
    // wrong perimeters, each with a message naming what is expected
    for (role, reg, es, needle) in [
        (Role::NationalAdmin, r(), None, "neither"),
        (Role::NationalAnalyst, None, e(), "neither"),
        (Role::RegionalAnalyst, None, None, "needs a region"),
        (Role::RegionalAnalyst, None, e(), "only a region"),
        (Role::RegionalAnalyst, r(), e(), "only a region"),
        (
            Role::EstablishmentOfficer,
            None,
            None,
            "needs an establishment",
        ),
        (
            Role::EstablishmentOfficer,
            r(),
            None,
            "only an establishment",
        ),
        (Role::Ingest, r(), e(), "only an establishment"),
        (Role::Ingest, None, None, "needs an establishment"),
    ] {
        let err = Grant::new(role, reg, es).unwrap_err();
        assert!(matches!(err, AuthError::Perimeter(_)));
        assert!(err.to_string().contains(needle), "{role}: {err}");
    }
}

#[test]
fn grant_accessors_and_stored_form() {
    let g = Grant::from_stored("regional-analyst", Some("y56"), None).unwrap();
    assert_eq!(g, Grant::RegionalAnalyst(region("Y56")));
    assert_eq!(g.role(), Role::RegionalAnalyst);
    assert_eq!(g.region(), Some(&region("Y56")));
    assert_eq!(g.establishment(), None);
    assert_eq!(g.to_string(), "regional-analyst Y56");
    assert_eq!(g.perimeter_label(), "region Y56");
    let i = Grant::from_stored("ingest", None, Some("RX1")).unwrap();
    assert_eq!(i.establishment(), Some(&est("RX1")));
    assert!(Grant::from_stored("ingest", None, None).is_err());
    assert!(Grant::from_stored("root", None, None).is_err());
    assert!(Grant::from_stored("ingest", None, Some("bad code!")).is_err());
}

#[test]
fn read_scopes() {
    assert_eq!(Grant::NationalAdmin.read_scope(), Some(ReadScope::National));
    assert_eq!(
        Grant::NationalAnalyst.read_scope(),
        Some(ReadScope::National)
    );
    assert_eq!(
        Grant::RegionalAnalyst(region("Y56")).read_scope(),
        Some(ReadScope::Region(region("Y56")))
    );
    assert_eq!(
        Grant::EstablishmentOfficer(est("RX1")).read_scope(),
        Some(ReadScope::Establishment(est("RX1")))
    );
    assert_eq!(Grant::Ingest(est("RX1")).read_scope(), None);

    let rs = ReadScope::Region(region("Y56"));
    assert!(rs.covers(&est("RX1"), &region("Y56")));
    assert!(!rs.covers(&est("RX1"), &region("Y59")));
    assert!(rs.covers_region(&region("Y56")));
    let es = ReadScope::Establishment(est("RX1"));
    assert!(es.covers(&est("RX1"), &region("Y56")));
    assert!(!es.covers(&est("RX2"), &region("Y56")));
    assert!(!es.covers_region(&region("Y56")));
    assert!(ReadScope::National.covers(&est("RX2"), &region("Y59")));
}

#[test]
fn admin_and_ingest_rights() {
    let own = est("RX1");
    let other = est("RX2");
    assert!(Grant::NationalAdmin.is_admin());
    for g in [
        Grant::NationalAnalyst,
        Grant::RegionalAnalyst(region("Y56")),
        Grant::EstablishmentOfficer(own.clone()),
        Grant::Ingest(own.clone()),
    ] {
        assert!(!g.is_admin(), "{g}");
    }
    assert!(Grant::NationalAdmin.may_ingest_into(&own));
    assert!(Grant::NationalAdmin.may_ingest_into(&other));
    assert!(Grant::EstablishmentOfficer(own.clone()).may_ingest_into(&own));
    assert!(!Grant::EstablishmentOfficer(own.clone()).may_ingest_into(&other));
    assert!(Grant::Ingest(own.clone()).may_ingest_into(&own));
    assert!(!Grant::Ingest(own.clone()).may_ingest_into(&other));
    assert!(!Grant::NationalAnalyst.may_ingest_into(&own));
    assert!(!Grant::RegionalAnalyst(region("Y56")).may_ingest_into(&own));
}

#[test]
fn principal_actor_names() {
    let p = Principal {
        kind: PrincipalKind::User,
        id: 1,
        name: "alice".into(),
        grant: Grant::NationalAdmin,
    };
    assert_eq!(p.actor(), "user:alice");
    let t = Principal {
        kind: PrincipalKind::Token,
        id: 2,
        name: "rx1-glpi".into(),
        grant: Grant::Ingest(est("RX1")),
    };
    assert_eq!(t.actor(), "token:rx1-glpi");
}

#[test]
fn usernames() {
    assert_eq!(normalize_username(" Alice ").unwrap(), "alice");
    assert_eq!(
        normalize_username("j.dupont@ars-idf.fr").unwrap(),
        "j.dupont@ars-idf.fr"
    );
    assert_eq!(normalize_username("rx1_ssi-2").unwrap(), "rx1_ssi-2");
    for bad in ["", " ", "-alice", ".x", "a b", "élodie", "a/b", "a\nb"] {
        assert!(
            matches!(normalize_username(bad), Err(AuthError::Username(_))),
            "{bad:?}"
        );
    }
    assert!(normalize_username(&"a".repeat(64)).is_ok());
    assert!(normalize_username(&"a".repeat(65)).is_err());
}

#[test]
fn password_policy() {
    assert_eq!(
        hash_password("short").unwrap_err(),
        AuthError::PasswordTooShort
    );
    // 11 characters, more bytes: characters count, not bytes
    assert_eq!(
        hash_password("ééééééééééé").unwrap_err(),
        AuthError::PasswordTooShort
    );
    assert_eq!(
        hash_password(&"x".repeat(1025)).unwrap_err(),
        AuthError::PasswordTooLong
    );
    assert!(check_password_policy(&"x".repeat(1024)).is_ok());
    assert!(check_password_policy("twelve chars").is_ok());
    assert!(
        AuthError::PasswordTooShort
            .to_string()
            .contains("12 characters")
    );
}

#[test]
fn grants_from_input() {
    assert_eq!(
        Grant::from_input("Regional_Analyst", Some(" y56 "), Some("")).unwrap(),
        Grant::RegionalAnalyst(region("Y56"))
    );
    assert_eq!(
        Grant::from_input("national-admin", Some(""), Some("  ")).unwrap(),
        Grant::NationalAdmin
    );
    assert_eq!(
        Grant::from_input("ingest", None, Some("RX1")).unwrap(),
        Grant::Ingest(est("RX1"))
    );
    for (role, r, e, needle) in [
        ("root", None, None, "unknown role"),
        ("regional-analyst", None, Some(""), "needs a region"),
        ("national-analyst", Some("Y56"), None, "neither a region"),
        (
            "establishment-officer",
            None,
            Some("a b"),
            "establishment code \"a b\"",
        ),
        ("regional-analyst", Some("x/y"), None, "region code \"x/y\""),
    ] {
        let err = Grant::from_input(role, r, e).unwrap_err().to_string();
        assert!(err.contains(needle), "{role} {r:?} {e:?}: {err}");
    }
    // accounts are for people
    assert_eq!(
        Grant::Ingest(est("RX1")).check_account(),
        Err(AuthError::IngestAccount)
    );
    assert!(
        Grant::EstablishmentOfficer(est("RX1"))
            .check_account()
            .is_ok()
    );
    assert!(Grant::NationalAdmin.check_account().is_ok());
}

#[test]
fn token_names_and_lifetimes() {
    assert_eq!(normalize_token_name("  RX1 GLPI ").unwrap(), "RX1 GLPI");
    assert!(normalize_token_name(&"é".repeat(64)).is_ok());
    for bad in ["", "   ", "a\nb", "tab\there"] {
        assert_eq!(
            normalize_token_name(bad),
            Err(AuthError::TokenName),
            "{bad:?}"
        );
    }
    assert_eq!(
        normalize_token_name(&"é".repeat(65)),
        Err(AuthError::TokenName)
    );
    assert_eq!(check_token_days(1), Ok(1));
    assert_eq!(check_token_days(MAX_TOKEN_DAYS), Ok(MAX_TOKEN_DAYS));
    assert_eq!(check_token_days(0), Err(AuthError::TokenDays(0)));
    assert_eq!(
        check_token_days(MAX_TOKEN_DAYS + 1),
        Err(AuthError::TokenDays(MAX_TOKEN_DAYS + 1))
    );
}

#[test]
fn generated_passwords() {
    let a = generate_password().unwrap();
    let b = generate_password().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 23, "{a}");
    assert!(check_password_policy(&a).is_ok());
    let groups: Vec<&str> = a.split('-').collect();
    assert_eq!(groups.len(), 4, "{a}");
    for g in groups {
        assert_eq!(g.len(), 5);
        assert!(g.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)), "{a}");
    }
    // every character of the alphabet shows up over enough passwords (the
    // five low bits of a byte are uniform)
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        seen.extend(generate_password().unwrap().bytes().filter(|c| *c != b'-'));
    }
    assert_eq!(seen.len(), 32);
}

#[test]
fn hash_and_verify() {
    let h = hash_password("correct horse battery").unwrap();
    assert!(h.starts_with("$argon2id$v=19$"), "{h}");
    assert!(verify_password("correct horse battery", &h));
    assert!(!verify_password("correct horse batterz", &h));
    assert!(!verify_password("", &h));
    // a new salt every time
    let h2 = hash_password("correct horse battery").unwrap();
    assert_ne!(h, h2);
    assert!(verify_password("correct horse battery", &h2));
}

#[test]
fn verify_refuses_bad_hashes() {
    for bad in [
        "",
        "$",
        "$argon2id$",
        "not a hash",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        // another algorithm
        "$argon2i$v=19$m=19456,t=2,p=1$2kZzS1oh4Cq9ld6iGCrNFQ$Rm/8NcMyrEIKv3yOqKGSQw6rVfpRfxkR69KOBNkO9qI",
        // costs beyond the bounds: refused without computing
        "$argon2id$v=19$m=4194304,t=2,p=1$2kZzS1oh4Cq9ld6iGCrNFQ$Rm/8NcMyrEIKv3yOqKGSQw6rVfpRfxkR69KOBNkO9qI",
        "$argon2id$v=19$m=19456,t=1000000,p=1$2kZzS1oh4Cq9ld6iGCrNFQ$Rm/8NcMyrEIKv3yOqKGSQw6rVfpRfxkR69KOBNkO9qI",
        "$argon2id$v=19$m=19456,t=2,p=64$2kZzS1oh4Cq9ld6iGCrNFQ$Rm/8NcMyrEIKv3yOqKGSQw6rVfpRfxkR69KOBNkO9qI",
        "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
    ] {
        assert!(!verify_password("correct horse battery", bad), "{bad}");
    }
}

#[test]
fn the_dummy_hash_is_a_real_one() {
    let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    let params = Params::try_from(&parsed).unwrap();
    assert_eq!(params.m_cost(), Params::DEFAULT_M_COST);
    assert_eq!(params.t_cost(), Params::DEFAULT_T_COST);
    assert!(!verify_dummy("anything at all"));
}

#[test]
fn api_tokens() {
    let t = new_api_token().unwrap();
    assert!(t.secret.starts_with("vgt_"));
    assert_eq!(t.secret.len(), 4 + 64);
    assert_eq!(t.prefix.len(), TOKEN_PREFIX_LEN);
    assert!(t.secret.starts_with(&t.prefix));
    assert_eq!(t.hash, hash_token(&t.secret));
    assert_eq!(t.hash.len(), 64);
    assert!(looks_like_api_token(&t.secret));
    assert!(!looks_like_api_token(&t.prefix));
    assert!(!looks_like_api_token(&t.secret.to_uppercase()));
    // the secret never shows in debug output
    assert!(!format!("{t:?}").contains(&t.secret));
    let u = new_api_token().unwrap();
    assert_ne!(t.secret, u.secret);
    assert_ne!(t.hash, u.hash);
}

#[test]
fn token_hash_is_sha256_hex() {
    assert_eq!(
        hash_token("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn sessions_and_csrf() {
    let (cookie, hash) = new_session().unwrap();
    assert_eq!(cookie.len(), 64);
    assert_eq!(hash, hash_token(&cookie));
    let (cookie2, _) = new_session().unwrap();
    assert_ne!(cookie, cookie2);
    let c = new_csrf_token().unwrap();
    assert_eq!(c.len(), 64);
    assert_ne!(c, new_csrf_token().unwrap());
}

#[test]
fn constant_time_comparison() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(!constant_time_eq(b"abc", b""));
}

#[test]
fn grants_serialise_flat() {
    assert_eq!(
        serde_json::to_string(&Grant::RegionalAnalyst(region("Y56"))).unwrap(),
        r#"{"role":"regional-analyst","region":"Y56"}"#
    );
    assert_eq!(
        serde_json::to_string(&Grant::NationalAdmin).unwrap(),
        r#"{"role":"national-admin"}"#
    );
    assert!(serde_json::from_str::<Grant>(r#"{"role":"ingest","region":"Y56"}"#).is_err());
    assert_eq!(
        serde_json::to_string(&ReadScope::Establishment(est("RX1"))).unwrap(),
        r#"{"level":"establishment","code":"RX1"}"#
    );
    for g in [
        Grant::NationalAdmin,
        Grant::NationalAnalyst,
        Grant::RegionalAnalyst(region("Y56")),
        Grant::EstablishmentOfficer(est("RX1")),
        Grant::Ingest(est("RX1")),
    ] {
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Grant>(&json).unwrap(), g);
    }
    let bad = GrantRepr {
        role: Role::Ingest,
        region: Some(region("Y56")),
        establishment: None,
    };
    assert!(Grant::try_from(bad).is_err());
}

proptest! {
    // argon2 with its default costs takes a noticeable time per hash
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn hash_verify_round_trip(password in "\\PC{12,40}") {
        let h = hash_password(&password).unwrap();
        prop_assert!(verify_password(&password, &h));
        let mut other = password.clone();
        other.push('x');
        prop_assert!(!verify_password(&other, &h));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn verify_never_panics_on_arbitrary_hashes(hash in "\\PC{0,200}", password in "\\PC{0,40}") {
        // arbitrary strings are almost never valid PHC strings: cheap
        let _ = verify_password(&password, &hash);
    }

    #[test]
    fn verify_never_panics_on_mangled_phc(
        m in 0u32..100_000_000,
        t in 0u32..100,
        p in 0u32..100,
        salt in "[A-Za-z0-9+/]{0,30}",
        out in "[A-Za-z0-9+/]{0,60}",
        alg in prop::sample::select(vec!["argon2id", "argon2i", "argon2d", "scrypt", ""]),
    ) {
        // costs are kept tiny or out of bounds so the cases stay fast
        let m = if (64..=262_144).contains(&m) { 8 } else { m };
        let phc = format!("${alg}$v=19$m={m},t={t},p={p}${salt}${out}");
        let _ = verify_password("correct horse battery", &phc);
    }

    #[test]
    fn constant_time_eq_agrees_with_eq(a in prop::collection::vec(any::<u8>(), 0..40), b in prop::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(constant_time_eq(&a, &b), a == b);
        prop_assert!(constant_time_eq(&a, &a));
    }

    #[test]
    fn roles_parse_only_known_names(s in "[a-z_-]{0,24}") {
        if let Ok(r) = s.parse::<Role>() {
            prop_assert_eq!(r.as_str(), s.replace('_', "-"));
        }
    }
}
