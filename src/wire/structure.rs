//! The body's structure as bit masks: simdjson's stage 1, the fast half of [`super::prune`].
//!
//! The body is read 64 bytes at a time and every block is turned into bit masks, one bit
//! per byte, with no branch that depends on the bytes: quotes, backslashes, brackets,
//! colons and commas, whitespace, control characters. Escaped quotes are removed with
//! simdjson's odd-backslash trick, the inside of strings is the prefix XOR of the remaining
//! quotes (one carry-less multiply, carried from block to block), and everything inside a
//! string is masked out. What is kept per block ([`Block`]) is what the pruner's walk needs:
//!
//! - `events`: every byte where the grammar has something to say: a structural character
//!   outside strings (`{ } [ ] : ,`), an unescaped quote (opening or closing), and the
//!   first byte of every other run of non-whitespace outside strings (a number, a literal,
//!   or junk). Between two events there is only whitespace, the inside of a string, or the
//!   rest of a scalar, so a walk from event to event sees every token and misses no
//!   syntax error on the path it walks;
//! - `open` and `close`: the brackets outside strings, so a container the walk drops is
//!   jumped over by counting them, two popcounts per block ([`container_end`]);
//! - `escapes`: the backslashes inside strings, so the walk can tell whether a key holds an
//!   escape sequence without reading it again ([`escapes`]).
//!
//! One pass over the 36 KB request costs about 3.2 µs here, about what a bare SIMD skip over
//! it cost (`cargo bench --bench parse`, `structure_alone`), and then no byte of a dropped
//! member is looked at again. It checks, for the whole body: no string holds a raw control
//! character, the last string is closed; and it says whether every byte is ASCII (then the
//! body is valid UTF-8 with no further check). Everything else is the walk's to check
//! (grammar on the path it walks, bracket balance and depth where it jumps) and simd-json's
//! (everything kept).
//!
//! This module holds all of the crate's `unsafe` code: SIMD intrinsics, each behind the
//! runtime check of the CPU feature it needs: AVX-512BW where the CPU has it (every compare
//! writes its 64-bit mask directly), else AVX2, else SSE2 (part of x86-64 itself); plain
//! Rust on other architectures; and POPCNT for jumping containers. Every classifier is
//! tested against a byte-at-a-time one, the whole pass against a byte-at-a-time scanner,
//! and [`container_end`] against a bracket-at-a-time walk.

/// Why the body has no usable structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructureError {
    /// A string holds a raw control character (below U+0020), which JSON forbids.
    Control,
    /// The body ended inside a string.
    Unclosed,
}

/// The structure of one 64-byte block of the body: bit `i` is byte `64 * k + i` of the
/// body for the `k`-th block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Block {
    /// Structurals outside strings, unescaped quotes, and the first byte of every other run
    /// of non-whitespace outside strings.
    pub events: u64,
    /// `{` and `[` outside strings.
    pub open: u64,
    /// `}` and `]` outside strings.
    pub close: u64,
    /// Backslashes inside strings.
    pub escapes: u64,
}

/// The raw masks of one block, before strings are taken into account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
    /// `:` and `,`.
    sep: u64,
    /// JSON whitespace: space, tab, line feed, carriage return.
    ws: u64,
    /// Control characters (bytes below 0x20), whitespace included.
    ctrl: u64,
    /// Bytes of 0x80 and above (not ASCII).
    high: u64,
}

const BLOCK: usize = 64;

impl Masks {
    /// Hides the masks' origin from the optimiser. Without this, LLVM sees that every mask
    /// is a `movemask` of a vector compare, folds the integer bit arithmetic of
    /// [`State::step`] back into 64-lane boolean vectors, which AVX2 has no registers for,
    /// and spills them a byte at a time (the pass ran 6x slower). An empty `asm!` costs
    /// nothing at run time.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn opaque(mut self) -> Masks {
        for x in [
            &mut self.quote,
            &mut self.backslash,
            &mut self.open,
            &mut self.close,
            &mut self.sep,
            &mut self.ws,
            &mut self.ctrl,
            &mut self.high,
        ] {
            // SAFETY: an empty assembly block that reads and writes one register: it
            // touches no memory, no stack and no flags.
            unsafe {
                std::arch::asm!(
                    "/* {0} */",
                    inout(reg) * x,
                    options(pure, nomem, nostack, preserves_flags)
                );
            }
        }
        self
    }
}

/// Classifies one block. SSE2 is part of x86-64 itself, so this needs no runtime detection.
/// `{`/`[` and `}`/`]` differ only in bit 5 (0x7B/0x5B, 0x7D/0x5D), so OR-ing 0x20 in first
/// finds each pair with one compare.
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
        // The constants are built once, outside the loop (a closure taking the byte as a
        // parameter compiled to byte-by-byte vector inserts).
        let [
            quote,
            backslash,
            open,
            close,
            colon,
            comma,
            space,
            lf,
            cr,
            tab,
            bit5,
        ] = [
            b'"', b'\\', b'{', b'}', b':', b',', b' ', b'\n', b'\r', b'\t', 0x20,
        ]
        .map(|b| _mm_set1_epi8(b as i8));
        let below_space = _mm_set1_epi8(0x1F);
        let mut m = Masks::default();
        for lane in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
            let folded = _mm_or_si128(v, bit5);
            let shift = 16 * lane;
            let bits = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u16) << shift;
            m.quote |= bits(_mm_cmpeq_epi8(v, quote));
            m.backslash |= bits(_mm_cmpeq_epi8(v, backslash));
            m.open |= bits(_mm_cmpeq_epi8(folded, open));
            m.close |= bits(_mm_cmpeq_epi8(folded, close));
            m.sep |= bits(_mm_cmpeq_epi8(v, colon)) | bits(_mm_cmpeq_epi8(v, comma));
            // One movemask per compare: OR-ing the four compares as vectors let LLVM turn
            // them into a per-byte bit test, 20 times slower.
            m.ws |= bits(_mm_cmpeq_epi8(v, space))
                | bits(_mm_cmpeq_epi8(v, lf))
                | bits(_mm_cmpeq_epi8(v, cr))
                | bits(_mm_cmpeq_epi8(v, tab));
            // max(v, 0x1F) == 0x1F exactly when v <= 0x1F (SSE2 has no unsigned compare).
            m.ctrl |= bits(_mm_cmpeq_epi8(_mm_max_epu8(v, below_space), below_space));
            m.high |= bits(v);
        }
        m.opaque()
    }
}

/// Whitespace by simdjson's table lookup (a byte shuffle, in each 16-byte lane): each byte's
/// low nibble picks an entry, and only ' ', '\t', '\n' and '\r' equal the entry they pick
/// (a byte with the high bit set picks 0; the other entries are chosen to match no byte
/// with their index as low nibble). Four compares OR-ed together were turned by LLVM into
/// a per-byte bit test.
#[cfg(target_arch = "x86_64")]
const WS_TABLE: [u8; 16] = [
    b' ', 100, 100, 100, 17, 100, 113, 2, 100, b'\t', b'\n', 112, 100, b'\r', 100, 100,
];

/// [`classify`] with 32-byte AVX2 compares: half the instructions per block.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_loadu_si128, _mm256_broadcastsi128_si256, _mm256_cmpeq_epi8,
        _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_shuffle_epi8,
    };
    let [quote, backslash, open, close, colon, comma, bit5] =
        [b'"', b'\\', b'{', b'}', b':', b',', 0x20].map(|b| _mm256_set1_epi8(b as i8));
    // SAFETY: `WS_TABLE` is 16 bytes; `_mm_loadu_si128` has no alignment requirement.
    let ws_table = _mm256_broadcastsi128_si256(unsafe {
        _mm_loadu_si128(WS_TABLE.as_ptr().cast::<__m128i>())
    });
    let below_space = _mm256_set1_epi8(0x1F);
    let mut m = Masks::default();
    for half in 0..2 {
        // SAFETY: bytes `32 * half .. 32 * half + 32` of the 64-byte block are in bounds;
        // `_mm256_loadu_si256` has no alignment requirement.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * half).cast::<__m256i>()) };
        let folded = _mm256_or_si256(v, bit5);
        let shift = 32 * half;
        let bits = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32) << shift;
        let eq = _mm256_cmpeq_epi8;
        m.quote |= bits(eq(v, quote));
        m.backslash |= bits(eq(v, backslash));
        m.open |= bits(eq(folded, open));
        m.close |= bits(eq(folded, close));
        m.sep |= bits(_mm256_or_si256(eq(v, colon), eq(v, comma)));
        // One shuffle and one compare instead of four compares (see `WS_TABLE`).
        m.ws |= bits(eq(v, _mm256_shuffle_epi8(ws_table, v)));
        m.ctrl |= bits(_mm256_cmpeq_epi8(
            _mm256_max_epu8(v, below_space),
            below_space,
        ));
        m.high |= bits(v);
    }
    m.opaque()
}

/// [`classify`] with AVX-512BW: one 64-byte load, and every compare writes its 64-bit mask
/// directly (no `movemask` and no halves to join), about half the work of the AVX2 path.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn classify_avx512(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, __m512i, _mm_loadu_si128, _mm512_broadcast_i32x4, _mm512_cmpeq_epi8_mask,
        _mm512_cmple_epu8_mask, _mm512_loadu_si512, _mm512_movepi8_mask, _mm512_or_si512,
        _mm512_set1_epi8, _mm512_shuffle_epi8,
    };
    // SAFETY: the 64 bytes of `block` are in bounds; `_mm512_loadu_si512` has no alignment
    // requirement.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast::<__m512i>()) };
    let [
        quote,
        backslash,
        open,
        close,
        colon,
        comma,
        bit5,
        below_space,
    ] = [b'"', b'\\', b'{', b'}', b':', b',', 0x20, 0x1F].map(|b| _mm512_set1_epi8(b as i8));
    // SAFETY: `WS_TABLE` is 16 bytes; `_mm_loadu_si128` has no alignment requirement.
    let ws_table =
        _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(WS_TABLE.as_ptr().cast::<__m128i>()) });
    let folded = _mm512_or_si512(v, bit5);
    let eq = _mm512_cmpeq_epi8_mask;
    Masks {
        quote: eq(v, quote),
        backslash: eq(v, backslash),
        open: eq(folded, open),
        close: eq(folded, close),
        sep: eq(v, colon) | eq(v, comma),
        ws: eq(v, _mm512_shuffle_epi8(ws_table, v)),
        ctrl: _mm512_cmple_epu8_mask(v, below_space),
        high: _mm512_movepi8_mask(v),
    }
    .opaque()
}

/// Classifies one block, a byte at a time (other architectures, and the reference the SIMD
/// versions are tested against).
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
            b':' | b',' => m.sep |= bit,
            _ => {}
        }
        if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            m.ws |= bit;
        }
        if b < 0x20 {
            m.ctrl |= bit;
        }
        if b >= 0x80 {
            m.high |= bit;
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
/// closing quote, the bits are set. Six shift-and-XOR steps.
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

/// Writes the structure of `body` into `out` (cleared first): one [`Block`] per 64 bytes,
/// the last block's missing bytes read as spaces. Also says whether the body is all ASCII
/// (one more mask per block, so a real request needs no separate UTF-8 check).
pub fn index(body: &[u8], out: &mut Vec<Block>) -> Result<Text, StructureError> {
    #[cfg(target_arch = "x86_64")]
    if simd_pass_base() {
        if std::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the features were just detected on this CPU (std caches the answer;
            // AVX-512BW implies AVX-512F).
            return unsafe { index_avx512(body, out) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: likewise.
            return unsafe { index_avx2(body, out) };
        }
    }
    index_with(body, out, classify, prefix_xor)
}

/// What both SIMD passes need beside their vector extension: PCLMULQDQ for the quote masks,
/// BMI1 and BMI2 for the bit arithmetic (std caches each answer).
#[cfg(target_arch = "x86_64")]
fn simd_pass_base() -> bool {
    std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("bmi1")
        && std::is_x86_feature_detected!("bmi2")
}

/// [`index`] compiled for AVX-512BW and PCLMULQDQ (Intel since Skylake-SP, AMD since Zen 4),
/// and BMI1/BMI2, which every such CPU has: `andn` and flag-free shifts for the bit
/// arithmetic of [`State::step`] (the pass 3-4 % faster, docs/PERFORMANCE.md section 0).
///
/// # Safety
/// The CPU must have AVX-512F, AVX-512BW, PCLMULQDQ, BMI1 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1,bmi2")]
unsafe fn index_avx512(body: &[u8], out: &mut Vec<Block>) -> Result<Text, StructureError> {
    index_with(
        body,
        out,
        |block| {
            // SAFETY: this closure runs inside a function compiled for AVX-512BW, which the
            // caller detected.
            unsafe { classify_avx512(block) }
        },
        |quotes| {
            // SAFETY: likewise for PCLMULQDQ.
            unsafe { prefix_xor_clmul(quotes) }
        },
    )
}

/// [`index`] compiled for AVX2, PCLMULQDQ, BMI1 and BMI2 (every x86 server CPU since 2013;
/// others take the SSE2 path).
///
/// # Safety
/// The CPU must have AVX2, PCLMULQDQ, BMI1 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,bmi1,bmi2")]
unsafe fn index_avx2(body: &[u8], out: &mut Vec<Block>) -> Result<Text, StructureError> {
    index_with(
        body,
        out,
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

/// The pass itself, for one way of classifying blocks; inlined into each caller so the
/// classifier and the bit arithmetic compile for that caller's instruction set.
#[inline(always)]
fn index_with(
    body: &[u8],
    out: &mut Vec<Block>,
    classify: impl Fn(&[u8; BLOCK]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Result<Text, StructureError> {
    out.clear();
    out.reserve(body.len().div_ceil(BLOCK));
    let mut state = State::default();
    let (blocks, rest) = body.as_chunks::<BLOCK>();
    // Each block is written straight into the reserved capacity and the length is set once
    // at the end. A `push` per block reloaded and stored the vector's length and compared
    // it with the capacity on every block, which kept more values live across the loop and
    // made it spill. (`extend` with a closure is no better here: its loop is compiled
    // outside this function's instruction set, so the classifier is not inlined into it.)
    for (slot, block) in out.spare_capacity_mut().iter_mut().zip(blocks) {
        slot.write(state.step(classify(block), &prefix_xor));
    }
    // SAFETY: `out` was cleared and then reserved `div_ceil(len, 64)` >= `blocks.len()`
    // blocks, so the zip above ran over every block and initialised each of the first
    // `blocks.len()` slots.
    unsafe { out.set_len(blocks.len()) };
    if !rest.is_empty() {
        // Spaces change no mask.
        let mut tail = [b' '; BLOCK];
        tail[..rest.len()].copy_from_slice(rest);
        out.push(state.step(classify(&tail), &prefix_xor));
    }
    if state.control != 0 {
        Err(StructureError::Control)
    } else if state.in_string != 0 {
        Err(StructureError::Unclosed)
    } else {
        Ok(Text {
            ascii: state.high == 0,
            backslash: state.backslash != 0,
        })
    }
}

/// What the pass learnt about the body's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    /// Every byte is ASCII, so the body is valid UTF-8 without a separate check.
    pub ascii: bool,
    /// Some byte is a backslash. When none is, no string has an escape sequence and
    /// [`escapes`] need not be asked (Socotra's requests have none).
    pub backslash: bool,
}

/// What one block hands the next.
#[derive(Default)]
struct State {
    /// All ones when the previous block ended inside a string.
    in_string: u64,
    /// Whether this block's first byte is escaped.
    escape: u64,
    /// Whether the previous block's last byte was part of a scalar.
    scalar: u64,
    /// Control characters found inside strings so far.
    control: u64,
    /// Bytes above ASCII found so far.
    high: u64,
    /// Backslashes found so far.
    backslash: u64,
}

impl State {
    #[inline(always)]
    fn step(&mut self, m: Masks, prefix_xor: impl Fn(u64) -> u64) -> Block {
        let escaped = escaped(m.backslash, &mut self.escape);
        let quote = m.quote & !escaped;
        let inside = prefix_xor(quote) ^ self.in_string;
        self.in_string = ((inside as i64) >> 63) as u64;
        self.control |= m.ctrl & inside;
        self.high |= m.high;
        self.backslash |= m.backslash;
        // An escaped bracket or separator outside a string is invalid JSON; counting it as
        // part of a scalar (junk) keeps it out of the structure.
        let outside = !inside & !escaped;
        let open = m.open & outside;
        let close = m.close & outside;
        let structural = open | close | (m.sep & outside);
        let scalar = !(inside | quote | structural | m.ws);
        let scalar_start = scalar & !((scalar << 1) | self.scalar);
        self.scalar = scalar >> 63;
        Block {
            events: structural | quote | scalar_start,
            open,
            close,
            escapes: m.backslash & inside,
        }
    }
}

/// Whether bytes `start..end` hold a backslash inside a string (an escape sequence).
/// Inlined: the pruner asks this of every key it does not keep and of every locator, and a
/// key or locator almost always lies in one block (two mask operations).
#[inline(always)]
pub fn escapes(blocks: &[Block], start: usize, end: usize) -> bool {
    if start >= end {
        return false;
    }
    let (first, last) = (start / BLOCK, (end - 1) / BLOCK);
    // Bits `start % 64 ..` of the first block and `.. end % 64` of the last.
    let from = !0u64 << (start % BLOCK);
    let upto = match end % BLOCK {
        0 => !0u64,
        n => !(!0u64 << n),
    };
    if first == last {
        return blocks[first].escapes & from & upto != 0;
    }
    escapes_across(blocks, first, last, from, upto)
}

/// [`escapes`] for a span over more than one block.
#[inline(never)]
fn escapes_across(blocks: &[Block], first: usize, last: usize, from: u64, upto: u64) -> bool {
    blocks[first].escapes & from != 0
        || blocks[first + 1..last].iter().any(|b| b.escapes != 0)
        || blocks[last].escapes & upto != 0
}

/// Where the container ends whose opening bracket is the event just before `live` in block
/// `at` (`live`: that block's events after it): the block and the bit of its closing
/// bracket. `limit` is how many levels may open, the container itself included, before
/// [`NoEnd`] (reaching it is the error).
///
/// Blocks are jumped by counting brackets: a block with fewer closing brackets than the
/// open level cannot hold the end, which costs two popcounts; in the one that may, each
/// closing bracket is tried in order. With the POPCNT instruction where the CPU has it
/// (x86-64's baseline has none, and a software popcount is a dozen instructions).
pub fn container_end(
    blocks: &[Block],
    at: usize,
    live: u64,
    limit: u32,
) -> Result<(usize, u64), NoEnd> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("popcnt") && std::is_x86_feature_detected!("bmi1") {
        // SAFETY: the features were just detected on this CPU (std caches the answer).
        return unsafe { container_end_popcnt(blocks, at, live, limit) };
    }
    container_end_with(blocks, at, live, limit)
}

/// The body ended before the container closed, or nesting reached the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoEnd;

/// [`container_end`] compiled for POPCNT and BMI1 (`tzcnt`, `blsi`, `blsr` for the walk
/// over a block's brackets).
///
/// # Safety
/// The CPU must have POPCNT and BMI1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt,bmi1")]
unsafe fn container_end_popcnt(
    blocks: &[Block],
    at: usize,
    live: u64,
    limit: u32,
) -> Result<(usize, u64), NoEnd> {
    container_end_with(blocks, at, live, limit)
}

#[inline(always)]
fn container_end_with(
    blocks: &[Block],
    mut at: usize,
    mut live: u64,
    limit: u32,
) -> Result<(usize, u64), NoEnd> {
    // Open containers from the one being skipped (1) inwards.
    let mut level: u32 = 1;
    loop {
        let block = blocks.get(at).ok_or(NoEnd)?;
        let (open, close) = (block.open & live, block.close & live);
        let (opens, closes) = (open.count_ones(), close.count_ones());
        if level + opens >= limit {
            // Rare: the limit may be passed in this block; walk its brackets in order.
            let mut brackets = open | close;
            while brackets != 0 {
                let bit = brackets & brackets.wrapping_neg();
                if open & bit != 0 {
                    level += 1;
                    if level >= limit {
                        return Err(NoEnd);
                    }
                } else {
                    level -= 1;
                    if level == 0 {
                        return Ok((at, bit));
                    }
                }
                brackets &= brackets - 1;
            }
        } else {
            if closes >= level {
                let mut rest = close;
                let mut k = 0;
                while rest != 0 {
                    let bit = rest & rest.wrapping_neg();
                    k += 1;
                    if level + (open & (bit - 1)).count_ones() == k {
                        return Ok((at, bit));
                    }
                    rest &= rest - 1;
                }
            }
            level = level + opens - closes;
        }
        at += 1;
        live = !0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The structure a byte at a time: the reference for [`index`].
    fn index_slow(body: &[u8]) -> Result<Vec<Block>, StructureError> {
        let mut out = vec![Block::default(); body.len().div_ceil(BLOCK)];
        let mut in_string = false;
        let mut escaped = false;
        let mut prev_scalar = false;
        let mut control = false;
        for (i, &b) in body.iter().enumerate() {
            let (blk, bit) = (&mut out[i / BLOCK], 1u64 << (i % BLOCK));
            if in_string {
                if b == b'\\' {
                    blk.escapes |= bit;
                }
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    blk.events |= bit;
                }
                control |= b < 0x20;
                prev_scalar = false;
                continue;
            }
            let was_escaped = std::mem::take(&mut escaped);
            let mut scalar = false;
            match b {
                b'"' if !was_escaped => {
                    in_string = true;
                    blk.events |= bit;
                }
                b'{' | b'[' if !was_escaped => {
                    blk.open |= bit;
                    blk.events |= bit;
                }
                b'}' | b']' if !was_escaped => {
                    blk.close |= bit;
                    blk.events |= bit;
                }
                b':' | b',' if !was_escaped => blk.events |= bit,
                b' ' | b'\n' | b'\r' | b'\t' => {}
                _ => {
                    scalar = true;
                    if !prev_scalar {
                        blk.events |= bit;
                    }
                    // Outside strings a backslash still escapes the next byte (as the
                    // SIMD pass computes escapes everywhere).
                    escaped = b == b'\\' && !was_escaped;
                }
            }
            prev_scalar = scalar;
        }
        if control {
            Err(StructureError::Control)
        } else if in_string {
            Err(StructureError::Unclosed)
        } else {
            Ok(out)
        }
    }

    /// The structure by every path this CPU can run: the dispatched one, AVX2 and SSE2.
    fn index_all_ways(body: &[u8]) -> Vec<Result<Vec<Block>, StructureError>> {
        let ascii = body.is_ascii();
        let run = |f: &dyn Fn(&mut Vec<Block>) -> Result<Text, StructureError>| {
            let mut out = Vec::new();
            f(&mut out).map(|text| {
                assert_eq!(text.ascii, ascii);
                assert_eq!(text.backslash, body.contains(&b'\\'));
                out
            })
        };
        let mut all = vec![
            run(&|out| index(body, out)),
            run(&|out| index_with(body, out, classify, prefix_xor)),
        ];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && simd_pass_base() {
            // SAFETY: the features were just detected.
            all.push(run(&|out| unsafe { index_avx2(body, out) }));
        }
        all
    }

    #[test]
    fn marks_every_token_and_nothing_inside_strings() {
        let body = br#"{"a\"}": [12, true,"x"] ,"b":{}}"#;
        let all = index_all_ways(body);
        let blocks = all[0].clone().unwrap();
        for other in &all {
            assert_eq!(other.as_ref().unwrap(), &blocks);
        }
        let events: Vec<usize> = (0..body.len())
            .filter(|&i| blocks[0].events >> i & 1 == 1)
            .collect();
        // { "  "  :  [ 12 , true , "x" ] , "b" : { } }
        assert_eq!(
            events,
            [
                0, 1, 6, 7, 9, 10, 12, 14, 18, 19, 21, 22, 24, 25, 27, 28, 29, 30, 31
            ]
        );
        assert_eq!(blocks[0].open, 1 | 1 << 9 | 1 << 29);
        assert_eq!(blocks[0].close, 1 << 22 | 1 << 30 | 1 << 31);
    }

    #[test]
    fn refuses_control_characters_in_strings_and_unclosed_strings() {
        assert_eq!(
            index(b"[\"a\x01\"]", &mut Vec::new()),
            Err(StructureError::Control)
        );
        assert_eq!(
            index(b"[\"a\\\n\"]", &mut Vec::new()),
            Err(StructureError::Control)
        );
        assert_eq!(
            index(b"[\"a]", &mut Vec::new()),
            Err(StructureError::Unclosed)
        );
        assert_eq!(
            index(b"[\"a\\\"]", &mut Vec::new()),
            Err(StructureError::Unclosed)
        );
        // Outside strings a control character is junk for the walk, not an error here.
        let ascii = Ok(Text {
            ascii: true,
            backslash: false,
        });
        assert_eq!(index(b"[\x01]", &mut Vec::new()), ascii);
        assert_eq!(index(b"", &mut Vec::new()), ascii);
        assert_eq!(
            index("[\"é\"]".as_bytes(), &mut Vec::new()),
            Ok(Text {
                ascii: false,
                backslash: false
            })
        );
    }

    #[test]
    fn escapes_cross_block_boundaries() {
        // A run of backslashes ending exactly at a block boundary, then a quote.
        for pad in 0..70 {
            for run in 1..6 {
                let json = format!("[\"{}{}\"]  \"\"", "a".repeat(pad), "\\".repeat(run));
                let want = index_slow(json.as_bytes());
                for got in index_all_ways(json.as_bytes()) {
                    assert_eq!(got, want, "{json}");
                }
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
                *b = b"\"\\{}[]ab \x7B\x5B\xFF\x00\x1F\x20\x80,:\n\r\t\x0B\x3A\x1A"
                    [(x % 23) as usize];
            }
            assert_eq!(classify(&block), classify_scalar(&block));
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was just detected.
                assert_eq!(unsafe { classify_avx2(&block) }, classify_scalar(&block));
            }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512bw") {
                // SAFETY: AVX-512BW was just detected.
                assert_eq!(unsafe { classify_avx512(&block) }, classify_scalar(&block));
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
                Just(b'1'),
                Just(b' '),
                Just(b','),
                Just(b':'),
            ],
            0..400,
        )
    }

    /// [`container_end`] one bracket at a time.
    fn container_end_slow(
        blocks: &[Block],
        at: usize,
        mut live: u64,
        limit: u32,
    ) -> Result<(usize, u64), NoEnd> {
        let mut level = 1;
        for (i, block) in blocks.iter().enumerate().skip(at) {
            let mut brackets = (block.open | block.close) & live;
            while brackets != 0 {
                let bit = brackets & brackets.wrapping_neg();
                if block.open & bit != 0 {
                    level += 1;
                    if level >= limit {
                        return Err(NoEnd);
                    }
                } else {
                    level -= 1;
                    if level == 0 {
                        return Ok((i, bit));
                    }
                }
                brackets &= brackets - 1;
            }
            live = !0;
        }
        Err(NoEnd)
    }

    /// `container_end` from the `[` at byte 0, by the dispatched path, the plain one and
    /// the slow one (or `None` if the body has no structure).
    fn container_ends(body: &[u8], limit: u32) -> Option<[Result<(usize, u64), NoEnd>; 3]> {
        let mut blocks = Vec::new();
        index(body, &mut blocks).ok()?;
        let live = blocks[0].events & !1;
        Some([
            container_end(&blocks, 0, live, limit),
            container_end_with(&blocks, 0, live, limit),
            container_end_slow(&blocks, 0, live, limit),
        ])
    }

    #[test]
    fn escapes_are_found_in_keys_across_block_boundaries() {
        for pad in 0..140 {
            for at in [None, Some(0), Some(pad / 2), Some(pad)] {
                let mut key = "k".repeat(pad + 1);
                if let Some(i) = at {
                    key.insert_str(i, "\\u0041");
                }
                let body = format!("{{\"{key}\": 1}}");
                let mut blocks = Vec::new();
                index(body.as_bytes(), &mut blocks).unwrap();
                let (start, end) = (2, 2 + key.len());
                assert_eq!(escapes(&blocks, start, end), at.is_some(), "{body}");
                // Only the range asked about counts.
                assert!(!escapes(&blocks, start, start));
            }
        }
    }

    #[test]
    fn container_ends_past_strings_and_across_blocks() {
        let end = |json: &str, limit| {
            let [fast, plain, slow] = container_ends(json.as_bytes(), limit).unwrap();
            assert_eq!(fast, slow, "{json}");
            assert_eq!(plain, slow, "{json}");
            fast.map(|(at, bit)| at * 64 + bit.trailing_zeros() as usize + 1)
        };
        assert_eq!(end(r#"[]"#, 64), Ok(2));
        assert_eq!(end(r#"{"a":[1,2,{"b":"}]"}]} tail"#, 64), Ok(22));
        assert_eq!(end(r#"["\"]", "\\", "\\\"]"] x"#, 64), Ok(22));
        let long = format!("[{}[\"]\"]{}]", " ".repeat(100), "\n".repeat(200));
        assert_eq!(end(&long, 64), Ok(long.len()));
        assert_eq!(end("[[[", 64), Err(NoEnd));
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(end(&deep, 64), Err(NoEnd));
        assert_eq!(end(&deep, 101), Ok(200));
        assert_eq!(end(&deep, 100), Err(NoEnd));
    }

    proptest! {
        #[test]
        fn container_end_agrees_with_the_bracket_at_a_time_walk(
            body in proptest::collection::vec(
                prop_oneof![
                    4 => Just(b'['), 3 => Just(b']'), 2 => Just(b'{'), 2 => Just(b'}'),
                    1 => Just(b'"'), 1 => Just(b'\\'), 2 => Just(b' '), 1 => Just(b'a'),
                ],
                0..600,
            ),
            limit in 1u32..40,
        ) {
            let mut body = body;
            body.insert(0, b'[');
            if let Some([fast, plain, slow]) = container_ends(&body, limit) {
                prop_assert_eq!(fast, slow);
                prop_assert_eq!(plain, slow);
            }
        }

        #[test]
        fn agrees_with_the_byte_at_a_time_scanner(body in jsonish()) {
            let want = index_slow(&body);
            for got in index_all_ways(&body) {
                prop_assert_eq!(got, want.clone());
            }
        }

        #[test]
        fn agrees_on_string_heavy_bodies(
            body in proptest::collection::vec(
                prop_oneof![
                    4 => Just(b'"'), 3 => Just(b'\\'), 3 => Just(b'a'), 1 => Just(b'{'),
                    1 => Just(b'}'), 1 => Just(b' '), 1 => Just(b'\n'),
                ],
                0..600,
            ),
        ) {
            let want = index_slow(&body);
            for got in index_all_ways(&body) {
                prop_assert_eq!(got, want.clone());
            }
        }
    }
}
