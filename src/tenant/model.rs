//! The resolved tenant: [`Tenant`] (settings with secrets wrapped, product mappings as
//! engine [`Source`](crate::engine::Source)s, the plan [`Selector`]) built once from a
//! [`StateDoc`] per fetch, and shared read-only by every request through an `Arc`.

use std::fmt;
use std::sync::Arc;

use super::key::KeyHash;
use super::mapping::{POLICYHOLDERS, source_of_path};
use super::secret::{Secret, SecretPolicy};
use super::state::StateDoc;
use crate::bundle::{Active, PlanSource};
use crate::plan::{PlanSet, ProductMapping, Selector};

/// The setting that names the plan pricing every product of a tenant.
pub const RATE_PLAN_SETTING: &str = "ratePlan";
/// Where the tenant's own plan bundle is (`https://...`); unset: the bundled plans.
pub const PLAN_URL_SETTING: &str = "planUrl";
/// The bearer token for `planUrl` (a Password setting).
pub const PLAN_TOKEN_SETTING: &str = "planToken";
/// The SHA-256 the tenant's bundle must have.
pub const PLAN_SHA256_SETTING: &str = "planSha256";

/// A tenant's state, resolved against the loaded plans. Shared read-only by requests.
#[derive(Debug)]
pub struct Tenant {
    /// Which plan prices which product for this tenant: resolved here, once per fetch (and
    /// again when the plans are reloaded). For a tenant with a `planUrl`, resolved against
    /// no plans at all: its plans are its bundle's, through [`Tenant::selector_for`].
    pub selector: Selector,
    /// `planUrl`, `planToken`, `planSha256`, when `planUrl` is set.
    pub plan_source: Option<PlanSource>,
    /// The selector resolved against the tenant's active bundle, and that bundle: resolved
    /// once per bundle change, not per request. A std `RwLock`, held only to clone the two
    /// `Arc`s out (or swap them), never across an `.await`.
    bundle_selector: std::sync::RwLock<Option<(Arc<Active>, Arc<Selector>)>>,
    /// Which generation of the cache's plans `selector` was resolved against.
    pub(crate) plans_generation: u64,
    /// The short hash of the tenant's key, for logs (never the key).
    pub key_hash: KeyHash,
    /// `settings`, secrets wrapped.
    pub settings: Settings,
    /// The rating mappings (policyholder mappings and unreadable paths left out), as given to
    /// [`Selector::resolve`].
    pub mappings: Vec<ProductMapping>,
    /// `socotraApiUrl`.
    pub socotra_api_url: Option<Box<str>>,
    /// `tenantHostName`.
    pub tenant_host_name: Option<Box<str>>,
    /// `token`, for calling the tenant's Socotra API.
    pub token: Option<Secret>,
    /// What was wrong in the state but did not stop the tenant from being usable.
    pub warnings: Vec<String>,
}

impl Tenant {
    /// Resolves fetched state: classifies settings, reads mapping paths, selects plans.
    ///
    /// Never fails: an unreadable mapping becomes a warning and a bad `ratePlan` becomes the
    /// [`Selector`]'s error for each request, so one bad value cannot take a tenant down.
    pub fn resolve(
        key_hash: KeyHash,
        doc: StateDoc,
        plans: &PlanSet,
        secrets: &SecretPolicy,
    ) -> Tenant {
        let mut warnings = doc.warnings;
        let settings = Settings {
            entries: doc
                .settings
                .into_iter()
                .map(|(name, value)| {
                    let value = if secrets.is_secret(&name) {
                        SettingValue::Secret(value)
                    } else {
                        SettingValue::Plain(value.expose().into())
                    };
                    (name.into_boxed_str(), value)
                })
                .collect(),
        };
        let mut mappings = Vec::new();
        for raw in doc.mappings {
            if raw.product == POLICYHOLDERS {
                continue;
            }
            let mut fields = Vec::with_capacity(raw.fields.len());
            let mut unreadable = Vec::new();
            for (name, path) in raw.fields {
                match source_of_path(&path) {
                    Ok(source) => fields.push((name, source)),
                    Err(e) => {
                        // Kept: a plan that reads this input refuses to price with it.
                        warnings.push(format!(
                            "mapping `{}` field `{name}` cannot be read: {e}",
                            raw.product
                        ));
                        unreadable.push((name, e.to_string()));
                    }
                }
            }
            mappings.push(ProductMapping {
                product: raw.product,
                fields,
                unreadable,
            });
        }
        let plan_source = plan_source(&settings);
        let selector = Selector::resolve(
            own_plans(&plan_source, plans),
            settings.plain(RATE_PLAN_SETTING),
            &mappings,
        );
        Tenant {
            selector,
            plan_source,
            bundle_selector: std::sync::RwLock::new(None),
            plans_generation: 0,
            key_hash,
            settings,
            mappings,
            socotra_api_url: doc.socotra_api_url.map(String::into_boxed_str),
            tenant_host_name: doc.tenant_host_name.map(String::into_boxed_str),
            token: doc.token,
            warnings,
        }
    }

    /// The same tenant with its plan choice resolved again against `plans` (after a plan
    /// reload): settings and mappings are kept, so no State API call is needed.
    pub fn with_plans(&self, plans: &PlanSet, plans_generation: u64) -> Tenant {
        Tenant {
            selector: Selector::resolve(
                own_plans(&self.plan_source, plans),
                self.rate_plan(),
                &self.mappings,
            ),
            plan_source: self.plan_source.clone(),
            bundle_selector: std::sync::RwLock::new(None),
            plans_generation,
            key_hash: self.key_hash,
            settings: self.settings.clone(),
            mappings: self.mappings.clone(),
            socotra_api_url: self.socotra_api_url.clone(),
            tenant_host_name: self.tenant_host_name.clone(),
            token: self.token.clone(),
            warnings: self.warnings.clone(),
        }
    }

    /// `settings.ratePlan`, when set.
    pub fn rate_plan(&self) -> Option<&str> {
        self.settings.plain(RATE_PLAN_SETTING)
    }

    /// The selector over `active` (the tenant's bundle), resolved with the tenant's
    /// `ratePlan` and mappings exactly as the bundled plans are; cached per bundle.
    pub fn selector_for(&self, active: &Arc<Active>) -> Arc<Selector> {
        if let Some((a, s)) = &*self
            .bundle_selector
            .read()
            .unwrap_or_else(|e| e.into_inner())
            && Arc::ptr_eq(a, active)
        {
            return s.clone();
        }
        let selector = Arc::new(Selector::resolve(
            &active.plans,
            self.rate_plan(),
            &self.mappings,
        ));
        *self
            .bundle_selector
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some((active.clone(), selector.clone()));
        selector
    }
}

/// The plans a tenant may be resolved against: none for a tenant with a bundle (whose
/// plans come through [`Tenant::selector_for`]), so the bundled plans can never price it.
fn own_plans<'a>(source: &Option<PlanSource>, bundled: &'a PlanSet) -> &'a PlanSet {
    static NONE: std::sync::OnceLock<PlanSet> = std::sync::OnceLock::new();
    match source {
        Some(_) => NONE.get_or_init(PlanSet::default),
        None => bundled,
    }
}

/// `planUrl` (non-blank) with its token and pin.
fn plan_source(settings: &Settings) -> Option<PlanSource> {
    let url = settings.get(PLAN_URL_SETTING)?.expose().trim();
    if url.is_empty() {
        return None;
    }
    let token = settings
        .get(PLAN_TOKEN_SETTING)
        .map(|v| v.expose().trim())
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    let pin = settings
        .get(PLAN_SHA256_SETTING)
        .map(|v| v.expose().trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .map(String::into_boxed_str);
    Some(PlanSource {
        url: url.into(),
        token,
        pin,
    })
}

/// A tenant's settings: names to string values, secrets wrapped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Sorted by name (as the State API's object is read), so lookups binary-search.
    entries: Vec<(Box<str>, SettingValue)>,
}

/// One setting's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingValue {
    /// An ordinary setting.
    Plain(Box<str>),
    /// A password setting (see [`SecretPolicy`]).
    Secret(Secret),
}

impl SettingValue {
    /// The value, secret or not. Never log it.
    pub fn expose(&self) -> &str {
        match self {
            SettingValue::Plain(s) => s,
            SettingValue::Secret(s) => s.expose(),
        }
    }
}

impl Settings {
    /// The setting called `name`.
    pub fn get(&self, name: &str) -> Option<&SettingValue> {
        self.entries
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// The setting called `name` if it is not a secret.
    pub fn plain(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            SettingValue::Plain(s) => Some(s),
            SettingValue::Secret(_) => None,
        }
    }

    /// All settings, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SettingValue)> {
        self.entries.iter().map(|(n, v)| (&**n, v))
    }

    /// How many settings there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(n, v)| (n, v)))
            .finish()
    }
}

impl FromIterator<(String, SettingValue)> for Settings {
    fn from_iter<I: IntoIterator<Item = (String, SettingValue)>>(iter: I) -> Settings {
        let mut entries: Vec<_> = iter
            .into_iter()
            .map(|(n, v)| (n.into_boxed_str(), v))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        Settings { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Level, Source};
    use crate::plan::SelectError;

    fn doc(json: &str) -> StateDoc {
        StateDoc::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn wraps_secrets_and_keeps_plain_settings() {
        let state = doc(
            r#"{"token":"jwt-123","settings":{"ratePlan":"personal-auto",
            "apiKey":"k-999","db-password":"pw-1","week":"WED"}}"#,
        );
        let t = Tenant::resolve(
            KeyHash::of("k"),
            state,
            &PlanSet::new(vec![]),
            &SecretPolicy::new(["apiKey"]),
        );
        assert_eq!(t.rate_plan(), Some("personal-auto"));
        assert_eq!(t.settings.plain("week"), Some("WED"));
        assert_eq!(t.settings.plain("apiKey"), None);
        assert_eq!(t.settings.get("apiKey").map(|v| v.expose()), Some("k-999"));
        assert!(matches!(
            t.settings.get("db-password"),
            Some(SettingValue::Secret(_))
        ));
        let debug = format!("{t:?}");
        for secret in ["jwt-123", "k-999", "pw-1"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn mappings_become_sources_and_bad_paths_warnings() {
        let state = doc(r#"{"mappings":[
            {"productName":"policyholders","fields":{"n":"policyholder.fields[?(@.name=='last_name')]"}},
            {"productName":"personal-auto","fields":{
                "vehicle_value":"$[?(@.name=='personal-auto')].policyConfiguration.exposures[?(@.name=='vehicle')].fields[?(@.name=='vv')]",
                "channel":"$[?(@.name=='personal-auto')].policyConfiguration.fields[?(@.name=='ch')]",
                "broken":"$.nothing"}}]}"#);
        let t = Tenant::resolve(
            KeyHash::of("k"),
            state,
            &PlanSet::new(vec![]),
            &SecretPolicy::default(),
        );
        assert_eq!(t.mappings.len(), 1);
        assert_eq!(t.mappings[0].product, "personal-auto");
        assert_eq!(
            t.mappings[0].fields,
            vec![
                (
                    "channel".to_owned(),
                    Source::Field {
                        level: Level::Policy,
                        name: "ch".into()
                    }
                ),
                (
                    "vehicle_value".to_owned(),
                    Source::Field {
                        level: Level::Exposure,
                        name: "vv".into()
                    }
                ),
            ]
        );
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        assert!(t.warnings[0].contains("broken"));
    }

    #[test]
    fn rate_plan_goes_to_the_selector() {
        let date = jiff::civil::date(2024, 1, 1);
        let t = Tenant::resolve(
            KeyHash::of("k"),
            doc(r#"{"settings":{"ratePlan":"nope"}}"#),
            &PlanSet::new(vec![]),
            &SecretPolicy::default(),
        );
        assert_eq!(
            t.selector.select("personal-auto", date).err(),
            Some(SelectError::UnknownPlan("nope".into()))
        );
        let t = Tenant::resolve(
            KeyHash::of("k"),
            doc("{}"),
            &PlanSet::new(vec![]),
            &SecretPolicy::default(),
        );
        assert!(matches!(
            t.selector.select("personal-auto", date),
            Err(SelectError::NoPlanForProduct { .. })
        ));
    }
}
