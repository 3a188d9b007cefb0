//! A `.tar.gz` -> its files in memory, under [`Limits`].
//!
//! Nothing is written to disk, so no path in the archive can reach outside it; the path
//! checks still refuse `..`, absolute paths and links, because a bundle that needs them is
//! not a plain copy of plan folders and is refused rather than half-understood. Sizes are
//! capped while reading: the gzip stream passes through [`Capped`], so a bomb stops at the
//! cap, not at the end of its expansion.

use std::cell::Cell;
use std::io::Read;
use std::path::Component;
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;

use super::{BundleError, FileMap, Limits};
use crate::plan::PLAN_FILE;

/// The regular files of an unpacked bundle, by `/`-separated path (`plan-id/plan.toml`).
#[derive(Debug, Default)]
pub struct Files {
    files: FileMap,
}

impl Files {
    /// The bytes of the file at `path`.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Every path, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The top-level folders holding a `plan.toml`, sorted.
    pub fn plan_folders(&self) -> Vec<&str> {
        self.files
            .keys()
            .filter_map(|p| p.strip_suffix(PLAN_FILE)?.strip_suffix('/'))
            .filter(|folder| !folder.contains('/'))
            .collect()
    }

    /// The plan's test cases in order: (request bytes, expected bytes if present, the
    /// expected file's path).
    pub fn cases<'a>(
        &'a self,
        plan: &str,
    ) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>, String)> + 'a {
        let dir = format!("{plan}/tests/");
        self.files
            .range(dir.clone()..)
            .take_while(move |(p, _)| p.starts_with(&dir))
            .filter_map(move |(p, bytes)| {
                let stem = p.strip_suffix(".request.json")?;
                let expected = format!("{stem}.expected.json");
                Some((bytes.as_slice(), self.get(&expected), expected))
            })
    }
}

/// Unpacks `bytes` (gzip over tar) in memory; `name` names the bundle in errors.
pub fn unpack(name: &str, bytes: &[u8], limits: &Limits) -> Result<Files, BundleError> {
    let too_large = |what, limit| BundleError::TooLarge {
        name: name.to_owned(),
        what,
        limit,
    };
    if bytes.len() as u64 > limits.max_compressed {
        return Err(too_large("compressed size", limits.max_compressed));
    }
    // The tar stream is the files plus a 512-byte header (and padding to 512) per entry, and
    // GNU long names or PAX records for long paths: allow that overhead on top of the
    // files' own cap, so the per-file accounting below is the cap that answers.
    let stream_cap = limits
        .max_unpacked
        .saturating_add(limits.max_files.saturating_add(4).saturating_mul(2048));
    let hit = Rc::new(Cell::new(false));
    let reader = Capped {
        inner: GzDecoder::new(bytes),
        left: stream_cap,
        hit: hit.clone(),
    };
    let mut archive = tar::Archive::new(reader);
    let not_archive = |e: std::io::Error| {
        if hit.get() {
            too_large("unpacked size", limits.max_unpacked)
        } else {
            BundleError::NotAnArchive {
                name: name.to_owned(),
                why: e.to_string(),
            }
        }
    };
    let mut files = FileMap::new();
    let (mut count, mut total) = (0u64, 0u64);
    for entry in archive.entries().map_err(not_archive)? {
        let mut entry = entry.map_err(not_archive)?;
        count += 1;
        if count > limits.max_files {
            return Err(too_large("number of files", limits.max_files));
        }
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse = |why| BundleError::Refused {
            name: name.to_owned(),
            path: raw_path.clone(),
            why,
        };
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Regular | EntryType::Directory => {}
            EntryType::Symlink => return Err(refuse("a symbolic link")),
            EntryType::Link => return Err(refuse("a hard link")),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(refuse("a device or pipe"));
            }
            _ => return Err(refuse("not a regular file or folder")),
        }
        let path = clean_path(&raw_path).map_err(refuse)?;
        if kind == EntryType::Directory {
            continue;
        }
        let size = entry.size();
        total = total.saturating_add(size);
        if total > limits.max_unpacked {
            return Err(too_large("unpacked size", limits.max_unpacked));
        }
        if path.is_empty() {
            return Err(refuse("a file with an empty path"));
        }
        // `size` is the header's claim: read no more than it (the cap above already holds),
        // and never trust it for the allocation beyond the cap.
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(size)
            .read_to_end(&mut data)
            .map_err(not_archive)?;
        if files.insert(path, data).is_some() {
            return Err(refuse(
                "the same path twice (which one counts would be a guess)",
            ));
        }
    }
    Ok(Files { files })
}

/// `./a/b` -> `a/b`; refuses absolute paths, `..`, and anything that is not a plain name.
fn clean_path(raw: &str) -> Result<String, &'static str> {
    let path = std::path::Path::new(raw);
    let mut out = String::with_capacity(raw.len());
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::Normal(p) => {
                let p = p.to_str().ok_or("a path that is not UTF-8")?;
                if p.contains('\\') {
                    return Err("a path with a backslash");
                }
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
            Component::ParentDir => return Err("a path with a `..` component"),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path"),
        }
    }
    Ok(out)
}

/// A reader that fails once more than `left` bytes have come through, and says so in
/// `hit`: unlike `Read::take`, whose silent end would read as a cut-short archive, the
/// caller can tell "over the cap" from "corrupt".
struct Capped<R> {
    inner: R,
    left: u64,
    hit: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Read one byte more than allowed to tell "exactly at the cap" from "over it".
        let want = buf.len().min(self.left.saturating_add(1) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.hit.set(true);
            return Err(std::io::Error::other("over the unpacked size limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn paths_are_plain_and_relative() {
        assert_eq!(clean_path("./a/./b.csv"), Ok("a/b.csv".to_owned()));
        assert_eq!(clean_path("a/"), Ok("a".to_owned()));
        assert!(clean_path("a/../../etc/passwd").is_err());
        assert!(clean_path("/etc/passwd").is_err());
        assert!(clean_path("a\\..\\b").is_err());
    }
}
