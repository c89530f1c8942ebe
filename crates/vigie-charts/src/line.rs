//! Trend lines and burndowns.

use crate::format::{Axis, MAX_DAY, ValueFormat, XAxis, format_date};
use crate::palette::{dash, line_color, sanitize_color};
use crate::table::series_table_html;
use crate::xy::{Line, XyChart, clean_points, series_summary};

/// A named series of points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    /// (x, value): x is a day number (days since 1970-01-01) on a date axis,
    /// a plain number otherwise, or a category index in stacked bars.
    /// Non-finite values are skipped.
    pub points: Vec<(i64, f64)>,
    /// A CSS colour (`#rrggbb`…); the palette colour of its rank when `None`
    /// or not a plain colour.
    pub color: Option<String>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(i64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
            color: None,
        }
    }

    pub fn with_color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }
}

/// A line chart: one line per series, over dates or numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    /// What the chart shows, in a sentence; starts the `<desc>`.
    pub description: String,
    pub x: XAxis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// Size of the drawing (the `viewBox`); the SVG scales to its container.
    pub width: u32,
    pub height: u32,
    /// Start the value axis at zero (or below when values are negative).
    pub y_min_zero: bool,
    /// Vertical annotations (x, label), e.g. a deadline.
    pub markers: Vec<(i64, String)>,
}

impl Default for LineChart {
    fn default() -> Self {
        LineChart {
            title: String::new(),
            description: String::new(),
            x: XAxis::default(),
            y: Axis::default(),
            series: Vec::new(),
            width: 800,
            height: 360,
            y_min_zero: true,
            markers: Vec::new(),
        }
    }
}

fn desc_text(description: &str, parts: &[String]) -> String {
    let mut d = description.trim().to_string();
    for p in parts {
        if !d.is_empty() {
            d.push(' ');
        }
        d.push_str(p);
    }
    d
}

impl LineChart {
    /// The chart as a standalone SVG document (also valid inline in HTML).
    pub fn to_svg(&self) -> String {
        let dates = matches!(self.x, XAxis::Dates { .. });
        let mut parts = Vec::new();
        let mut lines = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let pts = clean_points(&s.points, dates);
            parts.push(series_summary(&s.name, &pts, &self.x, &self.y));
            lines.push(Line {
                name: s.name.clone(),
                color: s
                    .color
                    .as_deref()
                    .and_then(sanitize_color)
                    .unwrap_or_else(|| line_color(i).to_string()),
                dash: dash(i),
                stroke_width: 2.25,
                shape: i,
                points: pts,
                area: false,
                end_label: self.series.len() <= 12,
                point_markers: true,
                class: format!("vc-s{i}"),
            });
        }
        if lines.iter().all(|l| l.points.is_empty()) {
            parts.push("No data.".to_string());
        }
        for (x, label) in &self.markers {
            let label = if label.is_empty() { "Marker" } else { label };
            parts.push(format!("{label}: {}.", self.x.format(*x)));
        }
        XyChart {
            title: &self.title,
            desc: desc_text(&self.description, &parts),
            subtitle: None,
            x: &self.x,
            y: &self.y,
            lines,
            width: self.width,
            height: self.height,
            y_min_zero: self.y_min_zero,
            markers: self.markers.clone(),
            class: "vc-line-chart",
        }
        .render()
    }

    /// The same numbers as an HTML `<table>` (for screen readers and print).
    pub fn data_table_html(&self) -> String {
        series_table_html(&self.title, &self.x, &self.y, &self.series)
    }
}

/// Remaining work against the ideal line to a deadline, with the projection
/// of the recent pace.
#[derive(Debug, Clone, PartialEq)]
pub struct Burndown {
    pub title: String,
    pub description: String,
    /// (day number, remaining count), e.g. hosts still on an end-of-life OS.
    pub remaining: Vec<(i64, f64)>,
    /// Day number of the deadline.
    pub deadline: i64,
    /// Label of the deadline marker ("Deadline" when empty).
    pub deadline_label: String,
    /// Remaining count to reach by the deadline (usually 0).
    pub target: f64,
    pub y: Axis,
    pub width: u32,
    pub height: u32,
    /// Draw the projection of the recent pace (least squares over the last
    /// 14 points) until the target is reached.
    pub projection: bool,
}

impl Default for Burndown {
    fn default() -> Self {
        Burndown {
            title: String::new(),
            description: String::new(),
            remaining: Vec::new(),
            deadline: 0,
            deadline_label: String::new(),
            target: 0.0,
            y: Axis::new("Remaining", ValueFormat::Count),
            width: 800,
            height: 360,
            projection: true,
        }
    }
}

/// Where a burndown stands.
#[derive(Debug, Clone, PartialEq)]
pub struct BurndownStatus {
    /// Last day and remaining count.
    pub last: (i64, f64),
    /// Value of the ideal line on the last day.
    pub ideal: Option<f64>,
    /// Change per day over the recent points (negative when burning down).
    pub pace_per_day: Option<f64>,
    /// Day on which the target is (or was) reached at the recent pace.
    pub projected_completion: Option<i64>,
}

impl Burndown {
    fn points(&self) -> Vec<(i64, f64)> {
        clean_points(&self.remaining, true)
    }

    fn target(&self) -> f64 {
        if self.target.is_finite() {
            self.target
        } else {
            0.0
        }
    }

    fn deadline(&self) -> i64 {
        self.deadline.clamp(-MAX_DAY, MAX_DAY)
    }

    /// Ideal remaining count on `day`: a straight line from the first point
    /// to the target on the deadline.
    pub fn ideal_at(&self, day: i64) -> Option<f64> {
        let pts = self.points();
        let &(d0, v0) = pts.first()?;
        let dl = self.deadline();
        if dl <= d0 {
            return None;
        }
        let day = day.clamp(d0, dl);
        Some(v0 + (self.target() - v0) * (day - d0) as f64 / (dl - d0) as f64)
    }

    /// Where the burndown stands (`None` without data).
    pub fn status(&self) -> Option<BurndownStatus> {
        let pts = self.points();
        let &last = pts.last()?;
        let target = self.target();
        let recent = &pts[pts.len().saturating_sub(14)..];
        let pace = slope(recent);
        let projected_completion = if last.1 <= target {
            pts.iter().find(|p| p.1 <= target).map(|p| p.0)
        } else {
            match pace {
                Some(s) if s < 0.0 => {
                    let days = ((last.1 - target) / -s).ceil();
                    if days.is_finite() && days < MAX_DAY as f64 {
                        Some((last.0 + days as i64).min(MAX_DAY))
                    } else {
                        None
                    }
                }
                _ => None,
            }
        };
        Some(BurndownStatus {
            last,
            ideal: self.ideal_at(last.0),
            pace_per_day: pace,
            projected_completion,
        })
    }

    /// Day on which the target is reached at the recent pace, if it ever is.
    pub fn projected_completion(&self) -> Option<i64> {
        self.status().and_then(|s| s.projected_completion)
    }

    /// One line saying where things stand, e.g. "412 remaining on 2026-11-20 ·
    /// ideal 300 · at this pace, done on 2027-01-15 (23 days after the deadline)".
    pub fn status_text(&self) -> String {
        let Some(st) = self.status() else {
            return "No data".to_string();
        };
        let f = |v: f64| self.y.format.format(v);
        let mut s = format!("{} remaining on {}", f(st.last.1), format_date(st.last.0));
        if let Some(ideal) = st.ideal {
            s.push_str(&format!(" · ideal {}", f(ideal)));
        }
        let dl = self.deadline();
        match (st.projected_completion, st.last.1 <= self.target()) {
            (Some(d), true) => s.push_str(&format!(" · target reached on {}", format_date(d))),
            (Some(d), false) => {
                let diff = d - dl;
                let when = if diff > 0 {
                    format!("{} after the deadline", plural_days(diff))
                } else if diff < 0 {
                    format!("{} before the deadline", plural_days(-diff))
                } else {
                    "on the deadline".to_string()
                };
                s.push_str(&format!(
                    " · at this pace, done on {} ({when})",
                    format_date(d)
                ));
            }
            (None, _) => s.push_str(" · not decreasing at the recent pace"),
        }
        s
    }

    pub fn to_svg(&self) -> String {
        let pts = self.points();
        let x = XAxis::dates("");
        let dl = self.deadline();
        let target = self.target();
        let mut lines = Vec::new();
        let mut parts = vec![series_summary("Remaining", &pts, &x, &self.y)];
        let mut subtitle = None;
        if let (Some(&(d0, v0)), Some(&(dn, vn))) = (pts.first(), pts.last()) {
            lines.push(Line {
                name: "Remaining".to_string(),
                color: "#0072B2".to_string(),
                dash: "",
                stroke_width: 2.5,
                shape: 0,
                points: pts.clone(),
                area: true,
                end_label: true,
                point_markers: true,
                class: "vc-remaining".to_string(),
            });
            if dl > d0 {
                lines.push(Line {
                    name: "Ideal".to_string(),
                    color: "#6b7280".to_string(),
                    dash: "7 5",
                    stroke_width: 1.75,
                    shape: 0,
                    points: vec![(d0, v0), (dl, target)],
                    area: false,
                    end_label: false,
                    point_markers: false,
                    class: "vc-ideal".to_string(),
                });
            }
            let status = self.status();
            if self.projection
                && vn > target
                && let Some(st) = &status
                && let Some(pace) = st.pace_per_day
                && pace < 0.0
            {
                let horizon = dl.max(dn) + ((dl.max(dn) - d0) / 2).max(7);
                let end = st.projected_completion.unwrap_or(horizon).min(horizon);
                let end_v = (vn + pace * (end - dn) as f64).max(target);
                if end > dn {
                    lines.push(Line {
                        name: "Projection".to_string(),
                        color: "#D55E00".to_string(),
                        dash: "2 4",
                        stroke_width: 2.25,
                        shape: 1,
                        points: vec![(dn, vn), (end, end_v)],
                        area: false,
                        end_label: false,
                        point_markers: false,
                        class: "vc-projection".to_string(),
                    });
                }
            }
            let text = self.status_text();
            parts.push(format!("{text}."));
            subtitle = Some(text);
        } else {
            parts.push("No data.".to_string());
        }
        let label = if self.deadline_label.is_empty() {
            "Deadline"
        } else {
            self.deadline_label.as_str()
        };
        parts.push(format!("{label}: {}.", format_date(dl)));
        let markers = if pts.is_empty() {
            Vec::new()
        } else {
            vec![(dl, format!("{label} {}", format_date(dl)))]
        };
        XyChart {
            title: &self.title,
            desc: desc_text(&self.description, &parts),
            subtitle,
            x: &x,
            y: &self.y,
            lines,
            width: self.width,
            height: self.height,
            y_min_zero: true,
            markers,
            class: "vc-burndown",
        }
        .render()
    }

    /// The remaining counts and the ideal line as an HTML `<table>`.
    pub fn data_table_html(&self) -> String {
        let pts = self.points();
        let ideal: Vec<(i64, f64)> = pts
            .iter()
            .filter_map(|p| self.ideal_at(p.0).map(|v| (p.0, v)))
            .collect();
        let series = vec![Series::new("Remaining", pts), Series::new("Ideal", ideal)];
        series_table_html(&self.title, &XAxis::dates("Date"), &self.y, &series)
    }
}

fn plural_days(n: i64) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{n} days")
    }
}

/// Least-squares slope (per day) of the points, if there are two distinct days.
fn slope(pts: &[(i64, f64)]) -> Option<f64> {
    let &(base, _) = pts.first()?;
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| (p.0 - base) as f64).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let mut sxx = 0.0;
    let mut sxy = 0.0;
    for p in pts {
        let dx = (p.0 - base) as f64 - mx;
        sxx += dx * dx;
        sxy += dx * (p.1 - my);
    }
    if sxx > 0.0 {
        let s = sxy / sxx;
        if s.is_finite() { Some(s) } else { None }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn burndown_projection() {
        let b = Burndown {
            remaining: (0..10)
                .map(|i| (20_000 + i, 100.0 - 5.0 * i as f64))
                .collect(),
            deadline: 20_030,
            ..Default::default()
        };
        let st = b.status().unwrap();
        assert_eq!(st.last, (20_009, 55.0));
        assert!((st.pace_per_day.unwrap() + 5.0).abs() < 1e-9);
        assert_eq!(st.projected_completion, Some(20_020));
        assert!((b.ideal_at(20_015).unwrap() - 50.0).abs() < 1e-9);
        assert!(
            b.status_text().contains("10 days before the deadline"),
            "{}",
            b.status_text()
        );

        let flat = Burndown {
            remaining: vec![(1, 10.0), (2, 10.0), (3, 11.0)],
            deadline: 10,
            ..Default::default()
        };
        assert_eq!(flat.projected_completion(), None);
        assert!(flat.status_text().contains("not decreasing"));

        let done = Burndown {
            remaining: vec![(1, 10.0), (2, 0.0), (3, 0.0)],
            deadline: 10,
            ..Default::default()
        };
        assert_eq!(done.projected_completion(), Some(2));
        assert_eq!(Burndown::default().status(), None);
    }
}
