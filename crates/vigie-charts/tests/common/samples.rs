//! Sample charts with realistic data, shared by the tests and the `samples` example.
#![allow(dead_code)]

use vigie_charts::{
    Axis, Burndown, LineChart, Series, Sparkline, StackedBars, ValueFormat, XAxis, days_from_civil,
};

/// A small deterministic pseudo-random generator.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub const REGIONS: [&str; 7] = [
    "London",
    "South East",
    "South West",
    "East of England",
    "Midlands",
    "North East & Yorkshire",
    "North West",
];

pub fn trend() -> LineChart {
    let d0 = days_from_civil(2026, 8, 24);
    let mut rng = Lcg(7);
    let series = REGIONS
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let start = 0.08 + 0.025 * i as f64;
            let mut v = start;
            let pts = (0..90)
                .map(|d| {
                    v = (v - 0.0006 * (1.0 + i as f64 * 0.3) + (rng.next_f64() - 0.5) * 0.004)
                        .max(0.0);
                    (d0 + d, v)
                })
                .collect();
            Series::new(*r, pts)
        })
        .collect();
    LineChart {
        title: "Hosts on an end-of-life OS, by region".into(),
        description:
            "Share of inventoried hosts running an operating system past its end of support, daily."
                .into(),
        x: XAxis::dates(""),
        y: Axis::new("Share of hosts", ValueFormat::Percent),
        series,
        width: 900,
        height: 420,
        y_min_zero: true,
        markers: vec![(
            days_from_civil(2026, 10, 14),
            "Windows 10 end of ESU year 1".into(),
        )],
    }
}

pub fn stacked() -> StackedBars {
    let mut rng = Lcg(11);
    let names = [
        "Critical (KEV)",
        "MS17-010 missing",
        "SMBv1 enabled",
        "End-of-life OS",
    ];
    let stacks = names
        .iter()
        .enumerate()
        .map(|(s, n)| {
            Series::new(
                *n,
                (0..REGIONS.len())
                    .map(|i| {
                        (
                            i as i64,
                            ((rng.next_f64() * 400.0 + 50.0) * (1.0 + s as f64 * 0.6)).round(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    StackedBars {
        title: "Open findings by region".into(),
        description: "Hosts with at least one finding of each rule, today.".into(),
        categories: REGIONS.iter().map(|s| s.to_string()).collect(),
        stacks,
        y: Axis::new("Hosts", ValueFormat::Count),
        width: 900,
        height: 420,
        horizontal: false,
    }
}

pub fn horizontal() -> StackedBars {
    let names = [
        "Guy's & St Thomas' NHS Foundation Trust",
        "Manchester University NHS Foundation Trust",
        "Leeds Teaching Hospitals NHS Trust",
        "Hôpital « Saint-Éloi » <Montpellier>",
        "Barts Health NHS Trust",
        "University Hospitals Birmingham NHS Foundation Trust",
        "Oxford University Hospitals NHS Foundation Trust",
        "Royal Cornwall Hospitals NHS Trust",
    ];
    let mut rng = Lcg(3);
    let stacks = ["End-of-life OS", "MS17-010 missing", "SMBv1 enabled"]
        .iter()
        .map(|n| {
            Series::new(
                *n,
                (0..names.len())
                    .map(|i| (i as i64, (rng.next_f64() * 0.12).max(0.002)))
                    .collect(),
            )
        })
        .collect();
    StackedBars {
        title: "Establishments most at risk".into(),
        description: "Share of each establishment's hosts affected, by rule.".into(),
        categories: names.iter().map(|s| s.to_string()).collect(),
        stacks,
        y: Axis::new("Share of hosts", ValueFormat::Percent),
        width: 900,
        height: 420,
        horizontal: true,
    }
}

pub fn burndown() -> Burndown {
    let d0 = days_from_civil(2026, 9, 1);
    let mut rng = Lcg(5);
    let mut v = 4_620.0;
    let remaining = (0..82)
        .map(|d| {
            v = (v - 28.0 - rng.next_f64() * 30.0 + if d % 7 == 3 { 60.0 } else { 0.0 }).max(0.0);
            (d0 + d, v.round())
        })
        .collect();
    Burndown {
        title: "Windows 7 migration, Midlands".into(),
        description: "Hosts still on Windows 7 against the plan to reach zero by the deadline."
            .into(),
        remaining,
        deadline: days_from_civil(2027, 1, 31),
        deadline_label: "Deadline".into(),
        target: 0.0,
        y: Axis::new("Hosts on Windows 7", ValueFormat::Count),
        width: 900,
        height: 420,
        projection: true,
    }
}

pub fn sparkline() -> Sparkline {
    let mut rng = Lcg(9);
    let mut v = 0.121;
    let values: Vec<f64> = (0..30)
        .map(|_| {
            v = (v - 0.0008 + (rng.next_f64() - 0.5) * 0.003f64).max(0.0);
            v
        })
        .collect();
    Sparkline {
        label: "os-eol share, last 30 days: 12.1 % → 9.8 %".into(),
        values,
        width: 160,
        height: 36,
        format: ValueFormat::Percent,
        ..Default::default()
    }
}

pub fn negative() -> LineChart {
    let d0 = days_from_civil(2026, 10, 1);
    let mut rng = Lcg(21);
    let net = (0..60)
        .map(|d| {
            (
                d0 + d,
                ((d as f64 / 9.0).sin() * 120.0 + (rng.next_f64() - 0.5) * 40.0).round(),
            )
        })
        .collect();
    LineChart {
        title: "Net change of vulnerable hosts per day".into(),
        description: "Hosts newly vulnerable minus hosts fixed, national.".into(),
        x: XAxis::dates(""),
        y: Axis::new("Hosts per day", ValueFormat::Count),
        series: vec![Series::new("Net change", net)],
        width: 900,
        height: 340,
        y_min_zero: true,
        markers: vec![],
    }
}

pub fn heat() -> vigie_charts::HeatGrid {
    let shares = [0.012, 0.034, 0.071, 0.16, 0.27, 0.41, 0.63, f64::NAN];
    let names = [
        "London",
        "South East",
        "South West",
        "East of England",
        "Midlands",
        "North East & Yorkshire",
        "North West",
        "Isle of Man (no inventory)",
    ];
    vigie_charts::HeatGrid {
        title: "End-of-life OS by region".into(),
        description: "Share of hosts on an end-of-life OS, today.".into(),
        cells: names
            .iter()
            .zip(shares)
            .map(|(n, v)| vigie_charts::HeatCell {
                label: n.to_string(),
                value: v,
                detail: if v.is_finite() {
                    format!("{} hosts", (v * 5000.0).round())
                } else {
                    String::new()
                },
            })
            .collect(),
        columns: 4,
        width: 900,
        format: ValueFormat::Percent,
    }
}

/// Every sample, by file stem.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("trend", trend().to_svg()),
        ("stacked", stacked().to_svg()),
        ("horizontal", horizontal().to_svg()),
        ("burndown", burndown().to_svg()),
        ("sparkline", sparkline().to_svg()),
        ("heat", heat().to_svg()),
        (
            "risk-legend",
            vigie_charts::risk_legend_svg("Share of hosts at risk", 900),
        ),
        (
            "empty",
            LineChart {
                title: "Nothing yet".into(),
                height: 200,
                ..Default::default()
            }
            .to_svg(),
        ),
        (
            "small",
            LineChart {
                width: 420,
                height: 260,
                ..trend()
            }
            .to_svg(),
        ),
        (
            "small-bars",
            StackedBars {
                width: 420,
                height: 300,
                ..stacked()
            }
            .to_svg(),
        ),
        ("negative", negative().to_svg()),
        (
            "single-point",
            LineChart {
                title: "Inventory freshness".into(),
                x: XAxis::dates("Day"),
                y: Axis::new("Median age", ValueFormat::Days),
                series: vec![Series::new(
                    "Median inventory age",
                    vec![(days_from_civil(2026, 11, 22), 3.5)],
                )],
                ..Default::default()
            }
            .to_svg(),
        ),
    ]
}
