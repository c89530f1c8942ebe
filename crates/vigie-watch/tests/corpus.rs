//! A labelled corpus: legitimate pages that change on every fetch (rotating
//! news, dates, counters, nonces, inline scripts) against defaced variants.
//! The rates measured here are recorded in docs/defacement.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use vigie_watch::deface::{Baseline, DEFAULT_BANNED, Verdict, normalize};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &'a [&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const NEWS: &[&str] = &[
    "Campagne de vaccination contre la grippe saisonnière",
    "Ouverture du nouveau service d'urgences pédiatriques",
    "Résultats de l'enquête de satisfaction des patients",
    "Recrutement d'infirmiers et d'aides-soignants",
    "Travaux dans le parking visiteurs du bâtiment B",
    "Semaine de la sécurité des patients",
    "Nouvelles modalités de prise de rendez-vous en ligne",
    "Don du sang : collecte exceptionnelle ce samedi",
    "Appel à projets en santé numérique",
    "Conférence sur la prévention du diabète",
    "Bilan annuel de l'activité de l'établissement",
    "Plan canicule : recommandations aux personnes fragiles",
];

struct Site {
    title: &'static str,
    heading: &'static str,
    intro: &'static str,
    menu: &'static [&'static str],
    cdn: &'static str,
}

const SITES: &[Site] = &[
    Site {
        title: "Ministère de la Santé et de la Prévention",
        heading: "Santé publique",
        intro: "Retrouvez les informations officielles sur la santé, la prévention et l'offre de soins en France.",
        menu: &[
            "Accueil",
            "Actualités",
            "Prévention",
            "Professionnels",
            "Contact",
        ],
        cdn: "https://static.sante.example.fr/js/site.js",
    },
    Site {
        title: "Agence régionale de santé Bretagne",
        heading: "ARS Bretagne",
        intro: "L'agence régionale de santé pilote la politique de santé publique et régule l'offre de santé en région.",
        menu: &[
            "Accueil",
            "Votre santé",
            "Établissements",
            "Appels à projets",
            "Presse",
        ],
        cdn: "https://cdn.ars.example.fr/app.js",
    },
    Site {
        title: "Centre hospitalier — prise de rendez-vous",
        heading: "Prendre rendez-vous",
        intro: "Choisissez une spécialité, un praticien et un créneau. Vous recevrez une confirmation par courriel.",
        menu: &["Spécialités", "Praticiens", "Mes rendez-vous", "Aide"],
        cdn: "https://rdv.ch.example.fr/static/booking.js",
    },
];

fn legit(site: &Site, rng: &mut Rng) -> String {
    let mut news = String::new();
    for _ in 0..3 {
        news.push_str(&format!(
            "<li><a href=\"/actu/{}\">{}</a> <span class=\"date\">{:02}/{:02}/2026</span></li>",
            rng.next() % 10_000,
            rng.pick(NEWS),
            1 + rng.next() % 28,
            1 + rng.next() % 12
        ));
    }
    let menu: String = site
        .menu
        .iter()
        .map(|m| format!("<li><a href=\"/{m}\">{m}</a></li>"))
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <script src=\"{cdn}\"></script><script>window.__nonce='{nonce:x}';var t={t};</script>\
         <style>.x{{color:#{c:06x}}}</style></head><body><header><nav><ul>{menu}</ul></nav></header>\
         <main><h1>{heading}</h1><p>{intro}</p><section><h2>Actualités</h2><ul>{news}</ul></section>\
         <p>Dernière mise à jour : {h:02}h{m:02}, {visits} visites aujourd'hui.</p>\
         <form><input type=\"hidden\" name=\"csrf\" value=\"{nonce:x}{t:x}\"><input name=\"q\"></form></main>\
         <footer><p>Mentions légales — Accessibilité — Données personnelles — Plan du site</p></footer></body></html>",
        title = site.title,
        cdn = site.cdn,
        nonce = rng.next(),
        t = rng.next() % 1_000_000,
        c = rng.next() % 0xffffff,
        menu = menu,
        heading = site.heading,
        intro = site.intro,
        news = news,
        h = rng.next() % 24,
        m = rng.next() % 60,
        visits = rng.next() % 50_000,
    )
}

/// Defaced variants, in the styles seen in the wild.
fn defaced(site: &Site, kind: usize, rng: &mut Rng) -> String {
    let crew = rng.pick(&[
        "Anonymous",
        "Team_X",
        "GhostSec",
        "Fallaga",
        "Kosova Hacker",
    ]);
    match kind {
        // full replacement, black page, banned phrase
        0 => format!(
            "<html><head><title>Hacked by {crew}</title></head><body style=\"background:#000\">\
             <center><h1>Hacked By {crew}</h1><p>Your security is low. Greetz to all brothers.</p>\
             <img src=\"https://imgur.example.com/flag.png\"></center></body></html>"
        ),
        // the real page with a banner injected and the title changed
        1 => legit(site, rng)
            .replacen("<title>", &format!("<title>Owned by {crew} | "), 1)
            .replacen(
                "<main>",
                &format!("<main><div><h1>Defaced by {crew}</h1><p>Free the internet. We were here.</p></div>"),
                1,
            )
            .replacen("<section>", "<!--", 1)
            .replacen("</section>", "-->", 1)
            .replacen(site.intro, "Ce site a été piraté par des militants. Vos données ne sont pas protégées.", 1),
        // political message, no banned words, new title
        2 => format!(
            "<html><head><title>Message au gouvernement</title></head><body><h1>Nous ne nous tairons pas</h1>\
             <p>Cette page a été remplacée pour protester contre la réforme. {crew} exige des réponses.</p>\
             <p>Les citoyens méritent la vérité sur la gestion de la crise sanitaire.</p></body></html>"
        ),
        // malicious frame and script from a new origin over a stripped page
        3 => format!(
            "<html><head><title>{title}</title><script src=\"https://evil-{n}.example.ru/miner.js\"></script></head>\
             <body><iframe src=\"https://phish-{n}.example.cn/login\" width=\"100%\" height=\"100%\"></iframe></body></html>",
            title = site.title,
            n = rng.next() % 1000
        ),
        // the page emptied to a one-liner
        _ => format!("<html><body><h1>pwned by {crew}</h1></body></html>"),
    }
}

#[test]
fn labelled_corpus_rates() {
    let mut rng = Rng(0x5eed_2014_0102);
    let (mut legit_total, mut legit_defaced, mut legit_changed) = (0u32, 0u32, 0u32);
    let (mut bad_total, mut bad_defaced, mut bad_flagged) = (0u32, 0u32, 0u32);
    for site in SITES {
        let baseline_pages: Vec<_> = (0..5).map(|_| normalize(&legit(site, &mut rng))).collect();
        let baseline = Baseline::learn(&baseline_pages);
        for _ in 0..200 {
            let a = baseline.assess(
                &normalize(&legit(site, &mut rng)),
                &[site.heading.to_string()],
                DEFAULT_BANNED,
            );
            legit_total += 1;
            match a.verdict {
                Verdict::Defaced => legit_defaced += 1,
                Verdict::Changed => legit_changed += 1,
                Verdict::Unchanged => {}
            }
        }
        for kind in 0..5 {
            for _ in 0..20 {
                let a = baseline.assess(
                    &normalize(&defaced(site, kind, &mut rng)),
                    &[site.heading.to_string()],
                    DEFAULT_BANNED,
                );
                bad_total += 1;
                if a.verdict == Verdict::Defaced {
                    bad_defaced += 1;
                }
                if a.verdict != Verdict::Unchanged {
                    bad_flagged += 1;
                }
            }
        }
    }
    let tpr = f64::from(bad_defaced) / f64::from(bad_total);
    let flagged = f64::from(bad_flagged) / f64::from(bad_total);
    let fpr = f64::from(legit_defaced) / f64::from(legit_total);
    let changed = f64::from(legit_changed) / f64::from(legit_total);
    println!(
        "legitimate fetches: {legit_total}, called defaced: {legit_defaced} ({:.1}%), called changed: {legit_changed} ({:.1}%)",
        fpr * 100.0,
        changed * 100.0
    );
    println!(
        "defaced pages: {bad_total}, called defaced: {bad_defaced} (TPR {:.1}%), flagged at all: {bad_flagged} ({:.1}%)",
        tpr * 100.0,
        flagged * 100.0
    );
    assert_eq!(legit_defaced, 0, "a legitimate page was called defaced");
    assert!(
        changed <= 0.02,
        "too many legitimate fetches called changed: {changed}"
    );
    assert!(tpr >= 0.95, "true-positive rate {tpr}");
    assert_eq!(
        bad_flagged, bad_total,
        "every defacement at least raises a change"
    );
}

#[test]
fn a_legitimate_redesign_is_a_change_and_rebaselining_accepts_it() {
    let mut rng = Rng(7);
    let site = &SITES[1];
    let baseline = Baseline::learn(
        &(0..5)
            .map(|_| normalize(&legit(site, &mut rng)))
            .collect::<Vec<_>>(),
    );
    let redesign = |rng: &mut Rng| {
        legit(site, rng)
            .replace("<header>", "<div class=\"top\"><div class=\"brand\"></div>")
            .replace("</header>", "</div>")
            .replace("<section>", "<article><div class=\"grid\">")
            .replace("</section>", "</div></article>")
            .replace(site.intro, "Bienvenue sur le nouveau site de l'agence. Découvrez nos missions, nos actions et nos publications.")
    };
    let a = baseline.assess(&normalize(&redesign(&mut rng)), &[], DEFAULT_BANNED);
    assert_ne!(a.verdict, Verdict::Defaced, "{a:?}");
    let rebased = Baseline::learn(
        &(0..5)
            .map(|_| normalize(&redesign(&mut rng)))
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        rebased
            .assess(&normalize(&redesign(&mut rng)), &[], DEFAULT_BANNED)
            .verdict,
        Verdict::Unchanged
    );
}
