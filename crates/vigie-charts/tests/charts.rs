#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::samples;
use common::xml::{check_chart, desc_text, parse, title_text};
use vigie_charts::{
    Axis, Burndown, HeatCell, HeatGrid, LineChart, Series, Sparkline, StackedBars, ValueFormat,
    XAxis, contrast_ratio, days_from_civil, risk_legend_svg, text_width,
};

const HOSTILE: &str = "<script>alert('x')</script> & \"Saint-Éloi\" <b>'CHU'</b> ]]> &amp;";

fn d(y: i64, m: u32, day: u32) -> i64 {
    days_from_civil(y, m, day)
}

fn line(series: Vec<Series>) -> LineChart {
    LineChart {
        title: "Trend".into(),
        description: "A trend.".into(),
        x: XAxis::dates("Day"),
        y: Axis::new("Share", ValueFormat::Percent),
        series,
        ..Default::default()
    }
}

fn bars(categories: &[&str], stacks: Vec<Series>, horizontal: bool) -> StackedBars {
    StackedBars {
        title: "Bars".into(),
        description: "Some bars.".into(),
        categories: categories.iter().map(|s| s.to_string()).collect(),
        stacks,
        y: Axis::new("Hosts", ValueFormat::Count),
        horizontal,
        ..Default::default()
    }
}

#[test]
fn every_sample_is_an_accessible_well_formed_svg() {
    for (name, svg) in samples::all() {
        let doc = check_chart(&svg);
        assert!(!title_text(&doc).is_empty(), "{name}");
        if name == "sparkline" {
            assert!(doc.root().attr("width").is_some_and(|w| w != "100%"));
            assert!(doc.root().attr("height").is_some());
        } else {
            assert_eq!(doc.root().attr("width"), Some("100%"), "{name}");
        }
    }
}

#[test]
fn line_chart_structure_and_desc() {
    let a = Series::new(
        "London",
        vec![
            (d(2026, 11, 2), 0.121),
            (d(2026, 11, 3), 0.11),
            (d(2026, 12, 1), 0.098),
        ],
    );
    let b = Series::new(
        "North West",
        vec![(d(2026, 11, 2), 0.2), (d(2026, 12, 1), 0.15)],
    );
    let c = Series::new("Midlands", vec![(d(2026, 11, 5), 0.05)]);
    let mut chart = line(vec![a, b, c]);
    chart.markers = vec![(d(2026, 11, 20), "Deadline".into())];
    let svg = chart.to_svg();
    let doc = check_chart(&svg);
    assert_eq!(doc.with_class("path", "vc-series").len(), 3);
    assert_eq!(doc.with_class("path", "vc-points").len(), 3);
    assert_eq!(doc.in_group("line", "vc-legend").len(), 3);
    assert_eq!(doc.with_class("line", "vc-marker").len(), 1);
    let texts = doc.texts();
    for name in [
        "London",
        "North West",
        "Midlands",
        "Trend",
        "Share",
        "Day",
        "Deadline",
    ] {
        assert!(texts.iter().any(|t| t == name), "{name} in {texts:?}");
    }
    // Key values in the description.
    let desc = desc_text(&doc);
    assert!(desc.starts_with("A trend."));
    assert!(
        desc.contains("London: 12.1 % on 2026-11-02 → 9.8 % on 2026-12-01"),
        "{desc}"
    );
    assert!(desc.contains("Midlands: 5 % on 2026-11-05."), "{desc}");
    assert!(desc.contains("Deadline: 2026-11-20."), "{desc}");
    // Dash patterns differ between series.
    let dashes: Vec<Option<&str>> = doc
        .with_class("path", "vc-series")
        .iter()
        .map(|e| e.attr("stroke-dasharray"))
        .collect();
    assert_eq!(dashes[0], None);
    assert!(dashes[1].is_some() && dashes[2].is_some() && dashes[1] != dashes[2]);
    // Percent ticks and ISO dates.
    assert!(texts.iter().any(|t| t == "0 %"));
    assert!(texts.iter().any(|t| t.starts_with("2026-11")));
}

#[test]
fn date_tick_labels_do_not_overlap() {
    for (days, width) in [
        (3, 320),
        (30, 400),
        (90, 800),
        (400, 600),
        (3000, 500),
        (30, 1600),
    ] {
        let s = Series::new(
            "s",
            (0..=days).map(|i| (d(2026, 1, 1) + i, i as f64)).collect(),
        );
        let mut chart = line(vec![s]);
        chart.width = width;
        let doc = check_chart(&chart.to_svg());
        let mut spans: Vec<(f64, f64)> = doc
            .in_group("text", "vc-xticks")
            .iter()
            .map(|t| {
                let w = text_width(&t.text, 11.5);
                (t.num("x") - w / 2.0, t.num("x") + w / 2.0)
            })
            .collect();
        assert!(!spans.is_empty());
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for p in spans.windows(2) {
            assert!(p[0].1 <= p[1].0, "{days} days at {width}: {spans:?}");
        }
    }
}

#[test]
fn twelve_series_legend_does_not_overlap() {
    let series: Vec<Series> = (0..12)
        .map(|i| {
            Series::new(
                format!("Centre hospitalier régional n°{i}"),
                vec![(1, i as f64), (2, i as f64 + 1.0)],
            )
        })
        .collect();
    let chart = LineChart {
        title: "Twelve".into(),
        x: XAxis::numbers("Week", ValueFormat::Count),
        series,
        ..Default::default()
    };
    let doc = check_chart(&chart.to_svg());
    let items = doc.in_group("text", "vc-legend");
    assert_eq!(items.len(), 12);
    let mut rows: std::collections::BTreeMap<i64, Vec<(f64, f64)>> = Default::default();
    for t in &items {
        let x = t.num("x");
        rows.entry(t.num("y") as i64)
            .or_default()
            .push((x - 32.0, x + text_width(&t.text, 12.0)));
        assert!(
            x + text_width(&t.text, 12.0) <= 800.0,
            "legend inside the chart"
        );
    }
    assert!(rows.len() > 1, "wrapped into rows");
    for spans in rows.values() {
        for p in spans.windows(2) {
            assert!(p[0].1 <= p[1].0, "{spans:?}");
        }
    }
    // End labels are pushed at least 14 px apart.
    let mut ys: Vec<f64> = doc
        .in_group("text", "vc-endlabels")
        .iter()
        .map(|t| t.num("y"))
        .collect();
    assert_eq!(ys.len(), 12);
    ys.sort_by(f64::total_cmp);
    assert!(ys.windows(2).all(|w| w[1] - w[0] >= 13.9), "{ys:?}");
}

#[test]
fn stacked_bars_structure() {
    let a = Series::new(
        "EOL",
        vec![(0, 10.0), (1, 20.0), (2, 5.0), (7, 99.0), (-1, 3.0)],
    );
    let b = Series::new(
        "SMBv1",
        vec![(0, 1.0), (1, 0.0), (2, 2.0), (2, 1.0), (0, f64::NAN)],
    );
    for horizontal in [false, true] {
        let chart = bars(
            &["North & East", "South", "West"],
            vec![a.clone(), b.clone()],
            horizontal,
        );
        let svg = chart.to_svg();
        let doc = check_chart(&svg);
        // 3 + 2 segments (a zero value draws nothing), one title per segment.
        assert_eq!(
            doc.with_class("rect", "vc-seg").len(),
            5,
            "horizontal={horizontal}"
        );
        assert_eq!(doc.with_class("rect", "vc-s0").len(), 3);
        assert_eq!(doc.with_class("rect", "vc-s1").len(), 2);
        let totals: Vec<String> = doc
            .with_class("text", "vc-total")
            .iter()
            .map(|t| t.text.clone())
            .collect();
        assert_eq!(totals, vec!["11", "20", "8"]);
        assert_eq!(doc.in_group("rect", "vc-legend").len(), 2);
        let desc = desc_text(&doc);
        assert!(
            desc.contains("North & East: EOL 10, SMBv1 1 (total 11)."),
            "{desc}"
        );
        assert!(desc.contains("West: EOL 5, SMBv1 3 (total 8)."), "{desc}");
        let texts = doc.texts();
        assert!(texts.iter().any(|t| t == "North & East" || t == "North &"));
    }
}

#[test]
fn stacked_bars_with_negative_values_stack_below_zero() {
    let a = Series::new("in", vec![(0, 10.0), (1, 5.0)]);
    let b = Series::new("out", vec![(0, -4.0), (1, -8.0)]);
    let doc = check_chart(&bars(&["A", "B"], vec![a, b], false).to_svg());
    let segs = doc.with_class("rect", "vc-seg");
    assert_eq!(segs.len(), 4);
    assert!(
        doc.texts().iter().any(|t| t.starts_with('-')),
        "negative ticks"
    );
    // Positive segments sit above negative ones.
    let y_in = segs
        .iter()
        .filter(|r| r.has_class("vc-s0"))
        .map(|r| r.num("y") + r.num("height"))
        .fold(0.0, f64::max);
    let y_out = segs
        .iter()
        .filter(|r| r.has_class("vc-s1"))
        .map(|r| r.num("y"))
        .fold(f64::INFINITY, f64::min);
    assert!((y_in - y_out).abs() < 0.2, "{y_in} {y_out}");
}

#[test]
fn many_categories_do_not_overlap_labels() {
    let names: Vec<String> = (0..12)
        .map(|i| format!("Groupement hospitalier de territoire {i}"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let s = Series::new("x", (0..12).map(|i| (i, (i * 10) as f64)).collect());
    for horizontal in [false, true] {
        let doc = check_chart(&bars(&refs, vec![s.clone()], horizontal).to_svg());
        let labels = doc.in_group("text", "vc-categories");
        assert!(!labels.is_empty());
        if horizontal {
            let mut ys: Vec<f64> = labels.iter().map(|t| t.num("y")).collect();
            ys.sort_by(f64::total_cmp);
            assert!(ys.windows(2).all(|w| w[1] - w[0] >= 13.0), "{ys:?}");
            assert!(
                labels
                    .iter()
                    .all(|t| t.num("x") - text_width(&t.text, 11.5) >= 0.0)
            );
        } else {
            // Slanted labels: baselines at least a line apart horizontally.
            let mut xs: Vec<f64> = labels.iter().map(|t| t.num("x")).collect();
            xs.sort_by(f64::total_cmp);
            assert!(xs.windows(2).all(|w| w[1] - w[0] >= 14.0), "{xs:?}");
        }
    }
}

#[test]
fn hostile_text_is_escaped_everywhere() {
    let s = Series::new(HOSTILE, vec![(1, 1.0), (2, 2.0)]).with_color("red\" onload=\"alert(1)");
    let charts = vec![
        LineChart {
            title: HOSTILE.into(),
            description: HOSTILE.into(),
            x: XAxis::numbers(HOSTILE, ValueFormat::Count),
            y: Axis::new(HOSTILE, ValueFormat::Count),
            series: vec![s.clone()],
            markers: vec![(1, HOSTILE.into())],
            ..Default::default()
        }
        .to_svg(),
        StackedBars {
            title: HOSTILE.into(),
            description: HOSTILE.into(),
            categories: vec![HOSTILE.into(), "ok".into()],
            stacks: vec![s.clone()],
            y: Axis::new(HOSTILE, ValueFormat::Count),
            ..Default::default()
        }
        .to_svg(),
        StackedBars {
            title: HOSTILE.into(),
            categories: vec![HOSTILE.into(), "ok".into()],
            stacks: vec![s.clone()],
            horizontal: true,
            ..Default::default()
        }
        .to_svg(),
        Burndown {
            title: HOSTILE.into(),
            description: HOSTILE.into(),
            remaining: vec![(1, 10.0), (2, 8.0)],
            deadline: 10,
            deadline_label: HOSTILE.into(),
            y: Axis::new(HOSTILE, ValueFormat::Count),
            ..Default::default()
        }
        .to_svg(),
        Sparkline {
            values: vec![1.0, 2.0],
            label: HOSTILE.into(),
            color: Some("url(#evil)".into()),
            ..Default::default()
        }
        .to_svg(),
        risk_legend_svg(HOSTILE, 600),
    ];
    for svg in charts {
        assert!(
            !svg.contains("<script") && !svg.contains("<b>") && !svg.contains("onload=\""),
            "{svg}"
        );
        assert!(!svg.contains("url(#evil)"));
        let doc = check_chart(&svg);
        assert_eq!(title_text(&doc), HOSTILE);
    }
    let table = LineChart {
        title: HOSTILE.into(),
        x: XAxis::numbers(HOSTILE, ValueFormat::Count),
        series: vec![s.clone()],
        ..Default::default()
    }
    .data_table_html();
    assert!(!table.contains("<script") && !table.contains("<b>"));
    let doc = parse(&table);
    assert_eq!(doc.root().name, "table");
    assert_eq!(doc.all("caption")[0].text, HOSTILE);
}

fn edge_series() -> Vec<Vec<(i64, f64)>> {
    vec![
        vec![],
        vec![(5, 1.0)],
        vec![(1, 0.0), (2, 0.0), (3, 0.0)],
        vec![(1, f64::NAN), (2, f64::INFINITY), (3, f64::NEG_INFINITY)],
        vec![(1, f64::NAN), (2, 3.0), (3, f64::INFINITY), (4, 5.0)],
        vec![(1, -5.0), (2, -1.0), (3, -10.0)],
        vec![(1, -1e300), (2, 1e300), (3, f64::MAX), (4, f64::MIN)],
        vec![(1, 1e-300), (2, 2e-300)],
        vec![(i64::MIN, 1.0), (i64::MAX, 2.0), (0, 3.0)],
        vec![(3, 1.0), (1, 2.0), (2, 3.0), (2, 4.0)],
        (0..10_000)
            .map(|i| (i, ((i as f64) / 50.0).sin() * 100.0))
            .collect(),
    ]
}

#[test]
fn edge_cases_never_panic_and_stay_valid() {
    for pts in edge_series() {
        let valid = pts.iter().any(|p| p.1.is_finite());
        for (x, zero) in [
            (XAxis::dates(""), true),
            (XAxis::numbers("n", ValueFormat::Days), false),
        ] {
            for (w, h) in [(800, 360), (0, 0), (u32::MAX, u32::MAX), (161, 101)] {
                let chart = LineChart {
                    title: "Edge".into(),
                    x: x.clone(),
                    series: vec![
                        Series::new("s", pts.clone()),
                        Series::new("t", pts.iter().map(|p| (p.0, p.1 * 2.0)).collect()),
                    ],
                    width: w,
                    height: h,
                    y_min_zero: zero,
                    markers: vec![(2, "m".into()), (i64::MAX, "far".into())],
                    ..Default::default()
                };
                let svg = chart.to_svg();
                let doc = check_chart(&svg);
                assert_eq!(doc.texts().iter().any(|t| t == "No data"), !valid);
                assert!(svg.len() < 400_000, "compact: {} bytes", svg.len());
            }
        }
        let b = Burndown {
            remaining: pts.clone(),
            deadline: 20,
            ..Default::default()
        };
        let doc = check_chart(&b.to_svg());
        assert_eq!(doc.texts().iter().any(|t| t == "No data"), !valid);
        parse(&b.data_table_html());

        let cats: Vec<String> = (0..3).map(|i| format!("c{i}")).collect();
        let bars = StackedBars {
            title: "Edge".into(),
            categories: cats,
            stacks: vec![Series::new("s", pts.clone())],
            ..Default::default()
        };
        check_chart(&bars.to_svg());
        parse(&bars.data_table_html());
        let sp = Sparkline {
            values: pts.iter().map(|p| p.1).collect(),
            ..Default::default()
        };
        let doc = check_chart(&sp.to_svg());
        assert_eq!(doc.texts().iter().any(|t| t == "No data"), !valid);
        parse(&sp.data_table_html());
    }
    // Empty bars in every way.
    for chart in [
        StackedBars::default(),
        bars(&["a", "b"], vec![], false),
        bars(&[], vec![Series::new("s", vec![(0, 1.0)])], true),
        bars(
            &["a"],
            vec![Series::new("s", vec![(0, f64::NAN), (5, 1.0)])],
            false,
        ),
    ] {
        let doc = check_chart(&chart.to_svg());
        assert!(doc.texts().iter().any(|t| t == "No data"));
    }
    // All-zero bars still draw an axis and zero totals.
    let doc = check_chart(
        &bars(
            &["a", "b"],
            vec![Series::new("s", vec![(0, 0.0), (1, 0.0)])],
            false,
        )
        .to_svg(),
    );
    assert!(doc.with_class("rect", "vc-seg").is_empty());
    assert_eq!(doc.with_class("text", "vc-total").len(), 2);
}

#[test]
fn thousands_of_points_are_reduced_but_keep_peaks() {
    let mut pts: Vec<(i64, f64)> = (0..20_000).map(|i| (i, 10.0)).collect();
    pts[12_345].1 = 1000.0;
    let svg = line(vec![Series::new("dense", pts)]).to_svg();
    assert!(svg.len() < 60_000, "{} bytes", svg.len());
    let doc = check_chart(&svg);
    let path = doc.with_class("path", "vc-series")[0]
        .attr("d")
        .unwrap()
        .to_string();
    // The peak survives: some point of the path is near the top of the plot.
    let ys: Vec<f64> = path
        .split(['M', 'L'])
        .filter(|s| !s.is_empty())
        .map(|p| p.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    let min = ys.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(max - min > 100.0, "{min} {max}");
}

#[test]
fn output_is_deterministic_and_ids_differ_between_charts() {
    let a = samples::trend();
    assert_eq!(a.to_svg(), a.to_svg());
    let mut b = a.clone();
    b.series.truncate(2);
    let ida = parse(&a.to_svg())
        .root()
        .attr("aria-labelledby")
        .unwrap()
        .to_string();
    let idb = parse(&b.to_svg())
        .root()
        .attr("aria-labelledby")
        .unwrap()
        .to_string();
    assert_ne!(ida, idb);
    assert_eq!(samples::burndown().to_svg(), samples::burndown().to_svg());
    assert_eq!(samples::stacked().to_svg(), samples::stacked().to_svg());
}

#[test]
fn burndown_structure() {
    let b = samples::burndown();
    let doc = check_chart(&b.to_svg());
    assert_eq!(doc.with_class("path", "vc-remaining").len(), 1);
    assert_eq!(doc.with_class("path", "vc-ideal").len(), 1);
    assert_eq!(doc.with_class("path", "vc-projection").len(), 1);
    assert_eq!(doc.with_class("path", "vc-area").len(), 1);
    assert_eq!(doc.with_class("line", "vc-marker").len(), 1);
    assert!(
        doc.texts()
            .iter()
            .any(|t| t.contains("Deadline 2027-01-31"))
    );
    let sub = &doc.with_class("text", "vc-subtitle")[0].text;
    assert!(sub.contains("remaining on 2026-11-21"), "{sub}");
    assert!(desc_text(&doc).contains(sub.as_str()));
    let table = parse(&b.data_table_html());
    assert_eq!(table.all("tr").len(), 1 + 82);
}

#[test]
fn data_tables_carry_the_numbers() {
    let a = Series::new(
        "A & B",
        vec![(d(2026, 11, 2), 0.121), (d(2026, 11, 3), 0.1)],
    );
    let b = Series::new("C", vec![(d(2026, 11, 3), 0.5), (d(2026, 11, 4), f64::NAN)]);
    let html = line(vec![a, b]).data_table_html();
    let doc = parse(&html);
    assert_eq!(doc.all("tr").len(), 3);
    let cells: Vec<String> = doc.all("td").iter().map(|e| e.text.clone()).collect();
    assert_eq!(cells, vec!["12.1 %", "—", "10 %", "50 %"]);
    assert_eq!(
        doc.all("th")
            .iter()
            .filter(|e| e.attr("scope") == Some("col"))
            .count(),
        3
    );
    assert!(html.contains("A &amp; B"));

    let t = parse(&samples::stacked().data_table_html());
    assert_eq!(t.all("tr").len(), 1 + 7);
    let t = parse(&samples::sparkline().data_table_html());
    assert_eq!(t.all("tr").len(), 1 + 30);
}

#[test]
fn sparkline_structure() {
    let s = samples::sparkline();
    let doc = check_chart(&s.to_svg());
    assert_eq!(doc.with_class("path", "vc-series").len(), 1);
    assert_eq!(doc.all("circle").len(), 1);
    assert_eq!(title_text(&doc), s.label);
    assert!(desc_text(&doc).contains("→"));
    let one = Sparkline {
        values: vec![f64::NAN, 3.0],
        ..Default::default()
    };
    check_chart(&one.to_svg());
}

#[test]
fn writes_samples_for_inspection() {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("vigie-charts"));
    let dir = base.join("chart-samples");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, svg) in samples::all() {
        std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
    }
}

#[test]
fn heat_grid_tiles_are_readable() {
    let g = samples::heat();
    let doc = check_chart(&g.to_svg());
    let tiles = doc.with_class("rect", "vc-tile");
    assert_eq!(tiles.len(), 8);
    // Text on each tile contrasts with it (WCAG AA).
    let values = doc.with_class("text", "vc-tile-value");
    for (t, v) in tiles.iter().zip(&values) {
        let ratio = contrast_ratio(t.attr("fill").unwrap(), v.attr("fill").unwrap()).unwrap();
        assert!(ratio >= 4.5, "{ratio}");
    }
    assert_eq!(values[0].text, "1.2 %");
    assert_eq!(values[7].text, "no data");
    let desc = desc_text(&doc);
    assert!(
        desc.contains("North East & Yorkshire: 41 %, band 35–50 % (2050 hosts)."),
        "{desc}"
    );
    assert_eq!(parse(&g.data_table_html()).all("tr").len(), 1 + 8);

    let empty = HeatGrid {
        title: HOSTILE.into(),
        ..Default::default()
    };
    let doc = check_chart(&empty.to_svg());
    assert!(doc.texts().iter().any(|t| t == "No data"));
    let one = HeatGrid {
        cells: vec![HeatCell {
            label: HOSTILE.into(),
            value: f64::INFINITY,
            detail: HOSTILE.into(),
        }],
        columns: 0,
        width: 0,
        ..Default::default()
    };
    let svg = one.to_svg();
    assert!(!svg.contains("<script"));
    check_chart(&svg);
}
