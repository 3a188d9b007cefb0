//! The rating request as pricing reads it: simd-json's tape of the body, indexed in place.
//!
//! Why this is the fast path (see docs/PERFORMANCE.md for the figures):
//!
//! - **Only what rating reads is parsed.** [`super::prune`] first copies the members rating
//!   reads into a per-thread buffer (36 KB of a real request become 3.5 KB), jumping over
//!   the rest with SIMD; simd-json parses that. When pruning gives up, or the pruned body
//!   fails in any way, the whole body is parsed as before, so every error (and its offset)
//!   is the whole body's.
//! - **No tree is built.** simd-json validates the (pruned) body and writes its tape (one flat
//!   `Vec<Node>`, strings unescaped in place and borrowed from the pruned copy); every object and
//!   array node carries the size of its subtree, so skipping `invoices`, `documents`,
//!   `modifications` and every other key rating does not read is one addition, not a walk.
//! - **Only the policy skeleton is indexed**: one pass over the top-level keys, the policy's
//!   rating keys, its characteristics, exposures, perils and peril characteristics records
//!   node *indexes* (`u32`) into flat vectors. Of the characteristics, only those a triplet
//!   of `policyExposurePerils` names are read, when every triplet names all three kinds:
//!   Socotra sends each entity's earlier versions too, and rating uses only the ones it is
//!   asked about (CONTRACT.md 3.2). The others are not checked either,
//!   so a wrong shape in an old version does not refuse the request. `fieldValues` are not materialised at all:
//!   the engine reads the handful of fields its plan names by scanning that object's nodes
//!   on the tape (a characteristic has a few dozen fields; a scan over borrowed keys is
//!   cheaper than building any map).
//! - **Nothing is allocated in steady state.** The tape, simd-json's buffers and the index
//!   vectors live in one thread-local scratch and are reused by the next request on the
//!   thread; indexes are plain integers, so reusing them across requests (bodies of
//!   different lifetimes) needs no unsafe code. The only per-request allocation left here
//!   is an integer sent where Socotra sends a string (rendered once to text), which
//!   Socotra's requests never do.
//!
//! Shape checks follow the serde types of [`super::request`] (the typed model this replaced
//! on the hot path and the benchmark baseline): the same keys, a missing key is the same
//! default, a string key holding a number or an object is refused, a scalar slot takes the
//! first element of an array, an integer as its text, a float as absent.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use simd_json::{Buffers, Node, StaticNode, Tape};

use crate::engine::{Builtin, InputSource, Level, Source};

/// How deep JSON may nest. Socotra policies nest about ten levels; the limit stops a
/// hostile body from making the parser recurse without bound.
pub const MAX_JSON_DEPTH: usize = 64;

/// A tape index; `NONE` is an absent (or `null`) value.
type Ix = u32;
const NONE: Ix = Ix::MAX;

/// Why a body is not a usable rating request.
#[derive(Debug)]
pub enum PayloadError {
    /// Not JSON (simd-json's error, with its byte offset).
    Json(simd_json::Error),
    /// Valid JSON of the wrong shape: a key holds the wrong type.
    Invalid {
        /// The JSON path, for example `policy.exposures[0].name`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Clone, Copy, Debug)]
struct CharIx {
    locator: Ix,
    field_values: Ix,
    /// `fieldGroupsByLocator`: an object of member objects (each checked like `fieldValues`).
    field_groups: Ix,
    /// The first scalar of each of [`POLICY_SCALARS`] (a policy characteristic's; `NONE`
    /// on exposure characteristics, which have none of them).
    scalars: [Ix; POLICY_SCALARS.len()],
}

/// The builtins read as scalars off the priced peril characteristic, by their Socotra key
/// ([`Builtin::as_str`]), and those read off the priced policy characteristic. These two
/// lists are the one place a builtin scalar is declared: the indexer looks for these keys,
/// [`PerilRef`] reads them by their place here, and the pruner keeps them (its `READ` table
/// is built from these lists at compile time). A new timestamp or amount a plan may read is
/// a [`Builtin`] and a line here; every field value and field group member is readable with
/// no code at all (`fieldValues` and `fieldGroupsByLocator` are kept whole).
pub(crate) const PERIL_SCALARS: [Builtin; 7] = [
    Builtin::CoverageStart,
    Builtin::CoverageEnd,
    Builtin::IndemnityInAggregate,
    Builtin::IndemnityPerEvent,
    Builtin::IndemnityPerItem,
    Builtin::Deductible,
    Builtin::LumpSumPayment,
];

/// See [`PERIL_SCALARS`].
pub(crate) const POLICY_SCALARS: [Builtin; 2] = [Builtin::PolicyStart, Builtin::PolicyEnd];

/// Where a builtin scalar is on the tape's index: (on the policy characteristic, its place
/// in its list). The rating date is the policy's start, read as a date.
fn scalar_slot(b: Builtin) -> Option<(bool, usize)> {
    let b = if b == Builtin::RatingDate {
        Builtin::PolicyStart
    } else {
        b
    };
    if let Some(k) = PERIL_SCALARS.iter().position(|x| *x == b) {
        return Some((false, k));
    }
    POLICY_SCALARS
        .iter()
        .position(|x| *x == b)
        .map(|k| (true, k))
}

#[derive(Clone, Copy, Debug)]
struct PerilCharIx {
    locator: Ix,
    /// The first scalar of each of [`PERIL_SCALARS`].
    scalars: [Ix; PERIL_SCALARS.len()],
    field_values: Ix,
}

#[derive(Clone, Debug)]
struct PerilIx {
    name: Ix,
    chars: Range<u32>,
}

#[derive(Clone, Debug)]
struct ExposureIx {
    name: Ix,
    chars: Range<u32>,
    perils: Range<u32>,
}

#[derive(Clone, Copy, Debug)]
struct TripletIx {
    policy: Ix,
    exposure: Ix,
    peril: Ix,
}

/// The request's skeleton: tape indexes only, so it can be reused across requests.
#[derive(Debug, Default)]
struct Index {
    operation: Ix,
    tenant_time_zone: Ix,
    has_policy: bool,
    product_name: Ix,
    payment_schedule_name: Ix,
    original_contract_start: Ix,
    /// `None`: `policyExposurePerils` absent or `null`.
    triplets_present: bool,
    policy_chars: Range<u32>,
    /// Policy characteristics first, then every exposure's.
    chars: Vec<CharIx>,
    peril_chars: Vec<PerilCharIx>,
    perils: Vec<PerilIx>,
    exposures: Vec<ExposureIx>,
    triplets: Vec<TripletIx>,
    /// The locators the triplets name, by kind (policy, exposure, peril), each sorted by
    /// text; empty when characteristics are not filtered ([`Index::filter`]).
    named: [Vec<Ix>; 3],
    /// Whether only named characteristics are read: every triplet names all three.
    filter: bool,
    /// Integer scalars rendered as text, by tape index, in tape order (binary searched).
    ints: Vec<(Ix, String)>,
}

impl Index {
    fn clear(&mut self) {
        self.operation = NONE;
        self.tenant_time_zone = NONE;
        self.has_policy = false;
        self.product_name = NONE;
        self.payment_schedule_name = NONE;
        self.original_contract_start = NONE;
        self.triplets_present = false;
        self.policy_chars = 0..0;
        self.chars.clear();
        self.peril_chars.clear();
        self.perils.clear();
        self.exposures.clear();
        self.triplets.clear();
        for named in &mut self.named {
            named.clear();
        }
        self.filter = false;
        self.ints.clear();
    }
}

/// Per-thread scratch: the pruned body, simd-json's buffers, the tape's storage and the
/// index.
struct Scratch {
    pruned: Vec<u8>,
    /// A copy of the whole body, for the rare parse that cannot be pruned (simd-json
    /// unescapes strings in place, and the body itself is only lent to us).
    whole: Vec<u8>,
    /// The body's structure, one entry per 64 bytes ([`super::structure`]).
    blocks: Vec<super::structure::Block>,
    buffers: Buffers,
    tape: Vec<Node<'static>>,
    index: Index,
}

impl Scratch {
    fn new(len: usize) -> Scratch {
        Scratch {
            pruned: Vec::with_capacity(len + simd_json::INPUT_PADDING),
            whole: Vec::new(),
            blocks: Vec::with_capacity(len.div_ceil(64)),
            buffers: Buffers::with_max_depth(len, MAX_JSON_DEPTH),
            tape: Vec::new(),
            index: Index::default(),
        }
    }
}

/// The scratch's starting size, and the body size above which it is not kept.
const SCRATCH_START_BYTES: usize = 64 * 1024;
const SCRATCH_KEEP_BYTES: usize = 512 * 1024;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new(SCRATCH_START_BYTES));
}

/// Why a triplet cannot be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// No peril characteristic has the locator.
    Peril,
    /// The peril characteristic's exposure has no characteristic with the triplet's locator.
    Exposure,
    /// The policy has no characteristic with the triplet's locator.
    Policy,
}

/// Peril characteristics by locator: `(exposure, peril, peril characteristic)` indexes.
#[derive(Debug, Default)]
pub struct LocatorIndex<'t> {
    at: HashMap<&'t str, (u32, u32, u32)>,
}

/// From this many triplets on, [`Payload::locator_index`] is worth its allocation.
pub const INDEX_FROM: usize = 32;

/// A parsed and indexed rating request, borrowing the body (`'a`) and the scratch (`'t`).
#[derive(Clone, Copy)]
pub struct Payload<'t, 'a> {
    tape: &'t [Node<'a>],
    ix: &'t Index,
}

impl std::fmt::Debug for Payload<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("nodes", &self.tape.len())
            .field("exposures", &self.ix.exposures.len())
            .field("triplets", &self.ix.triplets.len())
            .finish()
    }
}

/// One entry of `policyExposurePerils`.
#[derive(Clone, Copy, Debug)]
pub struct Triplet<'t> {
    /// `policyCharacteristicsLocator`.
    pub policy: Option<&'t str>,
    /// `exposureCharacteristicsLocator`.
    pub exposure: Option<&'t str>,
    /// `perilCharacteristicsLocator`.
    pub peril: Option<&'t str>,
}

impl<'t, 'a: 't> Payload<'t, 'a> {
    /// Parses and indexes `body`, then calls `f` with the result. The parse buffers are
    /// this thread's and are reused; `body` is only read.
    ///
    /// The body is first pruned to the members rating reads ([`super::prune`]) into one of
    /// those buffers, which simd-json then parses in place; only when pruning gives up is
    /// the whole body copied into another and parsed.
    pub fn with<R>(body: &[u8], f: impl FnOnce(Result<Payload<'_, '_>, PayloadError>) -> R) -> R {
        Self::with_mode(body, true, f)
    }

    /// [`Payload::with`] without pruning: simd-json parses the whole body. The reference
    /// the pruned path is tested and benchmarked against.
    #[doc(hidden)]
    pub fn with_unpruned<R>(
        body: &[u8],
        f: impl FnOnce(Result<Payload<'_, '_>, PayloadError>) -> R,
    ) -> R {
        Self::with_mode(body, false, f)
    }

    fn with_mode<R>(
        body: &[u8],
        prune: bool,
        f: impl FnOnce(Result<Payload<'_, '_>, PayloadError>) -> R,
    ) -> R {
        let mut f = Some(f);
        let reused = SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut scratch) => {
                let r = run(body, prune, &mut scratch, f.take().expect("called once"));
                // The buffers grow to the largest body seen; after a rare huge one (up to
                // the body limit, 4 MiB by default) they are given back rather than kept
                // by the thread for good. Real requests (12-54 KB) never get here.
                if body.len() > SCRATCH_KEEP_BYTES {
                    *scratch = Scratch::new(SCRATCH_START_BYTES);
                }
                Some(r)
            }
            Err(_) => None,
        });
        match reused {
            Some(r) => r,
            // Re-entrancy cannot happen (nothing called from `f` parses), but fresh scratch
            // is the safe answer if it ever did.
            None => run(
                body,
                prune,
                &mut Scratch::new(body.len()),
                f.take().expect("called once"),
            ),
        }
    }

    /// `operation`.
    pub fn operation(&self) -> Option<&'t str> {
        self.string(self.ix.operation)
    }

    /// `tenantTimeZone`.
    pub fn tenant_time_zone(&self) -> Option<&'t str> {
        self.string(self.ix.tenant_time_zone)
    }

    /// Whether `policy` is present (and not `null`).
    pub fn has_policy(&self) -> bool {
        self.ix.has_policy
    }

    /// `policy.productName`.
    pub fn product_name(&self) -> Option<&'t str> {
        self.string(self.ix.product_name)
    }

    /// `policy.paymentScheduleName`.
    pub fn payment_schedule_name(&self) -> Option<&'t str> {
        self.string(self.ix.payment_schedule_name)
    }

    /// `policy.originalContractStartTimestamp` (epoch ms, as text).
    pub fn original_contract_start_timestamp(&self) -> Option<&'t str> {
        self.scalar(self.ix.original_contract_start)
    }

    /// `policyExposurePerils`, or `None` when absent or `null`.
    pub fn triplets(&self) -> Option<impl ExactSizeIterator<Item = Triplet<'t>> + '_> {
        self.ix.triplets_present.then(|| {
            self.ix.triplets.iter().map(|t| Triplet {
                policy: self.string(t.policy),
                exposure: self.string(t.exposure),
                peril: self.string(t.peril),
            })
        })
    }

    /// The number of entries of `policyExposurePerils`.
    pub fn triplet_count(&self) -> usize {
        self.ix.triplets.len()
    }

    /// Resolves a triplet to its entities by locator, exactly as the typed model did: the
    /// peril characteristic by `perilCharacteristicsLocator` (first match across exposures),
    /// its exposure characteristic by locator within the same exposure (the last one when no
    /// locator is given), the policy characteristic by locator (likewise). A linear scan over
    /// the index: policies have a few exposures with a few perils each; nothing allocates.
    pub fn resolve(
        &self,
        peril_loc: &str,
        exposure_loc: Option<&str>,
        policy_loc: Option<&str>,
    ) -> Result<PerilRef<'t, 'a>, Unresolved> {
        self.resolve_indexed(None, peril_loc, exposure_loc, policy_loc)
    }

    /// Every peril characteristic by locator (the first one of a locator listed twice, as
    /// the scan finds it). Built once per request when it prices many perils
    /// ([`INDEX_FROM`] or more triplets): a 4 MiB request can hold ~28,000 peril
    /// characteristics and as many triplets, and resolving each triplet by a scan is then
    /// quadratic (measured before this index: 20,000 perils took 0.46 s of a worker thread).
    pub fn locator_index(&self) -> LocatorIndex<'t> {
        let ix = self.ix;
        let mut at = HashMap::with_capacity(ix.peril_chars.len());
        for (e, exposure) in ix.exposures.iter().enumerate() {
            for p in exposure.perils.clone() {
                for c in ix.perils[p as usize].chars.clone() {
                    if let Some(loc) = self.string(ix.peril_chars[c as usize].locator) {
                        at.entry(loc).or_insert((e as u32, p, c));
                    }
                }
            }
        }
        LocatorIndex { at }
    }

    /// [`Payload::resolve`], finding the peril characteristic through `index` when given.
    pub fn resolve_indexed(
        &self,
        index: Option<&LocatorIndex<'_>>,
        peril_loc: &str,
        exposure_loc: Option<&str>,
        policy_loc: Option<&str>,
    ) -> Result<PerilRef<'t, 'a>, Unresolved> {
        let ix = self.ix;
        let found = match index {
            Some(index) => index.at.get(peril_loc).copied(),
            None => ix.exposures.iter().enumerate().find_map(|(e, exposure)| {
                exposure.perils.clone().find_map(|p| {
                    ix.perils[p as usize]
                        .chars
                        .clone()
                        .find(|&c| {
                            self.string(ix.peril_chars[c as usize].locator) == Some(peril_loc)
                        })
                        .map(|c| (e as u32, p, c))
                })
            }),
        };
        let (e, p, pc) = found.ok_or(Unresolved::Peril)?;
        let find = |range: &Range<u32>, loc: Option<&str>| -> Option<u32> {
            match loc {
                Some(loc) => range
                    .clone()
                    .find(|&c| self.string(ix.chars[c as usize].locator) == Some(loc)),
                None => range.clone().next_back(),
            }
        };
        let exposure = &ix.exposures[e as usize];
        let exposure_char = find(&exposure.chars, exposure_loc).ok_or(Unresolved::Exposure)?;
        let policy_char = find(&ix.policy_chars, policy_loc).ok_or(Unresolved::Policy)?;
        Ok(PerilRef {
            payload: *self,
            exposure: e,
            exposure_char,
            peril: p,
            peril_char: pc,
            policy_char,
        })
    }

    /// Everything the index holds, as text: every skeleton value, and every `fieldValues`
    /// entry as the engine would read it (its first scalar, or why it is unusable). Two
    /// bodies that rate alike dump alike; the differential tests of pruning compare these.
    #[doc(hidden)]
    pub fn dump(&self) -> String {
        use std::fmt::Write;
        let ix = self.ix;
        let mut out = String::new();
        let s = |i: Ix| self.scalar(i).map(str::to_owned);
        let fields = |out: &mut String, fv: Ix| {
            if fv == NONE {
                out.push_str(" fieldValues=none");
                return;
            }
            for (key, v) in entries(self.tape, fv as usize).into_iter().flatten() {
                let node = first_scalar(self.tape, v as Ix);
                let _ = write!(out, " {key}={:?}/{:?}", s(node), self.unusable_node(node));
            }
        };
        let _ = writeln!(
            out,
            "operation={:?} tz={:?} policy={} product={:?} schedule={:?} start={:?} triplets={}",
            s(ix.operation),
            s(ix.tenant_time_zone),
            ix.has_policy,
            s(ix.product_name),
            s(ix.payment_schedule_name),
            s(ix.original_contract_start),
            ix.triplets_present,
        );
        for t in &ix.triplets {
            let _ = writeln!(
                out,
                "triplet {:?} {:?} {:?}",
                s(t.policy),
                s(t.exposure),
                s(t.peril)
            );
        }
        let _ = writeln!(out, "policy chars {:?}", ix.policy_chars);
        for c in &ix.chars {
            let _ = write!(
                out,
                "char {:?} scalars {:?}",
                s(c.locator),
                c.scalars.map(s)
            );
            fields(&mut out, c.field_values);
            if c.field_groups != NONE {
                for (locator, g) in entries(self.tape, c.field_groups as usize)
                    .into_iter()
                    .flatten()
                {
                    let _ = write!(out, " group {locator:?}:");
                    if matches!(self.tape[g], Node::Object { .. }) {
                        fields(&mut out, g as Ix);
                    }
                }
            }
            out.push('\n');
        }
        for e in &ix.exposures {
            let _ = writeln!(out, "exposure {:?} {:?} {:?}", s(e.name), e.chars, e.perils);
        }
        for p in &ix.perils {
            let _ = writeln!(out, "peril {:?} {:?}", s(p.name), p.chars);
        }
        for c in &ix.peril_chars {
            let scalars: Vec<_> = c
                .scalars
                .iter()
                .map(|&i| (s(i), self.unusable_node(i)))
                .collect();
            let _ = write!(out, "peril char {:?} {scalars:?}", s(c.locator));
            fields(&mut out, c.field_values);
            out.push('\n');
        }
        out
    }

    /// A string value (strings are validated as such when indexed).
    fn string(&self, i: Ix) -> Option<&'t str> {
        match self.tape.get(i as usize)? {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a first-scalar node: a string, an integer's rendering, a boolean.
    fn scalar(&self, i: Ix) -> Option<&'t str> {
        match self.tape.get(i as usize)? {
            Node::String(s) => Some(s),
            Node::Static(StaticNode::Bool(b)) => Some(if *b { "true" } else { "false" }),
            Node::Static(StaticNode::I64(_) | StaticNode::U64(_)) => {
                let ints = &self.ix.ints;
                let at = ints.binary_search_by_key(&i, |(k, _)| *k).ok()?;
                Some(ints[at].1.as_str())
            }
            _ => None,
        }
    }

    /// The tape index of member `key`'s value in the object at `object` (not its first
    /// scalar: a field group's list is read whole).
    fn value_node(&self, object: Ix, key: &str) -> Option<Ix> {
        self.tape.get(object as usize)?;
        entries(self.tape, object as usize)?
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v as Ix)
    }

    /// `fieldValues[name]`'s first scalar, scanning the object on the tape.
    fn field(&self, field_values: Ix, name: &str) -> Option<&'t str> {
        self.scalar(self.field_node(field_values, name)?)
    }

    /// The tape index of `fieldValues[name]`'s first scalar.
    fn field_node(&self, field_values: Ix, name: &str) -> Option<Ix> {
        let tape = self.tape;
        let Some(Node::Object { len, .. }) = tape.get(field_values as usize) else {
            return None;
        };
        let mut i = field_values as usize + 1;
        for _ in 0..*len {
            let key = match tape[i] {
                Node::String(k) => k,
                _ => return None,
            };
            i += 1;
            if key == name {
                return Some(first_scalar(tape, i as Ix));
            }
            i += span(&tape[i]);
        }
        None
    }

    /// Why the value at `i` reads as absent although it is there: floats are refused (money
    /// and timestamps never pass through binary floating point) and objects are not values.
    /// `null` and empty arrays are simply absent.
    fn unusable_node(&self, i: Ix) -> Option<&'static str> {
        match self.tape.get(i as usize)? {
            Node::Static(StaticNode::F64(_)) => Some(
                "a JSON number with a fraction or an exponent (send decimals as strings, as Socotra does)",
            ),
            Node::Object { .. } => Some("an object, not a value"),
            _ => None,
        }
    }
}

/// One peril characteristic to price, with the entities above it: the engine's input.
#[derive(Clone, Copy, Debug)]
pub struct PerilRef<'t, 'a> {
    payload: Payload<'t, 'a>,
    exposure: u32,
    exposure_char: u32,
    peril: u32,
    peril_char: u32,
    policy_char: u32,
}

impl<'t, 'a: 't> PerilRef<'t, 'a> {
    /// `perils[].name`.
    pub fn peril_name(&self) -> Option<&'t str> {
        let p = &self.payload;
        p.string(p.ix.perils[self.peril as usize].name)
    }

    /// The priced policy characteristic's `policyStartTimestamp` (epoch ms, as text).
    pub fn policy_start_timestamp(&self) -> Option<&'t str> {
        let p = &self.payload;
        self.builtin_node(Builtin::PolicyStart)
            .and_then(|i| p.scalar(i))
    }

    /// The tape index of a scalar builtin's value, if the builtin is read off a
    /// characteristic ([`PERIL_SCALARS`], [`POLICY_SCALARS`]).
    fn builtin_node(&self, b: Builtin) -> Option<Ix> {
        let ix = self.payload.ix;
        Some(match scalar_slot(b)? {
            (true, k) => ix.chars[self.policy_char as usize].scalars[k],
            (false, k) => ix.peril_chars[self.peril_char as usize].scalars[k],
        })
    }

    /// The policy or exposure characteristic at `level` (field groups live there).
    fn char_of(&self, level: Level) -> Option<&'t CharIx> {
        let ix = self.payload.ix;
        match level {
            Level::Policy => Some(&ix.chars[self.policy_char as usize]),
            Level::Exposure => Some(&ix.chars[self.exposure_char as usize]),
            Level::Peril => None,
        }
    }

    /// The tape index of member `member`'s field `name` (its first scalar).
    fn member_node(&self, level: Level, group: &str, member: usize, name: &str) -> Option<Ix> {
        let p = &self.payload;
        let c = self.char_of(level)?;
        let list = p.value_node(c.field_values, group)?;
        let locator = match p.tape.get(list as usize)? {
            Node::Array { .. } => elements(p.tape, list as usize)
                .nth(member)
                .and_then(|e| p.string(e as Ix))?,
            Node::String(s) if member == 0 => *s,
            _ => return None,
        };
        let fields = p.value_node(c.field_groups, locator)?;
        p.field_node(fields, name)
    }
}

impl<'t, 'a: 't> InputSource for PerilRef<'t, 'a> {
    fn field(&self, level: Level, name: &str) -> Option<&str> {
        let p = &self.payload;
        let fv = match level {
            Level::Policy => p.ix.chars[self.policy_char as usize].field_values,
            Level::Exposure => p.ix.chars[self.exposure_char as usize].field_values,
            Level::Peril => p.ix.peril_chars[self.peril_char as usize].field_values,
        };
        p.field(fv, name)
    }

    fn builtin(&self, builtin: Builtin) -> Option<&str> {
        let p = &self.payload;
        match builtin {
            Builtin::PerilName => self.peril_name(),
            Builtin::ExposureName => p.string(p.ix.exposures[self.exposure as usize].name),
            Builtin::ProductName => p.product_name(),
            Builtin::PaymentSchedule => p.payment_schedule_name(),
            other => p.scalar(self.builtin_node(other)?),
        }
    }

    fn members(&self, level: Level, group: &str) -> Option<usize> {
        let p = &self.payload;
        let list = p.value_node(self.char_of(level)?.field_values, group)?;
        match p.tape.get(list as usize)? {
            Node::Array { len, .. } => Some(*len),
            Node::String(_) => Some(1),
            _ => None,
        }
    }

    fn member_field(&self, level: Level, group: &str, member: usize, name: &str) -> Option<&str> {
        let p = &self.payload;
        p.scalar(self.member_node(level, group, member, name)?)
    }

    fn policy_key(&self) -> Option<u32> {
        Some(self.policy_char)
    }

    fn exposure_count(&self, name: &str) -> usize {
        let p = &self.payload;
        p.ix.exposures
            .iter()
            .filter(|e| p.string(e.name) == Some(name))
            .count()
    }

    fn unusable(&self, source: &Source) -> Option<&'static str> {
        let p = &self.payload;
        let pc = &p.ix.peril_chars[self.peril_char as usize];
        let node = match source {
            Source::Field { level, name } => {
                let fv = match level {
                    Level::Policy => p.ix.chars[self.policy_char as usize].field_values,
                    Level::Exposure => p.ix.chars[self.exposure_char as usize].field_values,
                    Level::Peril => pc.field_values,
                };
                p.field_node(fv, name)?
            }
            Source::Member { level, group, name } => {
                // The first member that has the field but no usable value.
                let n = self.members(*level, group)?;
                return (0..n)
                    .find_map(|m| p.unusable_node(self.member_node(*level, group, m, name)?));
            }
            Source::Builtin(b) => self.builtin_node(*b)?,
        };
        p.unusable_node(node)
    }
}

fn run<R>(
    body: &[u8],
    prune: bool,
    scratch: &mut Scratch,
    f: impl FnOnce(Result<Payload<'_, '_>, PayloadError>) -> R,
) -> R {
    let Scratch {
        pruned,
        whole,
        blocks,
        buffers,
        tape: store,
        index,
    } = scratch;
    // The pruned body is never longer than the body; with simd-json's padding it fits in
    // this capacity, which stays with the thread (no allocation once warm). Cleared first,
    // so the reserve counts from zero and not from the last request's length.
    pruned.clear();
    pruned.reserve(body.len() + simd_json::INPUT_PADDING);
    // Pruning also checks the whole body's UTF-8, since simd-json will only see the
    // pruned part.
    if prune && super::prune::prune(body, pruned, blocks).is_ok() {
        // simd-json reads past the end in 64-byte blocks; padding it ourselves saves the
        // padded copy `fill_tape` would make.
        let len = pruned.len();
        pruned.resize(len + simd_json::INPUT_PADDING, b' ');
        // The tape's storage is taken out of the scratch (an empty Vec, no allocation),
        // given this input's lifetime while empty, and put back emptied: its capacity is
        // reused.
        let mut tape: Tape<'_> = Tape(std::mem::take(store)).reset();
        if simd_json::fill_tape_padded(&mut pruned[..], len, buffers, &mut tape).is_ok() {
            index.clear();
            if Indexer::new(&tape.0, index).request().is_ok() {
                let r = f(Ok(Payload {
                    tape: &tape.0,
                    ix: index,
                }));
                *store = tape.reset().0;
                return r;
            }
        }
        // Any error: the whole body is parsed below, so the caller gets exactly the error
        // of the body it sent (its offset, and a syntax error in a dropped member rather
        // than a shape error it may have hidden).
        *store = tape.reset().0;
    }
    whole.clear();
    whole.extend_from_slice(body);
    let mut tape: Tape<'_> = Tape(std::mem::take(store)).reset();
    match simd_json::fill_tape(&mut whole[..], buffers, &mut tape) {
        Ok(()) => index_and_call(tape, store, index, f),
        Err(e) => {
            *store = tape.reset().0;
            f(Err(PayloadError::Json(e)))
        }
    }
}

/// Indexes a parsed tape, gives the result to `f`, and puts the tape's storage back.
fn index_and_call<R>(
    tape: Tape<'_>,
    store: &mut Vec<Node<'static>>,
    index: &mut Index,
    f: impl FnOnce(Result<Payload<'_, '_>, PayloadError>) -> R,
) -> R {
    index.clear();
    let r = match Indexer::new(&tape.0, index).request() {
        Ok(()) => f(Ok(Payload {
            tape: &tape.0,
            ix: index,
        })),
        Err(e) => f(Err(e)),
    };
    *store = tape.reset().0;
    r
}

/// How many tape nodes the value at `node` spans, itself included.
fn span(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// The node a scalar slot reads: the value itself, or the first element of an array (of an
/// array...); `NONE` for an empty array. Objects, floats and `null` are returned as is and
/// read as absent.
fn first_scalar(tape: &[Node<'_>], mut i: Ix) -> Ix {
    loop {
        match tape.get(i as usize) {
            Some(Node::Array { len: 0, .. }) => return NONE,
            Some(Node::Array { .. }) => i += 1,
            Some(_) => return i,
            None => return NONE,
        }
    }
}

/// Iterates an object's entries: `(key, value index)`; `None` if `i` is not an object.
fn entries<'t, 'a>(
    tape: &'t [Node<'a>],
    i: usize,
) -> Option<impl Iterator<Item = (&'a str, usize)> + 't> {
    let Node::Object { len, .. } = tape[i] else {
        return None;
    };
    let mut at = i + 1;
    Some((0..len).map(move |_| {
        let key = match tape[at] {
            Node::String(k) => k,
            // simd-json's tape always has a string key here.
            _ => "",
        };
        let value = at + 1;
        at = value + span(&tape[value]);
        (key, value)
    }))
}

/// The elements of an array (none if `i` is not one): their indexes.
fn elements<'t>(tape: &'t [Node<'_>], i: usize) -> impl Iterator<Item = usize> + 't {
    let len = match tape[i] {
        Node::Array { len, .. } => len,
        _ => 0,
    };
    let mut at = i + 1;
    (0..len).map(move |_| {
        let e = at;
        at += span(&tape[e]);
        e
    })
}

/// Builds the [`Index`] in one pass over the parts of the tape rating reads.
struct Indexer<'t, 'a, 'x> {
    tape: &'t [Node<'a>],
    ix: &'x mut Index,
}

/// Which locator of a triplet names a characteristic: [`Index::named`]'s order.
#[derive(Clone, Copy)]
enum Named {
    Policy = 0,
    Exposure = 1,
    Peril = 2,
}

/// What kind of value a key must hold.
enum Kind {
    /// A string or `null`.
    Str,
    /// A scalar slot (see [`first_scalar`]).
    Scalar,
}

impl<'t, 'a, 'x> Indexer<'t, 'a, 'x> {
    fn new(tape: &'t [Node<'a>], ix: &'x mut Index) -> Self {
        Indexer { tape, ix }
    }

    /// Checks a value against its kind and returns the index to store.
    fn value(
        &mut self,
        i: usize,
        kind: Kind,
        path: &dyn Fn() -> String,
    ) -> Result<Ix, PayloadError> {
        let node = self.tape[i];
        match kind {
            Kind::Str => match node {
                Node::String(_) => Ok(i as Ix),
                Node::Static(StaticNode::Null) => Ok(NONE),
                other => Err(invalid(
                    path(),
                    format!("must be a string, not {}", what(&other)),
                )),
            },
            Kind::Scalar => {
                let s = first_scalar(self.tape, i as Ix);
                if let Some(Node::Static(n @ (StaticNode::I64(_) | StaticNode::U64(_)))) =
                    self.tape.get(s as usize)
                {
                    self.int(s, n);
                }
                Ok(s)
            }
        }
    }

    /// Renders an integer scalar once (`request` sorts `ints` by tape index at the end).
    #[cold]
    fn int(&mut self, i: Ix, n: &StaticNode) {
        let text = match n {
            StaticNode::I64(v) => v.to_string(),
            StaticNode::U64(v) => v.to_string(),
            _ => return,
        };
        self.ix.ints.push((i, text));
    }

    /// Records `slot` once; a key given twice is refused, as serde refuses it.
    fn once(
        slot: &mut Option<usize>,
        value: usize,
        path: &dyn Fn() -> String,
    ) -> Result<(), PayloadError> {
        if slot.replace(value).is_some() {
            let p = path();
            let name = p.rsplit('.').next().unwrap_or(&p).to_owned();
            return Err(invalid(p, format!("duplicate field `{name}`")));
        }
        Ok(())
    }

    fn request(mut self) -> Result<(), PayloadError> {
        let Some(entries) = entries(self.tape, 0) else {
            return Err(invalid(
                String::new(),
                format!(
                    "a rating request must be a JSON object, not {}",
                    what(&self.tape[0])
                ),
            ));
        };
        let (mut op, mut tz, mut policy, mut triplets) = (None, None, None, None);
        for (key, v) in entries {
            match key {
                "operation" => Self::once(&mut op, v, &|| "operation".into())?,
                "tenantTimeZone" => Self::once(&mut tz, v, &|| "tenantTimeZone".into())?,
                "policy" => Self::once(&mut policy, v, &|| "policy".into())?,
                "policyExposurePerils" => {
                    Self::once(&mut triplets, v, &|| "policyExposurePerils".into())?
                }
                _ => {}
            }
        }
        if let Some(v) = op {
            self.ix.operation = self.value(v, Kind::Str, &|| "operation".into())?;
        }
        if let Some(v) = tz {
            self.ix.tenant_time_zone = self.value(v, Kind::Str, &|| "tenantTimeZone".into())?;
        }
        // The triplets are indexed before the policy, since they decide which of its
        // characteristics are read; a triplet's error is still reported after the
        // policy's, as before.
        let triplets = match triplets {
            Some(v) => self.triplets(v),
            None => Ok(()),
        };
        if triplets.is_ok() {
            self.named();
        }
        if let Some(v) = policy {
            self.policy(v)?;
        }
        // Integers are rendered as met; a characteristic's members are visited in a fixed
        // order, not always the tape's, so the list is sorted for the binary search (it is
        // empty for Socotra's requests, which send strings).
        if !self.ix.ints.is_sorted_by_key(|(i, _)| *i) {
            self.ix.ints.sort_unstable_by_key(|(i, _)| *i);
        }
        triplets
    }

    /// Collects the locators the triplets name ([`Index::named`]) and turns filtering on,
    /// when every triplet names all three: only then is a characteristic no triplet names
    /// never resolved (an absent locator resolves to the entity's last characteristic).
    fn named(&mut self) {
        let ix = &mut *self.ix;
        if ix.triplets.is_empty()
            || ix
                .triplets
                .iter()
                .any(|t| t.policy == NONE || t.exposure == NONE || t.peril == NONE)
        {
            return;
        }
        let tape = self.tape;
        let text = |i: &Ix| match tape[*i as usize] {
            Node::String(s) => s,
            _ => "",
        };
        for t in &ix.triplets {
            ix.named[Named::Policy as usize].push(t.policy);
            ix.named[Named::Exposure as usize].push(t.exposure);
            ix.named[Named::Peril as usize].push(t.peril);
        }
        for named in &mut ix.named {
            named.sort_unstable_by(|a, b| text(a).cmp(text(b)));
            named.dedup_by(|a, b| text(a) == text(b));
        }
        ix.filter = true;
    }

    /// Whether the characteristic object at `i` goes unread: characteristics are filtered
    /// and its first `locator` is a string no triplet names for `kind`. Such a
    /// characteristic is not checked at all (Socotra sends an entity's older versions too;
    /// rating uses only the ones it is asked about). [`super::prune`] drops exactly such
    /// characteristics, or fewer.
    fn unread(&self, i: usize, kind: Named) -> bool {
        if !self.ix.filter {
            return false;
        }
        let Some(mut entries) = entries(self.tape, i) else {
            return false;
        };
        let Some((_, v)) = entries.find(|(key, _)| *key == "locator") else {
            return false;
        };
        let Node::String(locator) = self.tape[v] else {
            return false;
        };
        let tape = self.tape;
        self.ix.named[kind as usize]
            .binary_search_by(|n| match tape[*n as usize] {
                Node::String(s) => s.cmp(locator),
                _ => std::cmp::Ordering::Less,
            })
            .is_err()
    }

    fn policy(&mut self, i: usize) -> Result<(), PayloadError> {
        if matches!(self.tape[i], Node::Static(StaticNode::Null)) {
            return Ok(());
        }
        let Some(entries) = entries(self.tape, i) else {
            return Err(not_object("policy", &self.tape[i]));
        };
        self.ix.has_policy = true;
        let (mut product, mut schedule, mut start, mut chars, mut exposures) =
            (None, None, None, None, None);
        for (key, v) in entries {
            let p = |k: &str| format!("policy.{k}");
            match key {
                "productName" => Self::once(&mut product, v, &|| p(key))?,
                "paymentScheduleName" => Self::once(&mut schedule, v, &|| p(key))?,
                "originalContractStartTimestamp" => Self::once(&mut start, v, &|| p(key))?,
                "characteristics" => Self::once(&mut chars, v, &|| p(key))?,
                "exposures" => Self::once(&mut exposures, v, &|| p(key))?,
                _ => {}
            }
        }
        if let Some(v) = product {
            self.ix.product_name = self.value(v, Kind::Str, &|| "policy.productName".into())?;
        }
        if let Some(v) = schedule {
            self.ix.payment_schedule_name =
                self.value(v, Kind::Str, &|| "policy.paymentScheduleName".into())?;
        }
        if let Some(v) = start {
            self.ix.original_contract_start = self.value(v, Kind::Scalar, &|| {
                "policy.originalContractStartTimestamp".into()
            })?;
        }
        if let Some(v) = chars {
            self.ix.policy_chars =
                self.characteristics(v, Named::Policy, &|| "policy.characteristics".into())?;
        }
        if let Some(v) = exposures {
            self.array(v, &|| "policy.exposures".into())?;
            for (n, e) in elements(self.tape, v).enumerate() {
                self.exposure(e, n)?;
            }
        }
        Ok(())
    }

    /// Checks that `i` is an array.
    fn array(&self, i: usize, path: &dyn Fn() -> String) -> Result<(), PayloadError> {
        match self.tape[i] {
            Node::Array { .. } => Ok(()),
            ref other => Err(invalid(
                path(),
                format!("must be an array, not {}", what(other)),
            )),
        }
    }

    /// A `characteristics` array of policy or exposure characteristics.
    fn characteristics(
        &mut self,
        i: usize,
        kind: Named,
        path: &dyn Fn() -> String,
    ) -> Result<Range<u32>, PayloadError> {
        self.array(i, path)?;
        let start = self.ix.chars.len() as u32;
        for (n, c) in elements(self.tape, i).enumerate() {
            if self.unread(c, kind) {
                continue;
            }
            let at = || format!("{}[{n}]", path());
            let Some(entries) = entries(self.tape, c) else {
                return Err(not_object(&at(), &self.tape[c]));
            };
            // Slots: locator, fieldValues, fieldGroupsByLocator, then POLICY_SCALARS.
            const FIXED: usize = 3;
            let mut found = [None; FIXED + POLICY_SCALARS.len()];
            for (key, v) in entries {
                let k = match key {
                    "locator" => 0,
                    "fieldValues" => 1,
                    "fieldGroupsByLocator" => 2,
                    _ => match POLICY_SCALARS.iter().position(|b| b.as_str() == key) {
                        Some(k) => FIXED + k,
                        None => continue,
                    },
                };
                Self::once(&mut found[k], v, &|| format!("{}.{key}", at()))?;
            }
            // In tape order, so integers rendered to text stay sorted by tape index.
            let mut order: [(Option<usize>, usize); FIXED + POLICY_SCALARS.len()] =
                std::array::from_fn(|k| (found[k], k));
            order.sort_by_key(|(v, _)| v.unwrap_or(usize::MAX));
            let mut out = [NONE; FIXED + POLICY_SCALARS.len()];
            for (v, k) in order {
                let Some(v) = v else { continue };
                out[k] = match k {
                    0 => self.value(v, Kind::Str, &|| format!("{}.locator", at()))?,
                    1 => self.field_values(v, &|| format!("{}.fieldValues", at()))?,
                    2 => self.field_groups(v, &|| format!("{}.fieldGroupsByLocator", at()))?,
                    _ => self.value(v, Kind::Scalar, &|| {
                        format!("{}.{}", at(), POLICY_SCALARS[k - FIXED].as_str())
                    })?,
                };
            }
            self.ix.chars.push(CharIx {
                locator: out[0],
                field_values: out[1],
                field_groups: out[2],
                scalars: std::array::from_fn(|k| out[FIXED + k]),
            });
        }
        Ok(start..self.ix.chars.len() as u32)
    }

    /// A `fieldValues` object (or `null`): every value is accepted (a scalar slot each);
    /// integers are rendered to text now, so lookups can borrow them.
    fn field_values(&mut self, i: usize, path: &dyn Fn() -> String) -> Result<Ix, PayloadError> {
        match self.tape[i] {
            Node::Static(StaticNode::Null) => Ok(NONE),
            Node::Object { .. } => {
                for (_, v) in entries(self.tape, i).into_iter().flatten() {
                    self.value(v, Kind::Scalar, path)?;
                }
                Ok(i as Ix)
            }
            ref other => Err(invalid(
                path(),
                format!("must be an object, not {}", what(other)),
            )),
        }
    }

    /// A `fieldGroupsByLocator` object (or `null`): each member is an object (or `null`)
    /// checked like `fieldValues`.
    fn field_groups(&mut self, i: usize, path: &dyn Fn() -> String) -> Result<Ix, PayloadError> {
        match self.tape[i] {
            Node::Static(StaticNode::Null) => Ok(NONE),
            Node::Object { .. } => {
                for (locator, v) in entries(self.tape, i).into_iter().flatten() {
                    self.field_values(v, &|| format!("{}.{locator}", path()))?;
                }
                Ok(i as Ix)
            }
            ref other => Err(invalid(
                path(),
                format!("must be an object, not {}", what(other)),
            )),
        }
    }

    fn exposure(&mut self, i: usize, n: usize) -> Result<(), PayloadError> {
        let at = || format!("policy.exposures[{n}]");
        let Some(entries) = entries(self.tape, i) else {
            return Err(not_object(&at(), &self.tape[i]));
        };
        let (mut name, mut chars, mut perils) = (None, None, None);
        for (key, v) in entries {
            match key {
                "name" => Self::once(&mut name, v, &|| format!("{}.name", at()))?,
                "characteristics" => {
                    Self::once(&mut chars, v, &|| format!("{}.characteristics", at()))?
                }
                "perils" => Self::once(&mut perils, v, &|| format!("{}.perils", at()))?,
                _ => {}
            }
        }
        let name = match name {
            Some(v) => self.value(v, Kind::Str, &|| format!("{}.name", at()))?,
            None => NONE,
        };
        let chars = match chars {
            Some(v) => {
                self.characteristics(v, Named::Exposure, &|| format!("{}.characteristics", at()))?
            }
            None => 0..0,
        };
        let start = self.ix.perils.len() as u32;
        if let Some(v) = perils {
            self.array(v, &|| format!("{}.perils", at()))?;
            for (m, p) in elements(self.tape, v).enumerate() {
                self.peril(p, &|| format!("{}.perils[{m}]", at()))?;
            }
        }
        let perils = start..self.ix.perils.len() as u32;
        self.ix.exposures.push(ExposureIx {
            name,
            chars,
            perils,
        });
        Ok(())
    }

    fn peril(&mut self, i: usize, at: &dyn Fn() -> String) -> Result<(), PayloadError> {
        let Some(entries) = entries(self.tape, i) else {
            return Err(not_object(&at(), &self.tape[i]));
        };
        let (mut name, mut chars) = (None, None);
        for (key, v) in entries {
            match key {
                "name" => Self::once(&mut name, v, &|| format!("{}.name", at()))?,
                "characteristics" => {
                    Self::once(&mut chars, v, &|| format!("{}.characteristics", at()))?
                }
                _ => {}
            }
        }
        let name = match name {
            Some(v) => self.value(v, Kind::Str, &|| format!("{}.name", at()))?,
            None => NONE,
        };
        let start = self.ix.peril_chars.len() as u32;
        if let Some(v) = chars {
            let cpath = || format!("{}.characteristics", at());
            self.array(v, &cpath)?;
            for (n, c) in elements(self.tape, v).enumerate() {
                if self.unread(c, Named::Peril) {
                    continue;
                }
                self.peril_char(c, &|| format!("{}[{n}]", cpath()))?;
            }
        }
        self.ix.perils.push(PerilIx {
            name,
            chars: start..self.ix.peril_chars.len() as u32,
        });
        Ok(())
    }

    fn peril_char(&mut self, i: usize, at: &dyn Fn() -> String) -> Result<(), PayloadError> {
        let Some(entries) = entries(self.tape, i) else {
            return Err(not_object(&at(), &self.tape[i]));
        };
        let mut locator = None;
        let mut fv = None;
        let mut scalars = [None; PERIL_SCALARS.len()];
        for (key, v) in entries {
            match key {
                "locator" => Self::once(&mut locator, v, &|| format!("{}.locator", at()))?,
                "fieldValues" => Self::once(&mut fv, v, &|| format!("{}.fieldValues", at()))?,
                _ => {
                    if let Some(k) = PERIL_SCALARS.iter().position(|b| b.as_str() == key) {
                        Self::once(&mut scalars[k], v, &|| format!("{}.{key}", at()))?;
                    }
                }
            }
        }
        let locator = match locator {
            Some(v) => self.value(v, Kind::Str, &|| format!("{}.locator", at()))?,
            None => NONE,
        };
        let field_values = match fv {
            Some(v) => self.field_values(v, &|| format!("{}.fieldValues", at()))?,
            None => NONE,
        };
        let mut out = [NONE; PERIL_SCALARS.len()];
        for (k, slot) in scalars.iter().enumerate() {
            if let Some(v) = *slot {
                out[k] = self.value(v, Kind::Scalar, &|| {
                    format!("{}.{}", at(), PERIL_SCALARS[k].as_str())
                })?;
            }
        }
        self.ix.peril_chars.push(PerilCharIx {
            locator,
            scalars: out,
            field_values,
        });
        Ok(())
    }

    fn triplets(&mut self, i: usize) -> Result<(), PayloadError> {
        if matches!(self.tape[i], Node::Static(StaticNode::Null)) {
            return Ok(());
        }
        self.array(i, &|| "policyExposurePerils".into())?;
        self.ix.triplets_present = true;
        for (n, t) in elements(self.tape, i).enumerate() {
            let at = || format!("policyExposurePerils[{n}]");
            let Some(entries) = entries(self.tape, t) else {
                return Err(not_object(&at(), &self.tape[t]));
            };
            let (mut pol, mut exp, mut per) = (None, None, None);
            for (key, v) in entries {
                let slot = match key {
                    "policyCharacteristicsLocator" => &mut pol,
                    "exposureCharacteristicsLocator" => &mut exp,
                    "perilCharacteristicsLocator" => &mut per,
                    _ => continue,
                };
                Self::once(slot, v, &|| format!("{}.{key}", at()))?;
            }
            let mut get = |slot: Option<usize>, key: &str| match slot {
                Some(v) => self.value(v, Kind::Str, &|| format!("{}.{key}", at())),
                None => Ok(NONE),
            };
            let policy = get(pol, "policyCharacteristicsLocator")?;
            let exposure = get(exp, "exposureCharacteristicsLocator")?;
            let peril = get(per, "perilCharacteristicsLocator")?;
            self.ix.triplets.push(TripletIx {
                policy,
                exposure,
                peril,
            });
        }
        Ok(())
    }
}

#[cold]
fn invalid(field: String, message: String) -> PayloadError {
    PayloadError::Invalid { field, message }
}

#[cold]
fn not_object(path: &str, node: &Node<'_>) -> PayloadError {
    invalid(
        path.to_owned(),
        format!("must be an object, not {}", what(node)),
    )
}

/// A JSON type's name for messages.
fn what(node: &Node<'_>) -> &'static str {
    match node {
        Node::String(_) => "a string",
        Node::Object { .. } => "an object",
        Node::Array { .. } => "an array",
        Node::Static(StaticNode::Null) => "null",
        Node::Static(StaticNode::Bool(_)) => "a boolean",
        Node::Static(StaticNode::F64(_)) => "a float",
        Node::Static(_) => "an integer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<R>(json: &str, f: impl FnOnce(Result<Payload<'_, '_>, PayloadError>) -> R) -> R {
        Payload::with(json.as_bytes(), f)
    }

    #[test]
    fn reads_the_skeleton_and_skips_the_rest() {
        let json = r#"{"operation":"endorsement","tenantTimeZone":"America\/New_York",
            "invoices":[{"a":[1,2,{"b":null}]}],
            "policy":{"productName":"auto","originalContractStartTimestamp":1650006000000,
              "documents":{"x":[true]},
              "characteristics":[{"locator":"pc1","fieldValues":{"a":["x"]}},{"locator":"pc2","fieldValues":null}],
              "exposures":[{"name":"vehicle","characteristics":[{"locator":"ec1","fieldValues":{"n":[5],"b":[true],"f":[1.5],"e":[],"s":"bare","o":[{"k":1}],"nest":[["deep"]]}}],
                "perils":[{"name":"collision","characteristics":[{"locator":"k1","deductible":["250"],"coverageEndTimestamp":"9","fieldValues":{}}]}]}]},
            "policyExposurePerils":[{"perilCharacteristicsLocator":"k1","exposureCharacteristicsLocator":"ec1"}]}"#;
        with(json, |p| {
            let p = p.unwrap();
            assert_eq!(p.operation(), Some("endorsement"));
            assert_eq!(p.tenant_time_zone(), Some("America/New_York"));
            assert_eq!(p.product_name(), Some("auto"));
            assert_eq!(p.payment_schedule_name(), None);
            assert_eq!(p.original_contract_start_timestamp(), Some("1650006000000"));
            let t: Vec<_> = p.triplets().unwrap().collect();
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].peril, Some("k1"));
            assert_eq!(t[0].policy, None);
            let v = p.resolve("k1", Some("ec1"), None).unwrap();
            assert_eq!(v.peril_name(), Some("collision"));
            assert_eq!(v.builtin(Builtin::ExposureName), Some("vehicle"));
            assert_eq!(v.builtin(Builtin::Deductible), Some("250"));
            assert_eq!(v.builtin(Builtin::CoverageEnd), Some("9"));
            assert_eq!(v.builtin(Builtin::CoverageStart), None);
            assert_eq!(
                v.field(Level::Policy, "a"),
                None,
                "the last policy char: pc2"
            );
            let e = |n| v.field(Level::Exposure, n);
            assert_eq!(e("n"), Some("5"));
            assert_eq!(e("b"), Some("true"));
            assert_eq!(e("f"), None);
            assert_eq!(e("e"), None);
            assert_eq!(e("s"), Some("bare"));
            assert_eq!(e("o"), None);
            assert_eq!(e("nest"), Some("deep"));
            assert_eq!(e("missing"), None);
            let v = p.resolve("k1", None, Some("pc1")).unwrap();
            assert_eq!(v.field(Level::Policy, "a"), Some("x"));
            assert_eq!(
                p.resolve("nope", None, None).unwrap_err(),
                Unresolved::Peril
            );
            assert_eq!(
                p.resolve("k1", Some("x"), None).unwrap_err(),
                Unresolved::Exposure
            );
            assert_eq!(
                p.resolve("k1", None, Some("x")).unwrap_err(),
                Unresolved::Policy
            );
        });
    }

    #[test]
    fn refuses_wrong_shapes() {
        let field = |json: &str| {
            with(json, |p| match p {
                Err(PayloadError::Invalid { field, .. }) => field,
                other => panic!("{json}: {other:?}"),
            })
        };
        assert_eq!(field("[]"), "");
        assert_eq!(
            field(r#"{"policy":{"productName":5}}"#),
            "policy.productName"
        );
        assert_eq!(field(r#"{"policy":[]}"#), "policy");
        assert_eq!(field(r#"{"policy":{"exposures":{}}}"#), "policy.exposures");
        assert_eq!(
            field(r#"{"policy":{"exposures":[{"perils":[{"characteristics":[{"locator":1}]}]}]}}"#),
            "policy.exposures[0].perils[0].characteristics[0].locator"
        );
        assert_eq!(
            field(r#"{"policy":{"characteristics":[{"fieldValues":[]}]}}"#),
            "policy.characteristics[0].fieldValues"
        );
        assert_eq!(
            field(r#"{"tenantTimeZone":"a","tenantTimeZone":"b"}"#),
            "tenantTimeZone"
        );
        assert_eq!(
            field(r#"{"policyExposurePerils":[{"perilCharacteristicsLocator":{}}]}"#),
            "policyExposurePerils[0].perilCharacteristicsLocator"
        );
        with("{\"a\": }", |p| {
            assert!(matches!(p, Err(PayloadError::Json(_))))
        });
    }

    #[test]
    fn a_huge_body_does_not_leave_its_buffers_with_the_thread() {
        let pruned_capacity = || SCRATCH.with(|s| s.borrow().pruned.capacity());
        let big = format!(
            r#"{{"policy": {{"productName": "{}"}}}}"#,
            "x".repeat(SCRATCH_KEEP_BYTES)
        );
        with(&big, |p| assert!(p.is_ok()));
        assert!(
            pruned_capacity() < SCRATCH_KEEP_BYTES,
            "{}",
            pruned_capacity()
        );
        // A real-sized body keeps its buffers for the next request.
        let small = format!(
            r#"{{"policy": {{"productName": "{}"}}}}"#,
            "x".repeat(100_000)
        );
        with(&small, |p| assert!(p.is_ok()));
        assert!(pruned_capacity() >= 100_000);
    }

    #[test]
    fn null_and_missing_parts_are_absent() {
        with(r#"{"policy":null,"policyExposurePerils":null}"#, |p| {
            let p = p.unwrap();
            assert!(!p.has_policy());
            assert!(p.triplets().is_none());
        });
        with(r#"{"policy":{},"policyExposurePerils":[]}"#, |p| {
            let p = p.unwrap();
            assert!(p.has_policy());
            assert_eq!(p.triplets().unwrap().len(), 0);
        });
    }
}
