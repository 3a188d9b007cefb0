//! Secrets: the State API token and password settings, in a type that cannot be printed by
//! accident, and the [`SecretPolicy`] that says which settings are secrets.
//!
//! The platform's own guidance is "never log settings or secrets" (CONTRACT.md 2.1). Rather
//! than trusting every `tracing` call and `{:?}`, secret values live in [`Secret`], whose
//! `Debug` and `Display` print [`REDACTED`]; reading the value takes an explicit
//! [`Secret::expose`], which is easy to grep for.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

/// What a [`Secret`] prints instead of its value.
pub const REDACTED: &str = "[redacted]";

/// Substrings (lower case) that make a setting a secret even when the manifest does not
/// mark it as a password: a missed `type: "Password"` must not leak a credential.
const SECRET_WORDS: [&str; 3] = ["password", "secret", "token"];

/// A secret string. `Debug` and `Display` print [`REDACTED`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Box<str>>) -> Secret {
        Secret(value.into())
    }

    /// The value. Only for sending it where it belongs (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        // A wrong type must not echo the value in serde's "invalid type" message, so accept
        // only a string and say nothing about what else came.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret::new(v))
            }
            // serde's default messages for these quote the value (`invalid type: integer
            // `123``); say only what was expected.
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string"))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string"))
            }
            fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
                Err(E::custom("a secret must be a string"))
            }
        }
        // `deserialize_any`, not `deserialize_str`: with the latter serde_json builds the
        // "invalid type" error itself, quoting the value, before the visitor can refuse.
        d.deserialize_any(V)
    }
}

/// Which settings are secrets.
///
/// A setting is a secret when the manifest declares it with `type: "Password"` (the names
/// are passed in: the server reads them from `socotra-app.json`), or when its name contains
/// `password`, `secret` or `token`, in any case.
#[derive(Clone, Debug, Default)]
pub struct SecretPolicy {
    /// Declared password setting names, exactly as in the manifest.
    passwords: HashSet<Box<str>>,
}

/// Why the manifest's password fields cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest is not JSON of the expected shape.
    #[error("socotra-app.json is not a valid manifest (line {line}, column {column})")]
    Invalid {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
}

impl SecretPolicy {
    /// A policy with these declared password setting names (plus the default words).
    pub fn new<I, S>(password_settings: I) -> SecretPolicy
    where
        I: IntoIterator<Item = S>,
        S: Into<Box<str>>,
    {
        SecretPolicy {
            passwords: password_settings.into_iter().map(Into::into).collect(),
        }
    }

    /// The names of `app.fields` with `type: "Password"` in a `socotra-app.json` manifest.
    pub fn password_fields_of_manifest(manifest: &str) -> Result<Vec<String>, ManifestError> {
        #[derive(Deserialize)]
        struct Manifest {
            #[serde(default)]
            app: Option<App>,
        }
        #[derive(Deserialize)]
        struct App {
            #[serde(default)]
            fields: Vec<Field>,
        }
        #[derive(Deserialize)]
        struct Field {
            name: String,
            #[serde(rename = "type", default)]
            ty: Option<String>,
        }
        let m: Manifest = serde_json::from_str(manifest).map_err(|e| ManifestError::Invalid {
            line: e.line(),
            column: e.column(),
        })?;
        Ok(m.app
            .map(|a| a.fields)
            .unwrap_or_default()
            .into_iter()
            .filter(|f| {
                f.ty.as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("password"))
            })
            .map(|f| f.name)
            .collect())
    }

    /// Whether the setting called `name` is a secret.
    pub fn is_secret(&self, name: &str) -> bool {
        if self.passwords.contains(name) {
            return true;
        }
        let lower = name.to_ascii_lowercase();
        SECRET_WORDS.iter().any(|w| lower.contains(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&s)), format!("Some({REDACTED})"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_deserialize_does_not_echo_wrong_types() {
        for json in ["12345678", "-12345678", "1234.5678", "true"] {
            let err = serde_json::from_str::<Secret>(json).unwrap_err();
            assert!(!err.to_string().contains(json), "{err}");
        }
    }

    #[test]
    fn policy_uses_manifest_names_and_default_words() {
        let p = SecretPolicy::new(["apiKey"]);
        assert!(p.is_secret("apiKey"));
        assert!(!p.is_secret("apikey2"));
        assert!(p.is_secret("password-setting"));
        assert!(p.is_secret("ClientSecret"));
        assert!(p.is_secret("ACCESS_TOKEN"));
        assert!(!p.is_secret("ratePlan"));
        assert!(!p.is_secret("week-start-day"));
    }

    #[test]
    fn reads_password_fields_from_a_manifest() {
        let manifest = r#"{"name":"a/b","version":"1.0.0","app":{"fields":[
            {"name":"ratePlan","title":"Plan","type":"Select"},
            {"name":"apiKey","title":"Key","type":"Password"},
            {"name":"note","title":"Note","type":"Text"}]}}"#;
        assert_eq!(
            SecretPolicy::password_fields_of_manifest(manifest).unwrap(),
            vec!["apiKey".to_owned()]
        );
        assert_eq!(
            SecretPolicy::password_fields_of_manifest(r#"{"name":"a/b"}"#).unwrap(),
            Vec::<String>::new()
        );
        assert!(SecretPolicy::password_fields_of_manifest("{").is_err());
    }
}
