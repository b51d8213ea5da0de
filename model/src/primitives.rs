//! Primitive MXLIMS value types: uuids, time-zone-aware date-times, domain keys, HTTP URLs, type tags.
//!
//! Each type checks its own syntax when deserialised, so a typed value is always well formed, and
//! serialises back to exactly the text it was read from.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset};
use indexmap::IndexMap;
use regex::Regex;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

/// The MXLIMS uuid pattern: lower-case, RFC 4122 versions 1–5, variant 8/9/a/b.
pub const UUID_PATTERN: &str =
    "^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";
/// The MXLIMS domain-name pattern for `extensions`/`identifiers`/`urls` keys (needs at least one dot).
pub const DOMAIN_PATTERN: &str =
    "(?i)^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$";
/// The MXLIMS HttpUrl pattern.
pub const HTTP_URL_PATTERN: &str =
    "^https?://(?:[a-zA-Z0-9\\-]+\\.)+[a-zA-Z]{2,}(?::\\d+)?(?:/[^\\s]*)?$";
/// The MXLIMS AwareDatetime pattern: ISO 8601 with a mandatory `Z` or `±hh:mm` offset.
pub const AWARE_DATETIME_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

static UUID_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(UUID_PATTERN).expect("uuid regex"));
static DOMAIN_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(DOMAIN_PATTERN).expect("domain regex"));
static URL_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(HTTP_URL_PATTERN).expect("url regex"));
static DATETIME_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(AWARE_DATETIME_PATTERN).expect("datetime regex"));

/// Object uuid as MXLIMS 0.6.13 allows it (lower case, version 1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MxUuid(pub uuid::Uuid);

impl MxUuid {
    /// Mint a new random (version 4) uuid.
    pub fn new_v4() -> Self {
        MxUuid(uuid::Uuid::new_v4())
    }
    /// Parse text, enforcing the MXLIMS pattern.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !UUID_RE.is_match(text) {
            return Err(format!(
                "expected a lower-case RFC 4122 uuid of version 1-5 (pattern {UUID_PATTERN}), found {text:?}"
            ));
        }
        uuid::Uuid::parse_str(text)
            .map(MxUuid)
            .map_err(|e| format!("invalid uuid {text:?}: {e}"))
    }
}

impl fmt::Display for MxUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for MxUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MxUuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        MxUuid::parse(&text).map_err(D::Error::custom)
    }
}

impl JsonSchema for MxUuid {
    fn schema_name() -> Cow<'static, str> {
        "Uuid".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "uuid", "pattern": UUID_PATTERN,
            "description": "Permanent unique identifier (lower-case uuid, version 1-5)"})
    }
}

/// A date-time that carries its time zone. Keeps the original text (precision, `Z` vs `+00:00`)
/// so that it is written back exactly as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwareDateTime {
    text: String,
    value: DateTime<FixedOffset>,
}

impl AwareDateTime {
    /// Parse an ISO 8601 date-time with a mandatory offset.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !DATETIME_RE.is_match(text) {
            return Err(format!(
                "expected an ISO 8601 date-time with a time zone (e.g. 2024-06-15T10:01:02Z or +02:00), found {text:?}"
            ));
        }
        let value = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("invalid date-time {text:?}: {e}"))?;
        Ok(AwareDateTime {
            text: text.to_owned(),
            value,
        })
    }
    /// From a chrono value (written in RFC 3339 with microseconds where needed).
    pub fn from_datetime(value: DateTime<FixedOffset>) -> Self {
        let text = value.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        AwareDateTime { text, value }
    }
    /// The instant with its original offset.
    pub fn value(&self) -> DateTime<FixedOffset> {
        self.value
    }
    /// The text as read.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for AwareDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for AwareDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for AwareDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        AwareDateTime::parse(&text).map_err(D::Error::custom)
    }
}

impl JsonSchema for AwareDateTime {
    fn schema_name() -> Cow<'static, str> {
        "AwareDatetime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time", "pattern": AWARE_DATETIME_PATTERN,
            "description": "ISO 8601 date-time with a mandatory time zone (Z or +hh:mm)"})
    }
}

/// Domain name of the organisation that owns an extension, identifier or URL (kept verbatim, case preserved).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(String);

impl Domain {
    /// Check and wrap a domain name (at least one dot; `localhost` is not a domain here).
    pub fn parse(text: &str) -> Result<Self, String> {
        if DOMAIN_RE.is_match(text) {
            Ok(Domain(text.to_owned()))
        } else {
            Err(format!(
                "expected a domain name such as \"esrf.fr\" as key, found {text:?}"
            ))
        }
    }
    /// The domain as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Domain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        Domain::parse(&text).map_err(D::Error::custom)
    }
}

/// An `http(s)://` URL as the MXLIMS HttpUrl pattern allows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpUrl(String);

impl HttpUrl {
    /// Check and wrap a URL.
    pub fn parse(text: &str) -> Result<Self, String> {
        if URL_RE.is_match(text) {
            Ok(HttpUrl(text.to_owned()))
        } else {
            Err(format!(
                "expected an http(s) URL such as \"https://example.org/x\", found {text:?}"
            ))
        }
    }
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        HttpUrl::parse(&text).map_err(D::Error::custom)
    }
}

impl JsonSchema for HttpUrl {
    fn schema_name() -> Cow<'static, str> {
        "HttpUrl".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "uri", "pattern": HTTP_URL_PATTERN})
    }
}

/// `extensions`: domain → JSON object of fields owned by that organisation.
pub type Extensions = IndexMap<Domain, serde_json::Map<String, serde_json::Value>>;
/// `identifiers`: domain → identifier string.
pub type Identifiers = IndexMap<Domain, String>;
/// `urls`: domain → URL.
pub type Urls = IndexMap<Domain, HttpUrl>;

/// Schema for a domain-keyed map whose values follow `V`.
pub(crate) fn domain_map_schema<V: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let value = generator.subschema_for::<V>();
    json_schema!({"type": "object", "propertyNames": {"pattern": DOMAIN_PATTERN}, "additionalProperties": value})
}

pub(crate) fn extensions_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "propertyNames": {"pattern": DOMAIN_PATTERN},
        "additionalProperties": {"type": "object"},
        "description": "Extension fields keyed by the domain of the organisation that owns them"})
}
pub(crate) fn identifiers_schema(g: &mut SchemaGenerator) -> Schema {
    domain_map_schema::<String>(g)
}
pub(crate) fn urls_schema(g: &mut SchemaGenerator) -> Schema {
    domain_map_schema::<HttpUrl>(g)
}

/// A name known at compile time; used for the `mxlimsType` tag of each object type.
pub trait TypeName {
    /// The MXLIMS type name, e.g. `"CollectionSweep"`.
    const NAME: &'static str;
}

/// The constant `mxlimsType` tag of an object of type `T`; rejects any other value.
pub struct Tag<T: ?Sized>(PhantomData<fn() -> T>);

impl<T: ?Sized> Tag<T> {
    /// The tag (there is only one value).
    pub const fn new() -> Self {
        Tag(PhantomData)
    }
}
impl<T: ?Sized> Default for Tag<T> {
    fn default() -> Self {
        Self::new()
    }
}
impl<T: ?Sized> Clone for Tag<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for Tag<T> {}
impl<T: ?Sized> PartialEq for Tag<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<T: TypeName + ?Sized> fmt::Debug for Tag<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", T::NAME)
    }
}
impl<T: TypeName + ?Sized> Serialize for Tag<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(T::NAME)
    }
}
impl<'de, T: TypeName + ?Sized> Deserialize<'de> for Tag<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        if text == T::NAME {
            Ok(Tag::new())
        } else {
            Err(D::Error::custom(format!(
                "expected mxlimsType {:?}, found {text:?}",
                T::NAME
            )))
        }
    }
}
impl<T: TypeName + ?Sized> JsonSchema for Tag<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}Tag", T::NAME).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "const": T::NAME})
    }
}

/// The MXLIMS version a message declares; only `0.6.13` is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Version;

/// The supported MXLIMS version.
pub const MXLIMS_VERSION: &str = "0.6.13";

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MXLIMS_VERSION)
    }
}
impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        if text == MXLIMS_VERSION {
            Ok(Version)
        } else {
            Err(D::Error::custom(format!(
                "expected MXLIMS version {MXLIMS_VERSION:?}, found {text:?}"
            )))
        }
    }
}
impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "const": MXLIMS_VERSION,
            "description": "MXLIMS version of the message"})
    }
}

/// Is the text a valid domain key?
pub fn is_domain(text: &str) -> bool {
    DOMAIN_RE.is_match(text)
}
