//! Finding where a JSON container ends without parsing it: the fast half of [`super::prune`].
//!
//! This is simdjson's stage-1 idea cut down to what skipping needs. The bytes are read 64 at
//! a time and turned into bit masks (one bit per byte): quotes, backslashes, opening and
//! closing brackets. Escaped quotes are removed with simdjson's branch-free odd-backslash
//! trick, the inside of strings is the prefix XOR of the remaining quotes (carried from block
//! to block), and brackets inside strings are masked out. A block whose closing brackets are
//! fewer than the current depth cannot end the container, so it costs two popcounts; in the
//! block that may hold the end, one popcount per closing bracket finds it. No byte is
//! copied, no structural index is written, nothing is allocated: one skip over a whole 36 KB
//! request runs at about 9 GiB/s here, four times simd-json's tape (docs/PERFORMANCE.md).
//! It also finds the end of short strings and of whitespace for the pruner's walk.
//!
//! What skipping checks: strings are closed and hold no raw control character, brackets
//! balance and nesting stays under the limit. What it does not: the grammar inside (commas,
//! colons, literals, escapes, bracket kinds). That is
//! the trade every on-demand JSON reader makes for the parts it never reads; UTF-8 is checked
//! for the whole body by the caller, and everything rating reads is validated by simd-json.

/// Why a container could not be skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipError {
    /// The body ended before the container (or a string in it) closed.
    Eof,
    /// Nesting went past the limit.
    Depth,
    /// A string holds a raw control character (below U+0020), which JSON forbids.
    Control,
}

/// The masks of one 64-byte block: bit `i` is byte `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
    /// Control characters (bytes below 0x20).
    ctrl: u64,
}

const BLOCK: usize = 64;

/// Classifies one block. SSE2 is part of x86-64 itself, so this needs no runtime detection:
/// 4 loads, 20 byte compares and 20 `movemask`s per 64 bytes. `{`/`[` and `}`/`]` differ
/// only in bit 5 (0x7B/0x5B, 0x7D/0x5D), so OR-ing 0x20 in first finds each pair with one
/// compare.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline, so these intrinsics are always
    // available; the loads read bytes `16 * lane .. 16 * lane + 16` of the 64-byte `block`
    // (in bounds) and `_mm_loadu_si128` has no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let bit5 = _mm_set1_epi8(0x20);
        let open = _mm_set1_epi8(b'{' as i8);
        let close = _mm_set1_epi8(b'}' as i8);
        let below_space = _mm_set1_epi8(0x1F);
        let mut m = Masks::default();
        for lane in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
            let folded = _mm_or_si128(v, bit5);
            let shift = 16 * lane;
            m.quote |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u16) << shift;
            m.backslash |=
                u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) as u16) << shift;
            m.open |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(folded, open)) as u16) << shift;
            m.close |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(folded, close)) as u16) << shift;
            // max(v, 0x1F) == 0x1F exactly when v <= 0x1F (SSE2 has no unsigned compare).
            let ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space);
            m.ctrl |= u64::from(_mm_movemask_epi8(ctrl) as u16) << shift;
        }
        m
    }
}

/// Classifies one block, a byte at a time (other architectures, and the reference the SIMD
/// version is tested against).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_scalar(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            0..=0x1F => m.ctrl |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify(block: &[u8; BLOCK]) -> Masks {
    classify_scalar(block)
}

/// The bytes escaped by a backslash (simdjson's `json_escape_scanner`): within a run of
/// backslashes every other one escapes the next byte, and the run's parity decides whether
/// the byte after it is escaped. `carry` is whether the first byte of the next block is
/// escaped. Branch-free but for the common block with no backslash at all.
#[inline(always)]
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;
    if backslash == 0 {
        return std::mem::take(carry);
    }
    let potential_escape = backslash & !*carry;
    let maybe_escaped = potential_escape << 1;
    let escape_and_terminal_code =
        (maybe_escaped | ODD_BITS).wrapping_sub(potential_escape) ^ ODD_BITS;
    let escaped = escape_and_terminal_code ^ (backslash | *carry);
    let escape = escape_and_terminal_code & backslash;
    *carry = escape >> 63;
    escaped
}

/// Bit `i` is the XOR of bits `0..=i`: from an opening quote up to (not including) its
/// closing quote, the bits are set. Six shift-and-XOR steps; no carry-less multiply needed.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// One past the bracket that closes the container whose opening bracket is just before
/// `start` (`body[start - 1]` is `{` or `[`). `depth` is that container's nesting depth
/// (the root is 1); a container nested inside it reaching depth `max_depth` is
/// [`SkipError::Depth`].
///
/// `start` must be outside any string, which it is right after an opening bracket.
pub fn container_end(
    body: &[u8],
    start: usize,
    depth: u32,
    max_depth: u32,
) -> Result<usize, SkipError> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("popcnt")
        && std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("bmi1")
    {
        // SAFETY: the features were just detected on this CPU (std caches the answer).
        return unsafe { container_end_avx2(body, start, depth, max_depth) };
    }
    scan(body, start, depth, max_depth, classify, prefix_xor)
}

/// [`container_end`] compiled for AVX2 with the POPCNT instruction: 32-byte compares, and
/// the two popcounts per block are one instruction each instead of a dozen (x86-64's
/// baseline has no POPCNT; BMI1 makes the lowest-bit steps one instruction). Every x86
/// server CPU since 2013 has all four; others take the SSE2 path.
///
/// # Safety
/// The CPU must have AVX2, POPCNT, BMI1 and PCLMULQDQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi1,pclmulqdq")]
unsafe fn container_end_avx2(
    body: &[u8],
    start: usize,
    depth: u32,
    max_depth: u32,
) -> Result<usize, SkipError> {
    scan(
        body,
        start,
        depth,
        max_depth,
        |block| {
            // SAFETY: this closure runs inside a function compiled for AVX2, which the
            // caller detected.
            unsafe { classify_avx2(block) }
        },
        |quotes| {
            // SAFETY: likewise for PCLMULQDQ.
            unsafe { prefix_xor_clmul(quotes) }
        },
    )
}

/// [`prefix_xor`] as one carry-less multiply by all ones (simdjson's trick): a single
/// instruction instead of six dependent shift-and-XOR steps.
///
/// # Safety
/// The CPU must have PCLMULQDQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq,sse2")]
#[inline]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// [`classify`] with 32-byte AVX2 compares: 2 loads and 10 compares per 64 bytes.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };
    let quote = _mm256_set1_epi8(b'"' as i8);
    let backslash = _mm256_set1_epi8(b'\\' as i8);
    let bit5 = _mm256_set1_epi8(0x20);
    let open = _mm256_set1_epi8(b'{' as i8);
    let close = _mm256_set1_epi8(b'}' as i8);
    let below_space = _mm256_set1_epi8(0x1F);
    let mut m = Masks::default();
    for half in 0..2 {
        // SAFETY: bytes `32 * half .. 32 * half + 32` of the 64-byte block are in bounds;
        // `_mm256_loadu_si256` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * half).cast::<__m256i>()) };
        let folded = _mm256_or_si256(v, bit5);
        let shift = 32 * half;
        let bits = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32) << shift;
        m.quote |= bits(_mm256_cmpeq_epi8(v, quote));
        m.backslash |= bits(_mm256_cmpeq_epi8(v, backslash));
        m.open |= bits(_mm256_cmpeq_epi8(folded, open));
        m.close |= bits(_mm256_cmpeq_epi8(folded, close));
        m.ctrl |= bits(_mm256_cmpeq_epi8(
            _mm256_max_epu8(v, below_space),
            below_space,
        ));
    }
    m
}

/// `result`, unless a control character (in `ctrl`) comes before `bit`: whichever comes
/// first in the bytes is the answer.
#[inline(always)]
fn first_of(ctrl: u64, bit: u64, result: Result<usize, SkipError>) -> Result<usize, SkipError> {
    if ctrl & (bit - 1) != 0 {
        Err(SkipError::Control)
    } else {
        result
    }
}

/// The scan itself, for one way of classifying blocks; inlined into each caller so the
/// classifier and the bit arithmetic compile for that caller's instruction set.
#[inline(always)]
fn scan(
    body: &[u8],
    start: usize,
    depth: u32,
    max_depth: u32,
    classify: impl Fn(&[u8; BLOCK]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Result<usize, SkipError> {
    // `level` counts open containers from the one being skipped (1) inwards.
    let mut level: u32 = 1;
    // The skipped container is at `depth`; reaching `max_depth` anywhere inside is an error.
    let limit = max_depth.saturating_sub(depth) + 1;
    let mut in_string: u64 = 0; // all ones when the previous block ended inside a string
    let mut carry: u64 = 0; // whether this block's first byte is escaped
    let mut pos = start;
    let mut tail = [b' '; BLOCK];
    while pos < body.len() {
        let block: &[u8; BLOCK] = match body.get(pos..pos + BLOCK) {
            Some(b) => b.try_into().expect("64 bytes"),
            None => {
                // The last partial block, padded with spaces (which change no mask).
                let rest = &body[pos..];
                tail[..rest.len()].copy_from_slice(rest);
                tail[rest.len()..].fill(b' ');
                &tail
            }
        };
        let m = classify(block);
        let escaped = escaped(m.backslash, &mut carry);
        let quotes = m.quote & !escaped;
        let inside = prefix_xor(quotes) ^ in_string;
        in_string = ((inside as i64) >> 63) as u64;
        // A control character inside a string is an error only before the container's end.
        let ctrl = m.ctrl & inside;
        // An escaped bracket outside a string is invalid JSON; not counting it keeps the
        // answer that of a byte-at-a-time scan.
        let open = m.open & !inside & !escaped;
        let close = m.close & !inside & !escaped;
        let (opens, closes) = (open.count_ones(), close.count_ones());
        if level + opens >= limit {
            // Rare: the limit may be passed in this block; walk its brackets in order.
            let mut brackets = open | close;
            while brackets != 0 {
                let bit = brackets & brackets.wrapping_neg();
                if open & bit != 0 {
                    level += 1;
                    if level >= limit {
                        return first_of(ctrl, bit, Err(SkipError::Depth));
                    }
                } else {
                    level -= 1;
                    if level == 0 {
                        return first_of(ctrl, bit, Ok(pos + bit.trailing_zeros() as usize + 1));
                    }
                }
                brackets &= brackets - 1;
            }
            // The walk has moved `level` itself.
            if ctrl != 0 {
                return Err(SkipError::Control);
            }
            pos += BLOCK;
            continue;
        }
        if closes >= level {
            // The end may be here. After the k-th closing bracket the level is `level +
            // (opening brackets before it) - k`; the first that reaches 0 is the end. One
            // popcount per closing bracket, no walk over the opening ones.
            let mut rest = close;
            let mut k = 0;
            while rest != 0 {
                let bit = rest & rest.wrapping_neg();
                k += 1;
                if level + (open & (bit - 1)).count_ones() == k {
                    return first_of(ctrl, bit, Ok(pos + bit.trailing_zeros() as usize + 1));
                }
                rest &= rest - 1;
            }
        }
        if ctrl != 0 {
            return Err(SkipError::Control);
        }
        level = level + opens - closes;
        pos += BLOCK;
    }
    Err(SkipError::Eof)
}

/// One past the quote that closes the string whose opening quote is just before `start`,
/// and whether the string holds a backslash (so its bytes are not its text). A raw control
/// character in it is [`SkipError::Control`].
///
/// Keys and scalar strings are short (10-40 bytes), so this reads 16 bytes per step with
/// SSE2 (x86-64's baseline): one step finds the closing quote of most keys, where a loop
/// per byte or per 8 bytes would pay a mispredicted exit for every token.
#[inline]
pub fn string_end(body: &[u8], start: usize) -> Result<(usize, bool), SkipError> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut pos = start;
        let mut escapes = false;
        while let Some(chunk) = body.get(pos..pos + 16) {
            let special = specials16(chunk.try_into().expect("16 bytes"));
            if special == 0 {
                pos += 16;
                continue;
            }
            let at = pos + special.trailing_zeros() as usize;
            match at_special(body, at, &mut escapes)? {
                Ok(end) => return Ok((end, escapes)),
                Err(resume) => pos = resume,
            }
        }
        // Fewer than 16 bytes left.
        let (end, more) = string_end_swar(body, pos)?;
        Ok((end, escapes || more))
    }
    #[cfg(not(target_arch = "x86_64"))]
    string_end_swar(body, start)
}

/// Bit `i` set when byte `i` of `chunk` is `"`, `\\` or a control character.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn specials16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86-64 baseline; the load reads the 16 bytes of `chunk`
    // and has no alignment requirement.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let below_space = _mm_set1_epi8(0x1F);
        let hits = _mm_or_si128(
            _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
            ),
            _mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space),
        );
        _mm_movemask_epi8(hits) as u32
    }
}

/// The first byte at or after `pos` that is not JSON whitespace (`body.len()` if none).
/// Pretty-printed requests put a newline and dozens of spaces before every member: 16 bytes
/// per SSE2 step, and no loop at all when the next byte is not whitespace.
#[inline]
pub fn whitespace_end(body: &[u8], mut pos: usize) -> usize {
    match body.get(pos) {
        Some(b' ' | b'\n' | b'\r' | b'\t') => {}
        _ => return pos,
    }
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = body.get(pos..pos + 16) {
        let other = !whitespace16(chunk.try_into().expect("16 bytes")) & 0xFFFF;
        if other != 0 {
            return pos + other.trailing_zeros() as usize;
        }
        pos += 16;
    }
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = body.get(pos) {
        pos += 1;
    }
    pos
}

/// Bit `i` set when byte `i` of `chunk` is JSON whitespace.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn whitespace16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: as in `specials16`.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
        let ws = _mm_or_si128(
            _mm_or_si128(eq(b' '), eq(b'\n')),
            _mm_or_si128(eq(b'\r'), eq(b'\t')),
        );
        _mm_movemask_epi8(ws) as u32
    }
}

/// [`string_end`] 8 bytes at a time as a `u64`: the first quote, backslash or control
/// character is found with the classic zero-byte bit tricks (SWAR). Used for the last
/// bytes of a body, on other architectures, and as the reference in tests.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn string_end_swar(body: &[u8], start: usize) -> Result<(usize, bool), SkipError> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Bit 7 of byte i is set when byte i is zero; exact for the lowest such byte (a borrow
    // can only mark bytes above a true zero), which is the only one used.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut pos = start;
    let mut escapes = false;
    loop {
        let (word, valid) = match body.get(pos..pos + 8) {
            Some(w) => (u64::from_le_bytes(w.try_into().expect("8 bytes")), 8),
            None => {
                let rest = body.get(pos..).ok_or(SkipError::Eof)?;
                if rest.is_empty() {
                    return Err(SkipError::Eof);
                }
                // Pad with a byte that is none of the three ('a').
                let mut w = [b'a'; 8];
                w[..rest.len()].copy_from_slice(rest);
                (u64::from_le_bytes(w), rest.len())
            }
        };
        // Bytes below 0x20: the high bit clear before and set after subtracting 0x20 from
        // each byte (exact for the lowest one, like `zero`).
        let special = zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH);
        if special == 0 {
            pos += valid;
            continue;
        }
        let at = pos + (special.trailing_zeros() / 8) as usize;
        match at_special(body, at, &mut escapes)? {
            Ok(end) => return Ok((end, escapes)),
            Err(resume) => pos = resume,
        }
    }
}

/// What the first quote, backslash or control character at `at` means for a string scan:
/// `Ok(end)` for the closing quote (one past it), `Err(resume)` for an escape (the scan goes
/// on at `resume`, past the escaped byte), or a control character's error. Shared by the
/// SSE2 and the SWAR scans.
#[inline(always)]
fn at_special(
    body: &[u8],
    at: usize,
    escapes: &mut bool,
) -> Result<Result<usize, usize>, SkipError> {
    match body[at] {
        b'"' => Ok(Ok(at + 1)),
        b'\\' => {
            *escapes = true;
            // The escaped byte is still checked for being a control character.
            if body.get(at + 1).is_some_and(|&c| c < 0x20) {
                return Err(SkipError::Control);
            }
            Ok(Err(at + 2))
        }
        _ => Err(SkipError::Control),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: a byte-at-a-time JSON container skipper.
    fn container_end_slow(
        body: &[u8],
        start: usize,
        depth: u32,
        max: u32,
    ) -> Result<usize, SkipError> {
        let mut level = 1u32;
        let limit = max.saturating_sub(depth) + 1;
        let mut i = start;
        let mut in_str = false;
        while i < body.len() {
            let b = body[i];
            // A backslash escapes the next byte inside or outside a string, as in simdjson
            // (outside one it is invalid JSON, which simd-json or the pruner refuses).
            if b == b'\\' {
                // An escaped control character is still a raw one in the string.
                if in_str && body.get(i + 1).is_some_and(|&c| c < 0x20) {
                    return Err(SkipError::Control);
                }
                i += 2;
                continue;
            }
            if in_str {
                if b == b'"' {
                    in_str = false;
                } else if b < 0x20 {
                    return Err(SkipError::Control);
                }
            } else {
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => {
                        level += 1;
                        if level >= limit {
                            return Err(SkipError::Depth);
                        }
                    }
                    b'}' | b']' => {
                        level -= 1;
                        if level == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        Err(SkipError::Eof)
    }

    #[test]
    fn finds_the_end_past_strings_and_escapes() {
        let cases: &[(&str, usize)] = &[
            (r#"[]"#, 2),
            (r#"{"a":[1,2,{"b":"}]"}]} tail"#, 22),
            (r#"["\"]", "\\", "\\\"]"] x"#, 22),
            (r#"{"k":"\\\\\\"}" }"#, 14),
            (r#"{"k":"\\\\\\\"}" }"#, 18),
        ];
        for &(json, end) in cases {
            assert_eq!(container_end(json.as_bytes(), 1, 1, 64), Ok(end), "{json}");
        }
        assert_eq!(container_end(b"[[[", 1, 1, 64), Err(SkipError::Eof));
        assert_eq!(container_end(b"[\"]", 1, 1, 64), Err(SkipError::Eof));
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(
            container_end(deep.as_bytes(), 1, 1, 64),
            Err(SkipError::Depth)
        );
        assert_eq!(container_end(deep.as_bytes(), 1, 1, 200), Ok(200));
    }

    #[test]
    fn escapes_cross_block_boundaries() {
        // A run of backslashes ending exactly at a block boundary, then a quote.
        for pad in 0..70 {
            for run in 1..6 {
                let json = format!("[\"{}{}\"]  ", "a".repeat(pad), "\\".repeat(run));
                let got = container_end(json.as_bytes(), 1, 1, 64);
                let want = container_end_slow(json.as_bytes(), 1, 1, 64);
                assert_eq!(got, want, "{json}");
            }
        }
    }

    #[test]
    fn simd_masks_equal_the_scalar_ones() {
        let mut block = [0u8; BLOCK];
        for seed in 0..2000u64 {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = b"\"\\{}[]ab \x7B\x5B\xFF\x00\x1F\x20\x80,"[(x % 17) as usize];
            }
            assert_eq!(classify(&block), classify_scalar(&block));
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was just detected.
                assert_eq!(unsafe { classify_avx2(&block) }, classify_scalar(&block));
            }
        }
    }

    #[test]
    fn carry_less_prefix_xor_equals_the_shifts() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("pclmulqdq") {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // SAFETY: PCLMULQDQ was just detected.
                assert_eq!(unsafe { prefix_xor_clmul(x) }, prefix_xor(x));
            }
        }
    }

    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'\n'),
                Just(b'\t'),
                Just(b'\r'),
                Just(0x00),
                Just(0x1F),
                Just(0x21),
                Just(0x7F),
                Just(0x80),
                Just(0xFF),
                Just(b'"'),
                Just(b'\\'),
                Just(b'{'),
                Just(b'}'),
                Just(b'['),
                Just(b']'),
                Just(b'a'),
                Just(b' '),
                Just(b','),
            ],
            0..400,
        )
    }

    proptest! {
        #[test]
        fn agrees_with_the_byte_at_a_time_skipper(mut body in jsonish(), max in 1u32..80) {
            body.insert(0, b'[');
            let want = container_end_slow(&body, 1, 1, max);
            // The dispatched path (AVX2 here) and the baseline SSE2 one.
            prop_assert_eq!(container_end(&body, 1, 1, max), want);
            prop_assert_eq!(scan(&body, 1, 1, max, classify, prefix_xor), want);
        }

        #[test]
        fn agrees_near_the_depth_limit(
            body in proptest::collection::vec(
                prop_oneof![4 => Just(b'['), 3 => Just(b']'), 1 => Just(b'"'), 1 => Just(b' ')],
                0..600,
            ),
            max in 1u32..40,
        ) {
            let mut body = body;
            body.insert(0, b'[');
            let want = container_end_slow(&body, 1, 1, max);
            prop_assert_eq!(container_end(&body, 1, 1, max), want);
            prop_assert_eq!(scan(&body, 1, 1, max, classify, prefix_xor), want);
        }

        #[test]
        fn strings_end_where_the_slow_scan_ends(body in jsonish()) {
            let mut i = 0;
            let mut esc = false;
            let want = loop {
                match body.get(i) {
                    None => break Err(SkipError::Eof),
                    Some(b'\\') if body.get(i + 1).is_some_and(|&c| c < 0x20) => {
                        break Err(SkipError::Control)
                    }
                    Some(b'\\') => { esc = true; i += 2; }
                    Some(b'"') => break Ok((i + 1, esc)),
                    Some(&c) if c < 0x20 => break Err(SkipError::Control),
                    Some(_) => i += 1,
                }
            };
            prop_assert_eq!(string_end(&body, 0), want);
            prop_assert_eq!(string_end_swar(&body, 0), want);
            let ws = body.iter().position(|c| !matches!(c, b' ' | b'\n' | b'\r' | b'\t')).unwrap_or(body.len());
            prop_assert_eq!(whitespace_end(&body, 0), ws);
        }
    }
}
