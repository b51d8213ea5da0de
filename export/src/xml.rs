//! A small XML writer over quick-xml (escaping, indentation) shared by the XML outputs.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// An in-memory, indented XML document.
pub struct Xml(pub Writer<Vec<u8>>);

impl Xml {
    /// A document with the `<?xml version="1.0" encoding="UTF-8"?>` declaration.
    pub fn new() -> Xml {
        let mut x = Xml(Writer::new_with_indent(Vec::new(), b' ', 2));
        x.0.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .expect("in-memory write");
        x
    }
    /// A fragment (no declaration), to be appended to a document written in pieces.
    pub fn new_fragment() -> Xml {
        Xml(Writer::new_with_indent(Vec::new(), b' ', 2))
    }
    /// `<tag>`.
    pub fn open(&mut self, tag: &str) {
        self.open_with(tag, &[]);
    }
    /// `<tag a="v" …>`.
    pub fn open_with(&mut self, tag: &str, attributes: &[(&str, &str)]) {
        let mut start = BytesStart::new(tag);
        for a in attributes {
            start.push_attribute(*a);
        }
        self.0
            .write_event(Event::Start(start))
            .expect("in-memory write");
    }
    /// `<tag a="v" …/>`.
    pub fn empty(&mut self, tag: &str, attributes: &[(&str, &str)]) {
        let mut start = BytesStart::new(tag);
        for a in attributes {
            start.push_attribute(*a);
        }
        self.0
            .write_event(Event::Empty(start))
            .expect("in-memory write");
    }
    /// `</tag>`.
    pub fn close(&mut self, tag: &str) {
        self.0
            .write_event(Event::End(BytesEnd::new(tag)))
            .expect("in-memory write");
    }
    /// `<tag>text</tag>` when there is a text.
    pub fn leaf(&mut self, tag: &str, text: Option<String>) {
        if let Some(t) = text {
            self.open(tag);
            self.0
                .write_event(Event::Text(BytesText::new(&t)))
                .expect("in-memory write");
            self.close(tag);
        }
    }
    /// The document's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner()
    }
}

impl Default for Xml {
    fn default() -> Self {
        Xml::new()
    }
}
