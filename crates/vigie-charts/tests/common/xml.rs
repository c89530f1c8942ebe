//! A small well-formedness checker and summary of an SVG document, on quick-xml.
#![allow(dead_code)]

use std::collections::HashMap;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: HashMap<String, String>,
    /// Text directly inside the element (entities resolved).
    pub text: String,
    pub depth: usize,
    /// Classes of the enclosing `<g>` elements.
    pub groups: Vec<String>,
}

impl Element {
    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.get(k).map(String::as_str)
    }
    pub fn has_class(&self, c: &str) -> bool {
        self.attr("class")
            .is_some_and(|v| v.split_whitespace().any(|x| x == c))
    }
    pub fn num(&self, k: &str) -> f64 {
        self.attr(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }
}

#[derive(Debug)]
pub struct Doc {
    pub elements: Vec<Element>,
}

impl Doc {
    pub fn root(&self) -> &Element {
        &self.elements[0]
    }
    pub fn all(&self, name: &str) -> Vec<&Element> {
        self.elements.iter().filter(|e| e.name == name).collect()
    }
    pub fn with_class(&self, name: &str, class: &str) -> Vec<&Element> {
        self.elements
            .iter()
            .filter(|e| e.name == name && e.has_class(class))
            .collect()
    }
    pub fn by_id(&self, id: &str) -> Option<&Element> {
        self.elements.iter().find(|e| e.attr("id") == Some(id))
    }
    pub fn in_group(&self, name: &str, group: &str) -> Vec<&Element> {
        self.elements
            .iter()
            .filter(|e| {
                e.name == name
                    && e.groups
                        .iter()
                        .any(|g| g.split_whitespace().any(|x| x == group))
            })
            .collect()
    }
    /// The text of every `<text>` element.
    pub fn texts(&self) -> Vec<String> {
        self.all("text").iter().map(|e| e.text.clone()).collect()
    }
}

fn attrs(e: &BytesStart) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for a in e.attributes() {
        let a = a.expect("attribute");
        let k = a.key.as_ref().to_string();
        let raw: &str = &a.value;
        let v = quick_xml::escape::unescape(raw)
            .expect("unescape attribute")
            .into_owned();
        assert!(m.insert(k.clone(), v).is_none(), "duplicate attribute {k}");
    }
    m
}

/// Parses `xml`, panicking unless it is a well-formed document with one root.
pub fn parse(xml: &str) -> Doc {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut elements: Vec<Element> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut roots = 0;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"))
        {
            Event::Start(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let name = e.name().as_ref().to_string();
                let a = attrs(&e);
                let g = if name == "g" {
                    a.get("class").cloned().unwrap_or_default()
                } else {
                    String::new()
                };
                elements.push(Element {
                    name: name.clone(),
                    attrs: a,
                    text: String::new(),
                    depth: stack.len(),
                    groups: groups.clone(),
                });
                stack.push(elements.len() - 1);
                if name == "g" {
                    groups.push(g);
                }
            }
            Event::Empty(e) => {
                if stack.is_empty() {
                    roots += 1;
                }
                let name = e.name().as_ref().to_string();
                elements.push(Element {
                    name,
                    attrs: attrs(&e),
                    text: String::new(),
                    depth: stack.len(),
                    groups: groups.clone(),
                });
            }
            Event::End(e) => {
                let i = stack.pop().expect("balanced");
                if e.name().as_ref() == "g" {
                    groups.pop();
                }
                let _ = i;
            }
            Event::Text(t) => {
                let s: &str = &t;
                if let Some(&i) = stack.last() {
                    elements[i].text.push_str(s);
                } else {
                    assert!(s.trim().is_empty(), "text outside the root: {s:?}");
                }
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let v = quick_xml::escape::unescape(&format!("&{name};"))
                    .expect("known entity")
                    .into_owned();
                if let Some(&i) = stack.last() {
                    elements[i].text.push_str(&v);
                }
            }
            Event::Eof => break,
            Event::DocType(_) | Event::PI(_) | Event::Decl(_) => {
                panic!("unexpected prolog in a fragment")
            }
            Event::CData(_) | Event::Comment(_) => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    assert_eq!(roots, 1, "exactly one root element");
    Doc { elements }
}

/// Checks the accessibility frame every chart must have; returns the parsed doc.
pub fn check_chart(svg: &str) -> Doc {
    assert!(
        !svg.to_ascii_lowercase().contains("<script"),
        "script in output"
    );
    let doc = parse(svg);
    let root = doc.root();
    assert_eq!(root.name, "svg");
    assert_eq!(root.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    assert_eq!(root.attr("version"), Some("1.1"));
    assert_eq!(root.attr("role"), Some("img"));
    assert!(root.attr("viewBox").is_some_and(|v| v.starts_with("0 0 ")));
    assert!(root.attr("preserveAspectRatio").is_some());
    assert!(
        root.attr("font-family")
            .is_some_and(|f| f.contains("system-ui") && f.ends_with("sans-serif"))
    );
    let labelled = root.attr("aria-labelledby").expect("aria-labelledby");
    let ids: Vec<&str> = labelled.split_whitespace().collect();
    assert_eq!(ids.len(), 2);
    let t = doc.by_id(ids[0]).expect("title id");
    let d = doc.by_id(ids[1]).expect("desc id");
    assert_eq!(t.name, "title");
    assert_eq!(d.name, "desc");
    assert_eq!(t.depth, 1, "title is a child of the root");
    assert_eq!(d.depth, 1, "desc is a child of the root");
    assert!(!d.text.trim().is_empty(), "desc is not empty");
    // Ids are unique.
    let mut seen = std::collections::HashSet::new();
    for e in &doc.elements {
        if let Some(id) = e.attr("id") {
            assert!(seen.insert(id.to_string()), "duplicate id {id}");
        }
    }
    // No style element or attribute (strict CSP).
    assert!(doc.all("style").is_empty());
    assert!(doc.elements.iter().all(|e| e.attr("style").is_none()));
    // Coordinates have at most one decimal.
    for e in &doc.elements {
        for (k, v) in &e.attrs {
            if matches!(
                k.as_str(),
                "d" | "x" | "y" | "x1" | "y1" | "x2" | "y2" | "width" | "height" | "cx" | "cy"
            ) {
                for num in v.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
                    if let Some((_, frac)) = num.split_once('.') {
                        assert!(frac.len() <= 1, "{k}={v} is not rounded");
                    }
                }
            }
        }
    }
    doc
}

pub fn title_text(doc: &Doc) -> String {
    doc.all("title")
        .first()
        .map(|e| e.text.clone())
        .unwrap_or_default()
}

pub fn desc_text(doc: &Doc) -> String {
    doc.all("desc")
        .first()
        .map(|e| e.text.clone())
        .unwrap_or_default()
}
