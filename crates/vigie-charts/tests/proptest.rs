#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::xml::check_chart;
use proptest::prelude::*;
use vigie_charts::{
    Axis, Burndown, HeatCell, HeatGrid, LineChart, Series, Sparkline, StackedBars, ValueFormat,
    XAxis,
};

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e6f64..1e6,
        2 => 0.0f64..1.0,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN_POSITIVE),
        1 => any::<f64>(),
    ]
}

fn x() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 19_000i64..22_000, 1 => any::<i64>(), 1 => -5i64..5]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,40}",
        1 => any::<String>(),
        1 => Just("<script>alert(1)</script> & \"'".to_string()),
    ]
}

fn series() -> impl Strategy<Value = Series> {
    (
        text(),
        prop::collection::vec((x(), value()), 0..60),
        prop::option::of(text()),
    )
        .prop_map(|(name, points, color)| Series {
            name,
            points,
            color,
        })
}

fn format() -> impl Strategy<Value = ValueFormat> {
    prop_oneof![
        Just(ValueFormat::Count),
        Just(ValueFormat::Percent),
        Just(ValueFormat::Days)
    ]
}

fn size() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 100u32..1600, 1 => any::<u32>()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn line_charts_always_parse(
        title in text(),
        ser in prop::collection::vec(series(), 0..14),
        fmt in format(),
        dates in any::<bool>(),
        zero in any::<bool>(),
        w in size(),
        h in size(),
        markers in prop::collection::vec((x(), text()), 0..4),
    ) {
        let chart = LineChart {
            title: title.clone(),
            description: title,
            x: if dates { XAxis::dates("") } else { XAxis::numbers("x", fmt) },
            y: Axis::new("y", fmt),
            series: ser,
            width: w,
            height: h,
            y_min_zero: zero,
            markers,
        };
        let svg = chart.to_svg();
        check_chart(&svg);
        prop_assert_eq!(&svg, &chart.to_svg());
        common::xml::parse(&chart.data_table_html());
    }

    #[test]
    fn stacked_bars_always_parse(
        title in text(),
        cats in prop::collection::vec(text(), 0..16),
        ser in prop::collection::vec(series().prop_map(|mut s| {
            for p in &mut s.points { p.0 = p.0.rem_euclid(20) - 2; }
            s
        }), 0..6),
        fmt in format(),
        horizontal in any::<bool>(),
        w in size(),
        h in size(),
    ) {
        let chart = StackedBars { title, description: String::new(), categories: cats, stacks: ser, y: Axis::new("v", fmt), width: w, height: h, horizontal };
        check_chart(&chart.to_svg());
        common::xml::parse(&chart.data_table_html());
    }

    #[test]
    fn burndowns_and_sparklines_always_parse(
        pts in prop::collection::vec((x(), value()), 0..80),
        deadline in x(),
        target in value(),
        label in text(),
        w in size(),
        h in size(),
    ) {
        let b = Burndown { title: label.clone(), remaining: pts.clone(), deadline, target, deadline_label: label.clone(), width: w, height: h, ..Default::default() };
        check_chart(&b.to_svg());
        common::xml::parse(&b.data_table_html());
        let g = HeatGrid {
            title: label.clone(),
            cells: pts.iter().map(|p| HeatCell { label: label.clone(), value: p.1, detail: label.clone() }).collect(),
            columns: h % 9,
            width: w,
            ..Default::default()
        };
        check_chart(&g.to_svg());
        common::xml::parse(&g.data_table_html());
        let s = Sparkline { values: pts.iter().map(|p| p.1).collect(), label, width: w, height: h, ..Default::default() };
        check_chart(&s.to_svg());
        common::xml::parse(&s.data_table_html());
    }
}
