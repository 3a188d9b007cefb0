//! Cutting a rating request down to the members rating reads, before simd-json parses it.
//!
//! A Socotra rating request is mostly what rating never looks at: `invoices`, `documents`,
//! `modifications`, every entity's premiums, timestamps and audit fields, and the
//! indentation of pretty-printed JSON. simd-json's tape costs about 0.45 µs per KB of such a
//! request (`cargo bench --bench parse`), so the rater walks the request's skeleton here first, member by member,
//! and copies into a second buffer only the members [`super::payload`] reads (the
//! `keep` table below); dropped members are jumped over with [`super::skip`] at a few
//! instructions per 64 bytes. simd-json then parses and validates the much smaller result,
//! and the index is built from that tape exactly as before.
//!
//! The invariant: for any body this accepts, the pruned body gives the same
//! [`super::payload::Payload`] as the whole body (proven by the differential tests in
//! `tests/prune.rs` and the `rate_request` fuzz target). A member whose key has an escape
//! sequence is kept whole (it may spell a read key), and anything unusual makes it give up
//! ([`Bail`]) so the caller parses the whole body as before: a syntax error on the skeleton,
//! a root that is not an object, trailing bytes, nesting near the limit, a raw control
//! character in a string. The one deliberate difference: inside a dropped member only the
//! structure is checked (strings closed, brackets balanced, depth), not the grammar, so
//! `"invoices": [1 2]` is priced rather than refused; the caller checks UTF-8 for the whole
//! body, and answers every error from the whole body (so the laxness never changes an
//! error, only lets such a body be priced).

use super::payload::MAX_JSON_DEPTH;
use super::skip::{SkipError, container_end, string_end, whitespace_end};

/// Pruning gave up: parse the whole body instead (which also finds the precise error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bail;

impl From<SkipError> for Bail {
    fn from(_: SkipError) -> Bail {
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
}

/// The members [`super::payload`]'s indexer reads; everything else is dropped. Keep this in
/// step with `Indexer` there: `tests/prune.rs` fails if the two disagree on any fixture.
fn keep(shape: Shape, key: &[u8]) -> Option<Keep> {
    use Keep::{ArrayOf, Object, Whole};
    use Shape::*;
    Some(match (shape, key) {
        (Request, b"operation" | b"tenantTimeZone" | b"policyExposurePerils") => Whole,
        (Request, b"policy") => Object(Policy),
        (Policy, b"productName" | b"paymentScheduleName" | b"originalContractStartTimestamp") => {
            Whole
        }
        (Policy, b"characteristics") => ArrayOf(Characteristic),
        (Policy, b"exposures") => ArrayOf(Exposure),
        (Characteristic, b"locator" | b"fieldValues") => Whole,
        (Exposure | Peril, b"name") => Whole,
        (Exposure, b"characteristics") => ArrayOf(Characteristic),
        (Exposure, b"perils") => ArrayOf(Peril),
        (Peril, b"characteristics") => ArrayOf(PerilCharacteristic),
        (
            PerilCharacteristic,
            b"locator"
            | b"fieldValues"
            | b"coverageStartTimestamp"
            | b"coverageEndTimestamp"
            | b"indemnityInAggregate"
            | b"indemnityPerEvent"
            | b"indemnityPerItem"
            | b"deductible"
            | b"lumpSumPayment",
        ) => Whole,
        _ => return None,
    })
}

/// Skipped containers give up a little before simd-json's own limit, so a body near the
/// limit is always judged by simd-json.
const MAX_SKIP_DEPTH: u32 = MAX_JSON_DEPTH as u32 - 1;

/// Writes into `out` (cleared first) `body` with every member rating does not read
/// removed. `out` never grows past `body.len()`: every kept byte is a byte of `body`, and
/// each comma written replaces one that was there.
pub fn prune(body: &[u8], out: &mut Vec<u8>) -> Result<(), Bail> {
    out.clear();
    out.reserve(body.len());
    let mut p = Pruner { body, pos: 0, out };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(Bail);
    }
    p.pos += 1;
    p.object(Shape::Request, 1)?;
    p.ws();
    if p.pos != body.len() {
        return Err(Bail);
    }
    Ok(())
}

struct Pruner<'b, 'o> {
    body: &'b [u8],
    pos: usize,
    out: &'o mut Vec<u8>,
}

impl Pruner<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.body.get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), Bail> {
        if self.peek() != Some(byte) {
            return Err(Bail);
        }
        self.pos += 1;
        Ok(())
    }

    /// Skips JSON whitespace ([`whitespace_end`]: 16 bytes per step).
    #[inline]
    fn ws(&mut self) {
        self.pos = whitespace_end(self.body, self.pos);
    }

    /// The members of an object whose `{` was just read, at nesting `depth`.
    fn object(&mut self, shape: Shape, depth: u32) -> Result<(), Bail> {
        self.out.push(b'{');
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.out.push(b'}');
            return Ok(());
        }
        let mut first = true;
        loop {
            let key_start = self.pos;
            self.expect(b'"')?;
            let (key_end, escaped) = string_end(self.body, self.pos)?;
            self.pos = key_end;
            self.ws();
            self.expect(b':')?;
            self.ws();
            // A key with an escape sequence may spell a read key: keep it whole, unread.
            let what = if escaped {
                Some(Keep::Whole)
            } else {
                keep(shape, &self.body[key_start + 1..key_end - 1])
            };
            match what {
                None => self.skip_value(depth)?,
                Some(what) => {
                    if !first {
                        self.out.push(b',');
                    }
                    first = false;
                    self.out.extend_from_slice(&self.body[key_start..key_end]);
                    self.out.push(b':');
                    self.value(what, depth)?;
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.out.push(b'}');
                    return Ok(());
                }
                _ => return Err(Bail),
            }
        }
    }

    /// The elements of an array whose `[` was just read: every one is kept.
    fn array(&mut self, shape: Shape, depth: u32) -> Result<(), Bail> {
        self.out.push(b'[');
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.out.push(b']');
            return Ok(());
        }
        loop {
            self.value(Keep::Object(shape), depth)?;
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(b',');
                    self.ws();
                }
                Some(b']') => {
                    self.pos += 1;
                    self.out.push(b']');
                    return Ok(());
                }
                _ => return Err(Bail),
            }
        }
    }

    /// A kept value inside a container at `depth`.
    fn value(&mut self, what: Keep, depth: u32) -> Result<(), Bail> {
        if depth + 1 >= MAX_SKIP_DEPTH {
            return Err(Bail);
        }
        match (what, self.peek()) {
            (Keep::Object(shape), Some(b'{')) => {
                self.pos += 1;
                self.object(shape, depth + 1)
            }
            (Keep::ArrayOf(shape), Some(b'[')) => {
                self.pos += 1;
                self.array(shape, depth + 1)
            }
            _ => {
                let start = self.pos;
                self.skip_value(depth)?;
                self.out.extend_from_slice(&self.body[start..self.pos]);
                Ok(())
            }
        }
    }

    /// Moves past the value at `pos`, inside a container at `depth`. Containers and
    /// strings are checked for structure only; a scalar must start like one and a literal
    /// must be spelled right (simd-json validates every kept scalar in full).
    fn skip_value(&mut self, depth: u32) -> Result<(), Bail> {
        let b = self.body;
        match self.peek() {
            Some(b'{' | b'[') => {
                self.pos = container_end(b, self.pos + 1, depth + 1, MAX_SKIP_DEPTH)?;
            }
            Some(b'"') => self.pos = string_end(b, self.pos + 1)?.0,
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => self.pos = number_end(b, self.pos + 1),
            _ => return Err(Bail),
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Bail> {
        if !self.body[self.pos..].starts_with(word) {
            return Err(Bail);
        }
        self.pos += word.len();
        Ok(())
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
        prune(json.as_bytes(), &mut out)?;
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
            r#"{"operation":"renew","policy":{"productName":"auto","characteristics":[{"locator":"c1","fieldValues":{"a": ["x"]}}],"exposures":[{"name":"car","perils":[{"name":"bi","characteristics":[{"locator":"k","deductible":"5"}]},7]}]},"tenantTimeZone":"UTC","p\u006flicy":3}"#
        );
    }

    #[test]
    fn every_peril_characteristic_scalar_the_indexer_reads_is_kept() {
        for name in super::super::payload::PERIL_CHAR_SCALARS {
            assert_eq!(
                keep(Shape::PerilCharacteristic, name.as_bytes()),
                Some(Keep::Whole),
                "{name}"
            );
        }
    }

    #[test]
    fn wrong_types_are_kept_for_the_indexer_to_refuse() {
        assert_eq!(
            pruned(r#"{"policy": [1], "policyExposurePerils": {}}"#).unwrap(),
            r#"{"policy":[1],"policyExposurePerils":{}}"#
        );
        assert_eq!(pruned(r#"{"policy": null}"#).unwrap(), r#"{"policy":null}"#);
        assert_eq!(pruned(r#"{}"#).unwrap(), r#"{}"#);
    }

    #[test]
    fn numbers_and_whitespace_end_where_they_end() {
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
        for (text, end) in [
            ("", 0),
            ("x", 0),
            ("  \n        \t        \r\n x", 23),
            ("                ", 16),
        ] {
            let mut out = Vec::new();
            let mut p = Pruner {
                body: text.as_bytes(),
                pos: 0,
                out: &mut out,
            };
            p.ws();
            assert_eq!(p.pos, end, "{text:?}");
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
