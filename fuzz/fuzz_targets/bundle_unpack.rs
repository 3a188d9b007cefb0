//! (d) Arbitrary bytes as a plan bundle (`rater::bundle::load`): gunzip, untar under small
//! caps, path and entry-type checks, then every plan folder through the loader and its test
//! cases.
//!
//! Seeds: the bundled plans packed by `rater bundle` (see `fuzz/run`); the fuzzer mutates
//! the compressed bytes, so most inputs die in gzip, and the raw-tar half below feeds the
//! untar and loader stages directly.
//!
//! Oracles besides "no panic": the caps hold (an accepted bundle's files stay within them),
//! and loading is a pure function of the bytes (the same input gives the same outcome).

#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use rater::bundle::{Limits, load, unpack};

const LIMITS: Limits = Limits {
    max_compressed: 1 << 20,
    max_unpacked: 4 << 20,
    max_files: 64,
};

fuzz_target!(|data: &[u8]| {
    // Half the inputs are taken as a tar stream and gzipped here, so mutations reach the tar
    // reader and the plan loader instead of dying in the gzip checksum.
    let bytes = if data.first() == Some(&b'T') {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data[1..]).expect("writing to a Vec");
        gz.finish().expect("writing to a Vec")
    } else {
        data.to_vec()
    };
    if let Ok(files) = unpack("fuzz.tar.gz", &bytes, &LIMITS) {
        let total: usize = files.paths().map(|p| files.get(p).map_or(0, <[u8]>::len)).sum();
        assert!(total as u64 <= LIMITS.max_unpacked);
        assert!(files.paths().count() as u64 <= LIMITS.max_files);
        for p in files.paths() {
            assert!(!p.starts_with('/') && !p.split('/').any(|c| c == ".." || c.is_empty()), "{p}");
        }
    }
    let first = load("fuzz.tar.gz", &bytes, &LIMITS).map(|b| b.sha256).map_err(|e| e.to_string());
    let again = load("fuzz.tar.gz", &bytes, &LIMITS).map(|b| b.sha256).map_err(|e| e.to_string());
    assert_eq!(first, again);
});
