//! Product-mapping JSONPaths -> engine [`Source`]s.
//!
//! The State API hands each mapping field as a JSONPath into the product configuration,
//! for example
//! `$[?(@.name=='personal-auto')].policyConfiguration.exposures[?(@.name=='vehicle')].fields[?(@.name=='vehicle_value')]`.
//! Like the platform's own samples, we do not evaluate JSONPath: the last quoted segment is
//! the Socotra field name, and the path's shape gives the level (`perils[` -> peril,
//! `exposures[` -> exposure, otherwise policy). A field inside a field group is addressed
//! through the group's own `fields`:
//! `...policyConfiguration.fields[?(@.name=='drivers')].fields[?(@.name=='driver_dob')]`
//! is member field `driver_dob` of the policy's field group `drivers`.

use crate::engine::{Level, Source};

/// The `productName` of policyholder mappings, which are not about rating.
pub const POLICYHOLDERS: &str = "policyholders";

/// Why a mapping path cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// No `'...'` segment names a field.
    #[error("no quoted field name")]
    NoFieldName,
    /// The last quoted segment is empty.
    #[error("the quoted field name is empty")]
    EmptyFieldName,
    /// The path does not address `fields[...]`, so it is not a field mapping.
    #[error("the path does not select `fields[...]`")]
    NotAField,
}

/// Reads one mapping JSONPath as the field it names.
pub fn source_of_path(path: &str) -> Result<Source, PathError> {
    let name = last_quoted(path)?;
    // The field name must sit in the last bracket, after `fields[`: a path ending in an
    // exposure or peril selector is a mapping we do not understand.
    let fields_at = path.rfind("fields[").ok_or(PathError::NotAField)?;
    let (before, _) = path.split_at(fields_at);
    if path[fields_at..].matches('[').count() != 1 {
        return Err(PathError::NotAField);
    }
    let level_of = |path: &str| {
        if path.contains("perils[") {
            Level::Peril
        } else if path.contains("exposures[") {
            Level::Exposure
        } else {
            Level::Policy
        }
    };
    // `fields[?(@.name=='group')].` right before the last `fields[`: a group's member field.
    if let Some(group_at) = before.rfind("fields[")
        && before[group_at..].matches('[').count() == 1
        && before.ends_with(")].")
    {
        let group = last_quoted(&before[group_at..])?;
        return Ok(Source::Member {
            level: level_of(&before[..group_at]),
            group: group.into(),
            name: name.into(),
        });
    }
    Ok(Source::Field {
        level: level_of(before),
        name: name.into(),
    })
}

/// The text between the last pair of single quotes.
fn last_quoted(path: &str) -> Result<&str, PathError> {
    let end = path.rfind('\'').ok_or(PathError::NoFieldName)?;
    let start = path[..end].rfind('\'').ok_or(PathError::NoFieldName)?;
    let name = &path[start + 1..end];
    if name.is_empty() {
        return Err(PathError::EmptyFieldName);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(level: Level, name: &str) -> Source {
        Source::Field {
            level,
            name: name.into(),
        }
    }

    #[test]
    fn reads_level_and_name_by_shape() {
        let exp = "$[?(@.name=='product1')].policyConfiguration.exposures[?(@.name=='vehicle')].fields[?(@.name=='year')]";
        assert_eq!(source_of_path(exp), Ok(field(Level::Exposure, "year")));
        let peril = "$[?(@.name=='p')].policyConfiguration.exposures[?(@.name=='v')].perils[?(@.name=='collision')].fields[?(@.name=='deductible_band')]";
        assert_eq!(
            source_of_path(peril),
            Ok(field(Level::Peril, "deductible_band"))
        );
        let policy = "$[?(@.name=='p')].policyConfiguration.fields[?(@.name=='channel')]";
        assert_eq!(source_of_path(policy), Ok(field(Level::Policy, "channel")));
        let holder = "policyholder.fields[?(@.name=='last_name')]";
        assert_eq!(
            source_of_path(holder),
            Ok(field(Level::Policy, "last_name"))
        );
    }

    #[test]
    fn a_field_inside_a_field_group_is_a_member_field() {
        let dob = "$[?(@.name=='acme-auto')].policyConfiguration.fields[?(@.name=='drivers')].fields[?(@.name=='birth_date')]";
        assert_eq!(
            source_of_path(dob),
            Ok(Source::Member {
                level: Level::Policy,
                group: "drivers".into(),
                name: "birth_date".into()
            })
        );
        let on_vehicle = "$[?(@.name=='p')].policyConfiguration.exposures[?(@.name=='vehicle')].fields[?(@.name=='owners')].fields[?(@.name=='share')]";
        assert_eq!(
            source_of_path(on_vehicle),
            Ok(Source::Member {
                level: Level::Exposure,
                group: "owners".into(),
                name: "share".into()
            })
        );
    }

    #[test]
    fn rejects_what_is_not_a_field_path() {
        assert_eq!(source_of_path("$.foo.bar"), Err(PathError::NoFieldName));
        assert_eq!(
            source_of_path("fields[?(@.name=='')]"),
            Err(PathError::EmptyFieldName)
        );
        assert_eq!(
            source_of_path("$.exposures[?(@.name=='vehicle')]"),
            Err(PathError::NotAField)
        );
        assert_eq!(
            source_of_path("$.fields[?(@.name=='a')].exposures[?(@.name=='b')]"),
            Err(PathError::NotAField)
        );
        assert_eq!(source_of_path("'"), Err(PathError::NoFieldName));
    }
}
