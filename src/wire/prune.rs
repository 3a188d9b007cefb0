//! Cutting a rating request down to the members rating reads, before simd-json parses it.
//!
//! A Socotra rating request is mostly what rating never looks at: `invoices`, `documents`,
//! `modifications`, every entity's premiums, timestamps and audit fields, and the
//! indentation of pretty-printed JSON. simd-json's tape costs about 0.45 µs per KB of such a
//! request (`cargo bench --bench parse`), so the rater first finds the body's structure
//! ([`super::structure`]: one SIMD pass, bit masks of its tokens), then walks its skeleton
//! from token to token on those masks and copies into a second buffer only the members
//! [`super::payload`] reads (the `READ` table below). A dropped container is jumped
//! over by counting brackets in the masks, a few instructions per 64 bytes; no byte of
//! it is looked at again. simd-json then parses and validates the much smaller result,
//! and the index is built from that tape exactly as before.
//!
//! It also drops the characteristics no triplet of `policyExposurePerils` names. An
//! endorsement carries every earlier version of each entity's characteristics (the 36 KB
//! request: three of the policy's and three of each peril's), and those were most of what
//! was kept. The triplets come after the policy, so they are found first with a search
//! backwards from the end ([`Named::find`]) and checked, after the walk, to be the
//! request's own. A characteristic is dropped at its `locator`, which comes about halfway
//! through its keys; the rest of it is jumped over like any dropped container.
//!
//! The invariant: for any body this accepts, the pruned body gives the same
//! [`super::payload::Payload`] as the whole body, whose indexer skips the same
//! characteristics unread and unchecked (proven by the differential tests in
//! `tests/prune.rs` and the `rate_request` fuzz target). A member whose key has an escape
//! sequence is kept whole (it may spell a read key), and anything unusual makes it give up
//! ([`Bail`]) so the caller parses the whole body as before: a syntax error on the skeleton,
//! a root that is not an object, trailing bytes, nesting near the limit, a raw control
//! character in a string, a body that is not UTF-8. The one deliberate difference: inside a
//! dropped member only the structure is checked (strings closed, brackets balanced, depth),
//! not the grammar, so `"invoices": [1 2]` is priced rather than refused; the caller
//! answers every error from the whole body (so the laxness never changes an error, only
//! lets such a body be priced).

use super::payload::{MAX_JSON_DEPTH, PERIL_SCALARS, POLICY_SCALARS};
use super::structure::{self, Block, StructureError};

/// Pruning gave up: parse the whole body instead (which also finds the precise error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bail;

impl From<StructureError> for Bail {
    fn from(_: StructureError) -> Bail {
        Bail
    }
}

impl From<structure::NoEnd> for Bail {
    fn from(_: structure::NoEnd) -> Bail {
        Bail
    }
}

/// Which object a member belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Request,
    Policy,
    /// A policy or exposure characteristic.
    Characteristic,
    Exposure,
    Peril,
    PerilCharacteristic,
}

/// What to do with a member's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    /// Copy it whole.
    Whole,
    /// An object: keep only its members that `keep` names (copied whole if not an object,
    /// so the indexer refuses the wrong type exactly as before).
    Object(Shape),
    /// An array of such objects.
    ArrayOf(Shape),
    /// A characteristic's `locator`: copied whole, unless no triplet names it, when the
    /// whole characteristic is dropped ([`Named`]).
    Locator,
    /// The request's `policyExposurePerils`: copied whole; where it was is checked against
    /// what [`Named::find`] read.
    Triplets,
}

/// The members [`super::payload`]'s indexer reads, besides the builtin scalars; everything
/// else is dropped. Keep this in step with `Indexer` there: `tests/prune.rs` fails if the two
/// disagree on any fixture.
const STRUCTURE: [(Shape, &[u8], Keep); 19] = {
    use Keep::{ArrayOf, Locator, Object, Triplets, Whole};
    use Shape::*;
    [
        (Request, b"operation", Whole),
        (Request, b"tenantTimeZone", Whole),
        (Request, b"policyExposurePerils", Triplets),
        (Request, b"policy", Object(Policy)),
        (Policy, b"productName", Whole),
        (Policy, b"paymentScheduleName", Whole),
        (Policy, b"originalContractStartTimestamp", Whole),
        (Policy, b"characteristics", ArrayOf(Characteristic)),
        (Policy, b"exposures", ArrayOf(Exposure)),
        (Characteristic, b"locator", Locator),
        (Characteristic, b"fieldValues", Whole),
        (Characteristic, b"fieldGroupsByLocator", Whole),
        (Exposure, b"name", Whole),
        (Exposure, b"characteristics", ArrayOf(Characteristic)),
        (Exposure, b"perils", ArrayOf(Peril)),
        (Peril, b"name", Whole),
        (Peril, b"characteristics", ArrayOf(PerilCharacteristic)),
        (PerilCharacteristic, b"locator", Locator),
        (PerilCharacteristic, b"fieldValues", Whole),
    ]
};

/// Every member kept: [`STRUCTURE`], and the builtin scalars from the payload's one list of
/// them (`PERIL_SCALARS`, `POLICY_SCALARS`), so a builtin added there is kept here too.
const READ: [(Shape, &[u8], Keep); STRUCTURE.len() + PERIL_SCALARS.len() + POLICY_SCALARS.len()] = {
    let mut out = [(Shape::Request, b"".as_slice(), Keep::Whole);
        STRUCTURE.len() + PERIL_SCALARS.len() + POLICY_SCALARS.len()];
    let mut i = 0;
    while i < STRUCTURE.len() {
        out[i] = STRUCTURE[i];
        i += 1;
    }
    let mut k = 0;
    while k < PERIL_SCALARS.len() {
        out[i] = (
            Shape::PerilCharacteristic,
            PERIL_SCALARS[k].as_str().as_bytes(),
            Keep::Whole,
        );
        i += 1;
        k += 1;
    }
    k = 0;
    while k < POLICY_SCALARS.len() {
        out[i] = (
            Shape::Characteristic,
            POLICY_SCALARS[k].as_str().as_bytes(),
            Keep::Whole,
        );
        i += 1;
        k += 1;
    }
    out
};

/// [`READ`]'s bucket for a key: a hash with no collisions among its entries (checked when
/// the table is built, at compile time).
const fn bucket(shape: Shape, len: usize, first: u8, last: u8) -> usize {
    (shape as usize * 5 + len * 5 + first as usize * 7 + last as usize * 5) % TABLE_LEN
}

const TABLE_LEN: usize = 64;

/// [`READ`] as a table with one entry per bucket. A lookup is one hash, one load and one
/// comparison; a `match` on the shape and key compiled to a jump on the shape, a jump on
/// the key's length and then byte compares (`prune_alone` on the 36 KB request: 7.05 µs
/// with the match, 6.95 µs with the table).
const TABLE: [Option<(Shape, &[u8], Keep)>; TABLE_LEN] = {
    let mut table = [None; TABLE_LEN];
    let mut i = 0;
    while i < READ.len() {
        let (shape, key, _) = READ[i];
        let at = bucket(shape, key.len(), key[0], key[key.len() - 1]);
        assert!(
            table[at].is_none(),
            "two read keys share a bucket: change `bucket`"
        );
        table[at] = Some(READ[i]);
        i += 1;
    }
    table
};

/// What to do with the member `key` of a `shape` object: `None` drops it.
#[inline]
fn keep(shape: Shape, key: &[u8]) -> Option<Keep> {
    let (&first, &last) = (key.first()?, key.last()?);
    match TABLE[bucket(shape, key.len(), first, last)] {
        Some((s, k, what)) if s == shape && k == key => Some(what),
        _ => None,
    }
}

/// Skipped containers give up a little before simd-json's own limit, so a body near the
/// limit is always judged by simd-json.
const MAX_SKIP_DEPTH: u32 = MAX_JSON_DEPTH as u32 - 1;

/// Writes into `out` (cleared first) `body` with every member rating does not read
/// removed; `blocks` is scratch for the body's structure ([`structure::index`]). Gives up
/// on a body that is not UTF-8 (simd-json would only check the part it sees). `out`
/// never grows past `body.len()`: every kept byte is a byte of `body`, and each comma
/// written replaces one that was there.
pub fn prune(body: &[u8], out: &mut Vec<u8>, blocks: &mut Vec<Block>) -> Result<(), Bail> {
    out.clear();
    out.reserve(body.len());
    let text = structure::index(body, blocks)?;
    // simd-json checks UTF-8 only in what it is given, so the whole body is checked here:
    // by the structure pass's ASCII mask for a real request, by std otherwise.
    if !text.ascii && std::str::from_utf8(body).is_err() {
        return Err(Bail);
    }
    let mut named = Named::NONE;
    named.find(body, blocks, text.backslash);
    let mut w = Walk {
        body,
        blocks,
        block: 0,
        bits: blocks.first().ok_or(Bail)?.events,
        out,
        named: &named,
        triplets_at: None,
        backslash: text.backslash,
    };
    let root = w.next()?;
    if body[root] != b'{' {
        return Err(Bail);
    }
    w.object(Shape::Request, 1)?;
    // Nothing but whitespace after the root: no event is left.
    if w.bits != 0 || blocks[w.block + 1..].iter().any(|b| b.events != 0) {
        return Err(Bail);
    }
    // Characteristics were dropped by the triplets `Named::find` read, which must be the
    // request's own `policyExposurePerils` (the last one, if it is given twice, as the
    // indexer then refuses the body anyway).
    if named.len > 0 && w.triplets_at != Some(named.at) {
        return Err(Bail);
    }
    Ok(())
}

/// The locators `policyExposurePerils` names, read before the walk so that it can drop the
/// characteristics no triplet names (an endorsement carries every older version of each
/// entity's characteristics, most of a request's kept bytes). Dropping one is right exactly
/// when [`super::payload`]'s indexer would not read it: every triplet names all three
/// locators, and the characteristic's first `locator` is a string none of them spells.
/// This keeps the locators of all three kinds together, so it may keep a characteristic
/// the indexer skips, never the reverse.
struct Named {
    /// The offset of the `"policyExposurePerils"` key they were read from.
    at: usize,
    /// How many of `spans` are used; 0 when nothing may be dropped.
    len: usize,
    /// Each distinct locator's bytes in the body (no escape sequences).
    spans: [(u32, u32); MAX_NAMED],
}

/// The triplets' key, quotes included.
const TRIPLETS_KEY: &[u8] = b"\"policyExposurePerils\"";

/// Where the last [`TRIPLETS_KEY`] in `body` starts. It looks backwards for its capital
/// `E` with `memrchr` (SIMD, 32 bytes a step; a JSON key or a locator rarely has one) and
/// compares the rest only there: `memmem`'s reverse search has no SIMD prefilter and took
/// 2 % of pruning the 12 KB request.
#[inline]
fn rfind_triplets_key(body: &[u8]) -> Option<usize> {
    const E: usize = 7;
    const _: () = assert!(TRIPLETS_KEY[E] == b'E');
    let mut end = body.len();
    while let Some(e) = memchr::memrchr(b'E', &body[..end]) {
        if e >= E && body[e - E..].starts_with(TRIPLETS_KEY) {
            return Some(e - E);
        }
        end = e;
    }
    None
}

/// More distinct locators than this and nothing is dropped (a request pricing dozens of
/// perils is rare, and each characteristic is compared with every locator).
const MAX_NAMED: usize = 48;

impl Named {
    const NONE: Named = Named {
        at: 0,
        len: 0,
        spans: [(0, 0); MAX_NAMED],
    };

    /// Finds the body's last `"policyExposurePerils"` key (Socotra sends it after the
    /// policy; a search backwards from the end is a few hundred bytes) and reads its
    /// triplets into `self` (which starts empty). Leaves it empty if anything about them is
    /// unusual: they are then left to the indexer, and every characteristic is kept.
    /// (Filled in place: `Named` is 400 bytes, and returning it cost two copies.)
    fn find(&mut self, body: &[u8], blocks: &[Block], backslash: bool) {
        let Some(at) = rfind_triplets_key(body) else {
            return;
        };
        // The quote must open a string (an event), not sit inside one.
        let bit = 1u64 << (at % 64);
        let Some(block) = blocks.get(at / 64).filter(|b| b.events & bit != 0) else {
            return;
        };
        let mut none = Vec::new();
        let mut w = Walk {
            body,
            blocks,
            block: at / 64,
            bits: block.events & !(bit | (bit - 1)),
            out: &mut none,
            named: &Named::NONE,
            triplets_at: None,
            backslash,
        };
        match self.read(&mut w) {
            Ok(true) => self.at = at,
            _ => self.len = 0,
        }
    }

    /// Reads the triplets after the key's opening quote: `Ok(false)` (or a [`Bail`]) when
    /// they are not an array of objects of exactly the three locators, each a string
    /// without escape sequences.
    fn read(&mut self, w: &mut Walk<'_, '_>) -> Result<bool, Bail> {
        let body = w.body;
        let _close = w.next()?;
        if body[w.next()?] != b':' || body[w.next()?] != b'[' {
            return Ok(false);
        }
        loop {
            if body[w.next()?] != b'{' {
                return Ok(false);
            }
            let mut seen = [false; 3];
            loop {
                let (key, value) = (w.string()?, {
                    if body[w.next()?] != b':' {
                        return Ok(false);
                    }
                    w.string()?
                });
                let (Some(key), Some((start, end))) = (key, value) else {
                    return Ok(false);
                };
                let kind = match &body[key.0..key.1] {
                    b"policyCharacteristicsLocator" => 0,
                    b"exposureCharacteristicsLocator" => 1,
                    b"perilCharacteristicsLocator" => 2,
                    _ => return Ok(false),
                };
                if std::mem::replace(&mut seen[kind], true) {
                    return Ok(false);
                }
                let locator = &body[start..end];
                if !self.names(body, locator) {
                    if self.len == MAX_NAMED {
                        return Ok(false);
                    }
                    self.spans[self.len] = (start as u32, end as u32);
                    self.len += 1;
                }
                match body[w.next()?] {
                    b',' => {}
                    b'}' => break,
                    _ => return Ok(false),
                }
            }
            if seen != [true; 3] {
                return Ok(false);
            }
            match body[w.next()?] {
                b',' => {}
                b']' => return Ok(self.len > 0),
                _ => return Ok(false),
            }
        }
    }

    /// Whether some triplet names `locator` (its bytes in the body, no escapes). Lengths
    /// and first bytes are compared before calling `memcmp` (locators are UUIDs of one
    /// length, and most characteristics are named by none of the few triplets).
    #[inline]
    fn names(&self, body: &[u8], locator: &[u8]) -> bool {
        let Some(&head) = locator.first() else {
            return self.spans[..self.len].iter().any(|&(s, e)| s == e);
        };
        self.spans[..self.len].iter().any(|&(s, e)| {
            let named = &body[s as usize..e as usize];
            named.len() == locator.len() && named[0] == head && named == locator
        })
    }
}

/// A walk over the body's events ([`Block::events`]), in order. Between two events there
/// is only whitespace, the inside of a string, or the rest of a scalar, so reading the byte
/// at each event is reading the token stream: a string is its opening quote's event and
/// its closing quote's, with nothing between.
struct Walk<'b, 'o> {
    body: &'b [u8],
    blocks: &'b [Block],
    /// The block the walk is in.
    block: usize,
    /// That block's events not yet read.
    bits: u64,
    out: &'o mut Vec<u8>,
    /// The locators the triplets name: characteristics none of them names are dropped.
    named: &'b Named,
    /// Where the request's `policyExposurePerils` key was.
    triplets_at: Option<usize>,
    /// Whether the body has a backslash ([`structure::Text::backslash`]).
    backslash: bool,
}

impl Walk<'_, '_> {
    /// The position of the next event. Most calls find it in the block at hand: one
    /// trailing-zero count and one bit cleared.
    #[inline(always)]
    fn next(&mut self) -> Result<usize, Bail> {
        while self.bits == 0 {
            self.block += 1;
            self.bits = self.blocks.get(self.block).ok_or(Bail)?.events;
        }
        let pos = self.block * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Ok(pos)
    }

    /// Whether bytes `start..end` hold an escape sequence ([`structure::escapes`]); a
    /// body without a backslash (every real request) needs no look at the masks.
    #[inline(always)]
    fn escapes(&self, start: usize, end: usize) -> bool {
        self.backslash && structure::escapes(self.blocks, start, end)
    }

    /// The string whose opening quote is the next event: its contents' span, or `None`
    /// if the next event is not a quote or the string has an escape sequence.
    fn string(&mut self) -> Result<Option<(usize, usize)>, Bail> {
        let open = self.next()?;
        if self.body[open] != b'"' {
            return Ok(None);
        }
        let close = self.next()?;
        Ok((!self.escapes(open + 1, close)).then_some((open + 1, close)))
    }

    /// The members of an object whose `{` was just read, at nesting `depth`. `false`: the
    /// object is a characteristic no triplet names, and the walk is past its end; the
    /// caller takes back what was written of it.
    fn object(&mut self, shape: Shape, depth: u32) -> Result<bool, Bail> {
        let body = self.body;
        self.out.push(b'{');
        let mut at = self.next()?;
        if body[at] == b'}' {
            self.out.push(b'}');
            return Ok(true);
        }
        let mut first = true;
        // A key with an escape sequence was kept: it may spell `locator`, so the indexer's
        // first `locator` may not be the one this walk sees.
        let mut escaped = false;
        loop {
            if body[at] != b'"' {
                return Err(Bail);
            }
            // No event inside a string: the next one is the closing quote.
            let close = self.next()?;
            let key = &body[at + 1..close];
            if body[self.next()?] != b':' {
                return Err(Bail);
            }
            let value = self.next()?;
            // A key with an escape sequence may spell a read key: keep it whole, unread.
            // (No key of the table has a backslash, so only a miss needs the check.)
            let what = match keep(shape, key) {
                Some(what) => Some(what),
                None if self.escapes(at + 1, close) => {
                    escaped = true;
                    Some(Keep::Whole)
                }
                None => None,
            };
            match what {
                None => {
                    self.skip_value(value, depth)?;
                }
                Some(Keep::Locator) if self.named.len > 0 && !escaped && body[value] == b'"' => {
                    let end = self.next()?;
                    if !self.escapes(value + 1, end)
                        && !self.named.names(body, &body[value + 1..end])
                    {
                        // Not one the request prices: the rest of it is jumped over.
                        self.container_end(depth)?;
                        return Ok(false);
                    }
                    if !first {
                        self.out.push(b',');
                    }
                    first = false;
                    self.out.extend_from_slice(&body[at..end + 1]);
                }
                Some(what) => {
                    if !first {
                        self.out.push(b',');
                    }
                    first = false;
                    if what == Keep::Triplets {
                        self.triplets_at = Some(at);
                    }
                    // The key, colon and whitespace go out as they came, in the value's
                    // copy: one copy per kept member. Only an array's element can be
                    // dropped, never a member.
                    if !self.value(what, at, value, depth)? {
                        return Err(Bail);
                    }
                }
            }
            let sep = self.next()?;
            match body[sep] {
                b',' => at = self.next()?,
                b'}' => {
                    self.out.push(b'}');
                    return Ok(true);
                }
                _ => return Err(Bail),
            }
        }
    }

    /// The elements of an array whose `[` was just read: every one is kept but a
    /// characteristic no triplet names.
    fn array(&mut self, shape: Shape, depth: u32) -> Result<bool, Bail> {
        let body = self.body;
        self.out.push(b'[');
        let mut at = self.next()?;
        if body[at] == b']' {
            self.out.push(b']');
            return Ok(true);
        }
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if self.value(Keep::Object(shape), at, at, depth)? {
                first = false;
            } else {
                self.out.truncate(mark);
            }
            let sep = self.next()?;
            match body[sep] {
                b',' => at = self.next()?,
                b']' => {
                    self.out.push(b']');
                    return Ok(true);
                }
                _ => return Err(Bail),
            }
        }
    }

    /// A kept value starting at event `at`, inside a container at `depth`; the bytes from
    /// `from` up to it (its key, if any) are copied with it. `false`: it was a
    /// characteristic no triplet names, dropped after all ([`Walk::object`]).
    fn value(&mut self, what: Keep, from: usize, at: usize, depth: u32) -> Result<bool, Bail> {
        if depth + 1 >= MAX_SKIP_DEPTH {
            return Err(Bail);
        }
        let body = self.body;
        match (what, body[at]) {
            (Keep::Object(shape), b'{') => {
                self.out.extend_from_slice(&body[from..at]);
                self.object(shape, depth + 1)
            }
            (Keep::ArrayOf(shape), b'[') => {
                self.out.extend_from_slice(&body[from..at]);
                self.array(shape, depth + 1)
            }
            _ => {
                let end = self.skip_value(at, depth)?;
                self.out.extend_from_slice(&body[from..end]);
                Ok(true)
            }
        }
    }

    /// Moves past the value starting at event `at`, inside a container at `depth`, and
    /// returns where it ends. Containers are checked for balance and depth only; a scalar
    /// must start like one, a literal must be spelled right, and a scalar must end where a
    /// token may follow (simd-json validates every kept value in full).
    ///
    /// Inlined, as is [`Walk::container_end`]: called out of line, they made the walk's
    /// position (`block`, `bits`) go through memory around every dropped member, and
    /// inlined the walk takes 10 % less time (docs/PERFORMANCE.md section 0).
    #[inline(always)]
    fn skip_value(&mut self, at: usize, depth: u32) -> Result<usize, Bail> {
        let body = self.body;
        let end = match body[at] {
            b'{' | b'[' => return self.container_end(depth + 1),
            b'"' => return Ok(self.next()? + 1),
            b't' => literal(body, at, b"true")?,
            b'f' => literal(body, at, b"false")?,
            b'n' => literal(body, at, b"null")?,
            b'-' | b'0'..=b'9' => number_end(body, at + 1),
            _ => return Err(Bail),
        };
        // The rest of the scalar's run has no event: it must end here.
        match body.get(end) {
            None
            | Some(b' ' | b'\n' | b'\r' | b'\t' | b',' | b'}' | b']' | b':' | b'{' | b'[' | b'"') => {
                Ok(end)
            }
            Some(_) => Err(Bail),
        }
    }

    /// One past the bracket that closes the container whose opening bracket was the last
    /// event read, at nesting `depth`; the walk resumes after it. A container nested inside
    /// reaching [`MAX_SKIP_DEPTH`] gives up.
    #[inline(always)]
    fn container_end(&mut self, depth: u32) -> Result<usize, Bail> {
        let limit = MAX_SKIP_DEPTH.saturating_sub(depth) + 1;
        let (at, bit) = structure::container_end(self.blocks, self.block, self.bits, limit)?;
        self.block = at;
        self.bits = self.blocks[at].events & !(bit | (bit - 1));
        Ok(at * 64 + bit.trailing_zeros() as usize + 1)
    }
}

/// The end of the literal `word` at `at`, if it is spelled right.
#[inline]
fn literal(body: &[u8], at: usize, word: &[u8]) -> Result<usize, Bail> {
    if body[at..].starts_with(word) {
        Ok(at + word.len())
    } else {
        Err(Bail)
    }
}

/// Where the number whose first byte is before `pos` ends: its digits go 8 at a time (the
/// numbers left in a request are epoch-millisecond timestamps, 13 digits), its sign,
/// fraction and exponent bytes one by one.
#[inline]
fn number_end(b: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    loop {
        if let Some(w) = b.get(pos..pos + 8) {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            // High bit of each byte below '0' (the subtraction borrows), above '9' (adding
            // 0x46 carries into bit 7) or already >= 0x80; exact for the lowest such byte.
            let not_digit = (w.wrapping_sub(ONES * 0x30) | w.wrapping_add(ONES * 0x46) | w) & HIGH;
            if not_digit == 0 {
                pos += 8;
                continue;
            }
            pos += (not_digit.trailing_zeros() / 8) as usize;
        }
        match b.get(pos) {
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') => pos += 1,
            _ => return pos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pruned(json: &str) -> Result<String, Bail> {
        let mut out = Vec::new();
        prune(json.as_bytes(), &mut out, &mut Vec::new())?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn keeps_what_rating_reads() {
        let json = r#" {
            "operation": "renew", "invoices": [{"a": "}]\"", "b": [1, {"c": null}]}],
            "policy": {"productName": "auto", "documents": {"x": [true, false, -1.5e3]},
                "characteristics": [{"locator": "c1", "premium": "9", "fieldValues": {"a": ["x"]}}],
                "exposures": [{"name": "car", "locator": "e", "perils": [
                    {"name": "bi", "characteristics": [{"locator": "k", "deductible": "5", "x": 1}]},
                    7
                ]}]
            },
            "tenantTimeZone": "UTC", "p\u006flicy": 3
        } "#;
        assert_eq!(
            pruned(json).unwrap(),
            r#"{"operation": "renew","policy": {"productName": "auto","characteristics": [{"locator": "c1","fieldValues": {"a": ["x"]}}],"exposures": [{"name": "car","perils": [{"name": "bi","characteristics": [{"locator": "k","deductible": "5"}]},7]}]},"tenantTimeZone": "UTC","p\u006flicy": 3}"#
        );
    }

    /// A request with two versions of each characteristic, `old*` and `new*`, and the
    /// triplet `tail` pricing the new ones.
    fn versions(triplet: &str, tail: &str) -> String {
        format!(
            r#"{{"policy": {{"characteristics": [{{"locator": "oldp", "fieldValues": {{}}}}, {{"fieldValues": {{"a": ["1"]}}, "locator": "newp", "x": [1]}}],
                "exposures": [{{"characteristics": [{{"locator": "newe"}}, {{"locator": "olde", "fieldValues": {{"b": 2}}}}],
                    "perils": [{{"characteristics": [{{"locator": "oldk", "premium": "1"}}, {{"locator": "newk"}}, {{"locator": "oldk2"}}]}}]}}]}},
            "policyExposurePerils": [{triplet}]{tail}}}"#
        )
    }

    const NEW: &str = r#"{"policyCharacteristicsLocator": "newp", "exposureCharacteristicsLocator": "newe", "perilCharacteristicsLocator": "newk"}"#;

    #[test]
    fn drops_the_characteristics_no_triplet_names() {
        assert_eq!(
            pruned(&versions(NEW, "")).unwrap(),
            format!(
                r#"{{"policy": {{"characteristics": [{{"fieldValues": {{"a": ["1"]}},"locator": "newp"}}],"exposures": [{{"characteristics": [{{"locator": "newe"}}],"perils": [{{"characteristics": [{{"locator": "newk"}}]}}]}}]}},"policyExposurePerils": [{NEW}]}}"#
            )
        );
        // A locator named by another kind of triplet slot is kept (the indexer skips it).
        let swapped = r#"{"policyCharacteristicsLocator": "newe", "exposureCharacteristicsLocator": "newp", "perilCharacteristicsLocator": "newk"}"#;
        let out = pruned(&versions(swapped, "")).unwrap();
        assert!(out.contains("newp") && out.contains("newe") && !out.contains("oldp"));
    }

    #[test]
    fn keeps_every_characteristic_when_the_triplets_are_unusual() {
        for triplet in [
            // A triplet without an exposure locator resolves the exposure's last one.
            r#"{"policyCharacteristicsLocator": "newp", "perilCharacteristicsLocator": "newk"}"#,
            r#"{"policyCharacteristicsLocator": "newp", "exposureCharacteristicsLocator": null, "perilCharacteristicsLocator": "newk"}"#,
            // An escape sequence in a locator or key, another key, a key twice.
            r#"{"policyCharacteristicsLocator": "ne\u0077p", "exposureCharacteristicsLocator": "newe", "perilCharacteristicsLocator": "newk"}"#,
            r#"{"policyCharacteristicsLocator": "newp", "exposureCharacteristicsLocat\u006fr": "newe", "perilCharacteristicsLocator": "newk"}"#,
            r#"{"policyCharacteristicsLocator": "newp", "exposureCharacteristicsLocator": "newe", "perilCharacteristicsLocator": "newk", "x": "y"}"#,
            r#"{"policyCharacteristicsLocator": "newp", "policyCharacteristicsLocator": "newp", "exposureCharacteristicsLocator": "newe", "perilCharacteristicsLocator": "newk"}"#,
            // Not an object.
            r#"7"#,
        ] {
            let out = pruned(&versions(triplet, "")).unwrap();
            for old in [r#""oldp""#, r#""olde""#, r#""oldk""#, r#""oldk2""#] {
                assert!(out.contains(old), "{triplet}: {old} dropped");
            }
        }
        // More distinct locators than `Named` holds.
        let many: Vec<String> = (0..MAX_NAMED)
            .map(|i| format!(r#"{{"policyCharacteristicsLocator": "newp", "exposureCharacteristicsLocator": "newe", "perilCharacteristicsLocator": "k{i}"}}"#))
            .collect();
        assert!(
            pruned(&versions(&many.join(","), ""))
                .unwrap()
                .contains("oldk2")
        );
        // An escaped key before the locator may itself spell `locator`.
        let json = versions(NEW, "").replace(
            r#"{"locator": "oldk", "premium""#,
            r#"{"l\u006fcator": "newk", "locator": "oldk", "premium""#,
        );
        assert!(pruned(&json).unwrap().contains(r#""oldk""#));
        // An escaped locator value is left to the indexer.
        let json = versions(NEW, "").replace(r#""oldk2""#, r#""old\u006b2""#);
        assert!(pruned(&json).unwrap().contains(r#"old\u006b2"#));
    }

    #[test]
    fn the_triplets_must_be_the_requests_own() {
        // The last `"policyExposurePerils"` in the body is a nested one: the walk sees the
        // request's own elsewhere, so pruning gives up rather than trust it.
        let nested = format!(r#", "quoteSummary": {{"policyExposurePerils": [{NEW}]}}"#);
        let json = versions(
            r#"{"policyCharacteristicsLocator": "oldp", "exposureCharacteristicsLocator": "olde", "perilCharacteristicsLocator": "oldk"}"#,
            &nested,
        );
        assert_eq!(pruned(&json), Err(Bail));
        // Inside a string it is not a key at all.
        let quoted = r#", "note": "x\"policyExposurePerils\": [1]""#;
        let out = pruned(&versions(NEW, quoted)).unwrap();
        assert!(!out.contains("oldp") && out.contains("newp"));
    }

    #[test]
    fn the_table_answers_exactly_the_read_list() {
        let shapes = [
            Shape::Request,
            Shape::Policy,
            Shape::Characteristic,
            Shape::Exposure,
            Shape::Peril,
            Shape::PerilCharacteristic,
        ];
        for shape in shapes {
            for (_, key, _) in READ {
                let want = READ
                    .iter()
                    .find(|(s, k, _)| *s == shape && *k == key)
                    .map(|&(_, _, what)| what);
                assert_eq!(
                    keep(shape, key),
                    want,
                    "{shape:?} {}",
                    String::from_utf8_lossy(key)
                );
                // Near misses: a byte more, a byte less, another last byte.
                let longer = [key, b"s"].concat();
                assert_eq!(keep(shape, &longer), None);
                assert_eq!(keep(shape, &key[..key.len() - 1]), None);
                let mut other = key.to_vec();
                *other.last_mut().unwrap() ^= 1;
                assert_eq!(keep(shape, &other), None);
            }
            assert_eq!(keep(shape, b""), None);
        }
    }

    #[test]
    fn every_peril_characteristic_scalar_the_indexer_reads_is_kept() {
        for b in PERIL_SCALARS {
            assert_eq!(
                keep(Shape::PerilCharacteristic, b.as_str().as_bytes()),
                Some(Keep::Whole),
                "{b:?}"
            );
        }
        for b in POLICY_SCALARS {
            assert_eq!(
                keep(Shape::Characteristic, b.as_str().as_bytes()),
                Some(Keep::Whole),
                "{b:?}"
            );
        }
    }

    #[test]
    fn wrong_types_are_kept_for_the_indexer_to_refuse() {
        assert_eq!(
            pruned(r#"{"policy": [1], "policyExposurePerils": {}}"#).unwrap(),
            r#"{"policy": [1],"policyExposurePerils": {}}"#
        );
        assert_eq!(
            pruned(r#"{"policy": null}"#).unwrap(),
            r#"{"policy": null}"#
        );
        assert_eq!(pruned(r#"{}"#).unwrap(), r#"{}"#);
    }

    #[test]
    fn numbers_end_where_they_end() {
        for (text, end) in [
            ("1", 1),
            ("1650006000000,", 13),
            ("-12.5e+3}", 8),
            ("123456789012345678901234 ", 24),
            ("12/", 2),
            ("9\u{e9}", 1),
        ] {
            assert_eq!(number_end(text.as_bytes(), 1), end, "{text:?}");
        }
    }

    #[test]
    fn gives_up_on_anything_unusual() {
        for bad in [
            "",
            "[]",
            "{",
            r#"{"a": 1} x"#,
            r#"{"a" 1}"#,
            r#"{"a": 1,}"#,
            r#"{"a": tru}"#,
            r#"{"a": [1, 2}"#,
            r#"{"a": "unclosed}"#,
            r#"{"a": [}"#,
            r#"{"a": +}"#,
        ] {
            assert_eq!(pruned(bad), Err(Bail), "{bad:?}");
        }
        let deep = format!("{{\"a\": {}{}}}", "[".repeat(70), "]".repeat(70));
        assert_eq!(pruned(&deep), Err(Bail));
    }
}
