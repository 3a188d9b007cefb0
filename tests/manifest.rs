//! `socotra-app.json` against the manifest rules of CONTRACT.md section 1, and against what
//! the service really serves (the rate path, the bundled plans).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn manifest() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("socotra-app.json");
    let text = std::fs::read_to_string(&path).expect("socotra-app.json at the crate root");
    serde_json::from_str(&text).expect("socotra-app.json is JSON")
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} must be a string, got {v}"))
}

/// `name` is `<org>/<app>`; `version` is `Major.Minor.Patch`; `targetPlatform` is
/// `EnterpriseCore` (the platform whose external rater this service speaks).
#[test]
fn name_version_and_platform() {
    let m = manifest();
    let name = str_of(&m["name"], "name");
    let parts: Vec<&str> = name.split('/').collect();
    assert!(
        parts.len() == 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && !p.contains(char::is_whitespace)),
        "name must be <org>/<app>, got {name:?}"
    );
    assert_eq!(name, "rater/external-rater");

    let version = str_of(&m["version"], "version");
    let nums: Vec<&str> = version.split('.').collect();
    assert!(
        nums.len() == 3
            && nums.iter().all(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && (n.len() == 1 || !n.starts_with('0'))
            }),
        "version must be semver Major.Minor.Patch, got {version:?}"
    );

    let platform = str_of(&m["targetPlatform"], "targetPlatform");
    assert!(
        ["EnterpriseCore", "ConnectedCore"].contains(&platform),
        "targetPlatform {platform:?}"
    );
    assert_eq!(platform, "EnterpriseCore");
}

/// Every setting has `name`, `title` and a `type` among Text, Password, Select; a Select
/// has `values` of `{text, value}`.
#[test]
fn settings_fields() {
    let m = manifest();
    let fields = m["app"]["fields"]
        .as_array()
        .expect("app.fields is an array");
    let mut names = BTreeSet::new();
    for f in fields {
        let name = str_of(&f["name"], "app.fields[].name");
        assert!(names.insert(name), "setting {name} declared twice");
        str_of(&f["title"], "app.fields[].title");
        let ty = str_of(&f["type"], "app.fields[].type");
        assert!(
            ["Text", "Password", "Select"].contains(&ty),
            "setting {name}: type {ty:?} is not Text, Password or Select"
        );
        if ty == "Select" {
            let values = f["values"]
                .as_array()
                .unwrap_or_else(|| panic!("Select {name} has no values"));
            assert!(!values.is_empty(), "Select {name} has no values");
            for v in values {
                str_of(&v["text"], "values[].text");
                str_of(&v["value"], "values[].value");
            }
        }
        if let Some(r) = f.get("required") {
            assert!(r.is_boolean(), "setting {name}: required must be a boolean");
        }
    }
    assert!(names.contains("ratePlan"));
}

/// The plan bundle settings: `planUrl` and `planSha256` are Text, `planToken` a Password
/// (so the rater treats it as a secret: `SecretPolicy` reads Password fields from here),
/// none required (tenants without `planUrl` keep the bundled plans).
#[test]
fn plan_bundle_settings() {
    let m = manifest();
    let fields = m["app"]["fields"].as_array().unwrap();
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("a {name} setting"))
    };
    for (name, ty) in [
        (rater::tenant::PLAN_URL_SETTING, "Text"),
        (rater::tenant::PLAN_TOKEN_SETTING, "Password"),
        (rater::tenant::PLAN_SHA256_SETTING, "Text"),
    ] {
        assert_eq!(field(name)["type"], ty, "{name}");
        assert_eq!(field(name)["required"], false, "{name}");
    }
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/socotra-app.json")).unwrap();
    let passwords = rater::tenant::SecretPolicy::password_fields_of_manifest(&text).unwrap();
    assert!(passwords.iter().any(|p| p == "planToken"), "{passwords:?}");
}

/// The plan folders of `rating-tables/` (those holding a `plan.toml`).
fn plan_folders() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("plan.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// `ratePlan` offers exactly the bundled plans' product lines (a line's editions are chosen
/// by the term start).
#[test]
fn rate_plan_values_are_the_bundled_plans() {
    let m = manifest();
    let field = m["app"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ratePlan")
        .expect("a ratePlan setting");
    assert_eq!(field["type"], "Select");
    let values: BTreeSet<String> = field["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| str_of(&v["value"], "value").to_owned())
        .collect();
    let folders: BTreeSet<String> = if plan_folders().is_empty() {
        BTreeSet::new()
    } else {
        rater::plan::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables"))
            .unwrap()
            .iter()
            .map(|p| p.line().to_owned())
            .collect()
    };
    if folders.is_empty() {
        // FIXME: the plan folders are another issue's work and not on this branch yet;
        // until they land, the manifest must offer the two documented plans.
        let documented: BTreeSet<String> = ["socotra-reference", "personal-auto"]
            .map(String::from)
            .into();
        assert_eq!(values, documented);
    } else {
        assert_eq!(
            values, folders,
            "ratePlan values must equal the product lines of rating-tables/"
        );
    }
}

/// Every product mapping field has `name` and `title`.
#[test]
fn product_mapping_fields() {
    let m = manifest();
    let fields = m["socotra"]["fields"]
        .as_array()
        .expect("socotra.fields is an array");
    let names: BTreeSet<&str> = fields
        .iter()
        .map(|f| {
            str_of(&f["title"], "socotra.fields[].title");
            if let Some(t) = f.get("type") {
                assert_eq!(t, "text");
            }
            str_of(&f["name"], "socotra.fields[].name")
        })
        .collect();
    for needed in [
        "vehicle_value",
        "vehicle_type",
        "channel",
        "atfault_claims_past_5_years",
    ] {
        assert!(names.contains(needed), "mapping field {needed} missing");
    }
}

/// Lifecycle hooks are `start`/`stop`; the external rater path is the service's default
/// rate path and not under the reserved `/_app/`.
#[test]
fn lifecycle_and_external_rater() {
    let m = manifest();
    let hooks: Vec<&str> = m["socotra"]["lifecycle"]
        .as_array()
        .expect("socotra.lifecycle is an array")
        .iter()
        .map(|h| str_of(h, "lifecycle[]"))
        .collect();
    assert!(!hooks.is_empty());
    for h in &hooks {
        assert!(["start", "stop"].contains(h), "lifecycle value {h:?}");
    }
    let raters = m["socotra"]["externalRaters"]
        .as_array()
        .expect("socotra.externalRaters is an array");
    assert_eq!(raters.len(), 1);
    let path = str_of(&raters[0]["path"], "externalRaters[].path");
    assert_eq!(path, rater::config::DEFAULT_RATE_PATH);
    assert!(!path.starts_with("/_app"));
    for (k, v) in raters[0]["headers"].as_object().expect("static headers") {
        assert!(!k.is_empty() && v.is_string(), "header {k}");
    }
}

/// Every plan input read from a Socotra field (not a builtin) is offered as a product
/// mapping field, so a tenant can point it at their own field name.
#[test]
fn every_field_input_of_a_bundled_plan_is_a_mapping_field() {
    let m = manifest();
    let fields: BTreeSet<&str> = m["socotra"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    let plans = rater::plan::load_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rating-tables"),
    )
    .unwrap();
    for plan in plans.iter() {
        for input in plan.inputs() {
            if matches!(
                input.source,
                rater::engine::Source::Field { .. } | rater::engine::Source::Member { .. }
            ) {
                assert!(
                    fields.contains(&*input.name),
                    "plan {} input {} is not in socotra.fields",
                    plan.id(),
                    input.name
                );
            }
        }
    }
}
