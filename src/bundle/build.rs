//! `rater bundle DIR...`: plan folders -> one reproducible `.tar.gz`.
//!
//! The same folders give the same bytes, wherever and whenever they are packed, so a
//! carrier can pin the SHA-256 it printed: entries in sorted path order, every mtime 0,
//! uid/gid 0 with no owner names, mode 0644 for files and 0755 for folders, gzip with no
//! name and mtime 0 at a fixed level. Names starting with `.` (`.git`, `.DS_Store`) are left
//! out; links and other special files are refused, as unpacking would refuse them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use super::BundleError;

/// Packs each plan folder of `dirs` under its folder name; returns the `.tar.gz` bytes.
pub fn build(dirs: &[PathBuf]) -> Result<Vec<u8>, BundleError> {
    // (path in the archive, file on disk or None for a folder)
    let mut entries: Vec<(String, Option<PathBuf>)> = Vec::new();
    for dir in dirs {
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| source(dir, "not a folder".into()))?;
        if !dir.join(crate::plan::PLAN_FILE).is_file() {
            return Err(source(
                dir,
                format!("not a plan folder (no {})", crate::plan::PLAN_FILE),
            ));
        }
        if entries.iter().any(|(p, _)| *p == name) {
            return Err(source(dir, format!("a second plan folder named {name:?}")));
        }
        entries.push((name.clone(), None));
        walk(dir, &name, &mut entries)?;
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::new(9));
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, file) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match file {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), std::io::empty())
            }
            Some(file) => {
                let bytes = std::fs::read(file).map_err(|e| source(file, e.to_string()))?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, path, bytes.as_slice())
            }
        }
        .map_err(|e| source(Path::new(path), format!("cannot pack: {e}")))?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| source(Path::new("-"), format!("cannot pack: {e}")))?;
    let mut out = gz
        .finish()
        .map_err(|e| source(Path::new("-"), format!("cannot compress: {e}")))?;
    out.flush().ok();
    Ok(out)
}

fn walk(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, Option<PathBuf>)>,
) -> Result<(), BundleError> {
    let read = std::fs::read_dir(dir).map_err(|e| source(dir, e.to_string()))?;
    for entry in read {
        let entry = entry.map_err(|e| source(dir, e.to_string()))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(source(&path, "a file name that is not UTF-8".into()));
        };
        if name.starts_with('.') {
            continue;
        }
        // `symlink_metadata`: a link is reported as a link, not followed.
        let kind = entry
            .file_type()
            .map_err(|e| source(&path, e.to_string()))?;
        let inner = format!("{prefix}/{name}");
        if kind.is_dir() {
            out.push((inner.clone(), None));
            walk(&path, &inner, out)?;
        } else if kind.is_file() {
            out.push((inner, Some(path)));
        } else {
            return Err(source(
                &path,
                "not a regular file or folder (links are not packed)".into(),
            ));
        }
    }
    Ok(())
}

fn source(path: &Path, why: String) -> BundleError {
    BundleError::Source {
        path: path.to_path_buf(),
        why,
    }
}
