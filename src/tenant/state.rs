//! The State API's answer as it comes off the wire: [`StateDoc`], parsed from JSON
//! (CONTRACT.md 2.2), before it is resolved into a [`Tenant`](super::Tenant).
//!
//! serde_json is fine here: state is parsed once per fetch, far off the rating hot path.
//! Every setting value is wrapped in a [`Secret`] from the moment it is parsed (which of them
//! really are secrets is decided later, by the [`SecretPolicy`](super::SecretPolicy)), so a
//! `{:?}` of a `StateDoc` cannot leak one.
//!
//! Parse errors keep only serde's category and position: serde_json's messages can quote the
//! offending value ("invalid type: string \"...\""), which could be a token.

use serde::Deserialize;
use serde_json::Value;

use super::secret::Secret;

/// One State API answer, checked for shape but not yet resolved.
#[derive(Clone, Debug, Default)]
pub struct StateDoc {
    /// `socotraApiUrl`: the tenant's Socotra API base URL.
    pub socotra_api_url: Option<String>,
    /// `tenantHostName`.
    pub tenant_host_name: Option<String>,
    /// `token`: the JWT / personal access token for the tenant's Socotra API.
    pub token: Option<Secret>,
    /// `settings`, sorted by name, every value wrapped until classified.
    pub settings: Vec<(String, Secret)>,
    /// `mappings`.
    pub mappings: Vec<RawMapping>,
    /// What was odd but not fatal (non-string settings, non-string paths).
    pub warnings: Vec<String>,
}

/// One `mappings[]` entry as it came.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawMapping {
    /// `productName`.
    pub product: String,
    /// `fields`: `(mapping field name, JSONPath)`, sorted by name.
    pub fields: Vec<(String, String)>,
}

/// Why a State API answer is not usable state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedState {
    /// The body is longer than the configured cap.
    #[error("the answer is larger than {limit} bytes")]
    TooBig {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The body is not JSON, or not JSON of the State API's shape.
    #[error("the answer is not valid state JSON ({category} at line {line}, column {column})")]
    Json {
        /// serde_json's error category ("syntax", "data", "eof").
        category: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The JSON has the wrong shape for state.
    #[error("the answer is not a state object: {0}")]
    Shape(&'static str),
}

impl MalformedState {
    fn from_serde(e: &serde_json::Error) -> MalformedState {
        let category = match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        };
        MalformedState::Json {
            category,
            line: e.line(),
            column: e.column(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireState {
    #[serde(default)]
    socotra_api_url: Option<String>,
    #[serde(default)]
    tenant_host_name: Option<String>,
    #[serde(default)]
    token: Option<Secret>,
    #[serde(default)]
    settings: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    mappings: Option<Vec<WireMapping>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMapping {
    product_name: String,
    #[serde(default)]
    fields: Option<serde_json::Map<String, Value>>,
}

impl StateDoc {
    /// Parses one State API answer.
    pub fn from_json(bytes: &[u8]) -> Result<StateDoc, MalformedState> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| MalformedState::from_serde(&e))?;
        StateDoc::from_value(value)
    }

    /// Checks and converts one already parsed state object (the local state file holds many).
    pub fn from_value(value: Value) -> Result<StateDoc, MalformedState> {
        if !value.is_object() {
            return Err(MalformedState::Shape("the top level is not an object"));
        }
        let wire: WireState =
            serde_json::from_value(value).map_err(|e| MalformedState::from_serde(&e))?;
        let mut warnings = Vec::new();
        let mut settings = Vec::new();
        for (name, value) in wire.settings.unwrap_or_default() {
            match value {
                Value::String(s) => settings.push((name, Secret::new(s))),
                // Settings are documented as strings; a number or boolean is still meant as
                // its text, so keep it rather than lose the setting.
                Value::Number(_) | Value::Bool(_) => {
                    warnings.push(format!("setting `{name}` is not a string; used as text"));
                    settings.push((name, Secret::new(value.to_string())));
                }
                Value::Null | Value::Array(_) | Value::Object(_) => {
                    warnings.push(format!("setting `{name}` is not a string; ignored"));
                }
            }
        }
        let mut mappings = Vec::new();
        for m in wire.mappings.unwrap_or_default() {
            let mut fields = Vec::new();
            for (name, path) in m.fields.unwrap_or_default() {
                match path {
                    Value::String(p) => fields.push((name, p)),
                    _ => warnings.push(format!(
                        "mapping `{}` field `{name}` is not a JSONPath string; ignored",
                        m.product_name
                    )),
                }
            }
            fields.sort();
            mappings.push(RawMapping {
                product: m.product_name,
                fields,
            });
        }
        Ok(StateDoc {
            socotra_api_url: wire.socotra_api_url,
            tenant_host_name: wire.tenant_host_name,
            token: wire.token,
            settings,
            mappings,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str =
        include_str!("../../tests/fixtures/socotra/state-api/state-response-settings-example.json");
    const MAPPINGS: &str = include_str!(
        "../../tests/fixtures/socotra/state-api/state-response-product-mappings-example.json"
    );

    #[test]
    fn parses_the_settings_fixture() {
        let doc = StateDoc::from_json(SETTINGS.as_bytes()).unwrap();
        assert_eq!(
            doc.socotra_api_url.as_deref(),
            Some("https://api.sandbox.socotra.com")
        );
        assert!(doc.token.is_some());
        assert_eq!(doc.settings.len(), 4);
        assert!(doc.mappings.is_empty());
        assert!(doc.warnings.is_empty());
        let debug = format!("{doc:?}");
        assert!(!debug.contains("ThisIs-ASecretPassword"), "{debug}");
        assert!(!debug.contains("JWT"), "{debug}");
    }

    #[test]
    fn parses_the_mappings_fixture() {
        let doc = StateDoc::from_json(MAPPINGS.as_bytes()).unwrap();
        assert_eq!(doc.mappings.len(), 2);
        assert_eq!(doc.mappings[1].product, "product1");
        assert_eq!(doc.mappings[1].fields[0].0, "vehicle-make");
        assert!(doc.token.is_none());
    }

    #[test]
    fn wrong_shapes_are_malformed_without_echoing_values() {
        assert_eq!(
            StateDoc::from_json(b"[1]").err(),
            Some(MalformedState::Shape("the top level is not an object"))
        );
        let err = StateDoc::from_json(br#"{"token": 987654321}"#).unwrap_err();
        assert!(!err.to_string().contains("987654321"), "{err}");
        let err = StateDoc::from_json(br#"{"socotraApiUrl": ["s3cr3t"]}"#).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(matches!(
            StateDoc::from_json(b"{\"settings\":"),
            Err(MalformedState::Json {
                category: "eof",
                ..
            })
        ));
    }

    #[test]
    fn odd_values_become_warnings() {
        let doc = StateDoc::from_json(
            br#"{"settings":{"n":5,"b":true,"o":{},"s":"x"},
                 "mappings":[{"productName":"p","fields":{"a":1,"b":"$.fields[?(@.name=='b')]"}}]}"#,
        )
        .unwrap();
        let names: Vec<_> = doc.settings.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "n", "s"]);
        assert_eq!(doc.settings[1].1.expose(), "5");
        assert_eq!(doc.mappings[0].fields.len(), 1);
        assert_eq!(doc.warnings.len(), 4, "{:?}", doc.warnings);
    }
}
