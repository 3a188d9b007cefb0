//! Plan bundles (`src/bundle/`): reproducible building, `rater bundle` / `rater check FILE`,
//! located plan errors, each plan's own test cases, and every hostile archive refused with
//! its reason, under the caps.

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use rater::bundle::{self, BundleError, Limits};

/// A fresh temporary folder for one test.
fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rater-bundle-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `personal-auto` copied into `dir`, with two test cases from Socotra's own answers
/// (`rating-variants/00N.personal-auto.json`, without the `years` member we do not answer).
fn personal_auto(dir: &Path) -> PathBuf {
    let plan = dir.join("personal-auto");
    support::copy_dir(&root().join("rating-tables/personal-auto"), &plan);
    let tests = plan.join("tests");
    std::fs::create_dir_all(&tests).unwrap();
    let variants = root().join("tests/fixtures/socotra/rating-variants");
    for n in ["000", "001"] {
        std::fs::copy(
            variants.join(format!("{n}.request.json")),
            tests.join(format!("{n}.request.json")),
        )
        .unwrap();
        let mut expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(variants.join(format!("{n}.personal-auto.json"))).unwrap(),
        )
        .unwrap();
        for (_, priced) in expected["pricedPerilCharacteristics"]
            .as_object_mut()
            .unwrap()
        {
            priced.as_object_mut().unwrap().remove("years");
        }
        std::fs::write(
            tests.join(format!("{n}.expected.json")),
            serde_json::to_vec_pretty(&expected).unwrap(),
        )
        .unwrap();
    }
    plan
}

fn load(bytes: &[u8]) -> Result<bundle::LoadedBundle, BundleError> {
    bundle::load("b.tar.gz", bytes, &Limits::default())
}

/// Two copies of the same folders, made at different times (so with different mtimes),
/// give the same bytes; the entries are sorted, owned by 0, with mtime 0.
#[test]
fn the_same_folders_give_the_same_bytes() {
    let a = temp("repro-a");
    let one = bundle::build(&[
        personal_auto(&a),
        root().join("rating-tables/socotra-reference"),
    ])
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = temp("repro-b");
    // Given in the other order: the archive is sorted, so the order of arguments is moot.
    let two = bundle::build(&[
        root().join("rating-tables/socotra-reference"),
        personal_auto(&b),
    ])
    .unwrap();
    assert_eq!(bundle::sha256_hex(&one), bundle::sha256_hex(&two));
    assert_eq!(one, two);

    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(one.as_slice()));
    let mut paths = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(h.mtime().unwrap(), 0);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username().unwrap(), Some(""));
        let mode = h.mode().unwrap();
        assert!(mode == 0o644 || mode == 0o755, "mode {mode:o}");
        paths.push(entry.path().unwrap().display().to_string());
    }
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(paths.contains(&"personal-auto/tests/000.request.json".to_owned()));

    let loaded = load(&one).unwrap();
    let ids: Vec<&str> = loaded.plans.iter().map(|p| p.id()).collect();
    assert_eq!(ids, ["personal-auto", "socotra-reference"]);
    // Every case of the two bundled plans' tests/ folders ran.
    let cases: usize = ["personal-auto", "socotra-reference"]
        .iter()
        .map(|id| {
            std::fs::read_dir(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("rating-tables")
                    .join(id)
                    .join("tests"),
            )
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".request.json")
            })
            .count()
        })
        .sum();
    assert!(cases >= 2);
    assert_eq!(loaded.cases, cases);
    assert_eq!(loaded.sha256.len(), 64);
}

/// `rater bundle` prints the SHA-256 of the file it wrote as its last line, and
/// `rater check FILE` accepts the file.
#[test]
fn cli_bundle_prints_the_sha256_last_and_check_accepts_the_file() {
    let dir = temp("cli");
    let plan = personal_auto(&dir);
    let out = dir.join("plans.tar.gz");
    let run = Command::new(env!("CARGO_BIN_EXE_rater"))
        .arg("bundle")
        .arg(&plan)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let stdout = String::from_utf8(run.stdout).unwrap();
    let last = stdout.lines().last().unwrap();
    assert_eq!(last, bundle::sha256_hex(&std::fs::read(&out).unwrap()));
    assert_eq!(last.len(), 64);
    assert!(last.bytes().all(|b| b.is_ascii_hexdigit()));

    let check = Command::new(env!("CARGO_BIN_EXE_rater"))
        .arg("check")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{check:?}");
    assert!(
        stdout.contains("ok  personal-auto (version 1.0"),
        "{stdout}"
    );
    assert!(stdout.contains("2 test case(s) pass"), "{stdout}");
}

/// A bad plan inside a bundle is reported as a folder's would be, every error located,
/// the file named `bundle:plan-id/plan.toml`.
#[test]
fn plan_errors_are_located_inside_the_bundle() {
    let dir = temp("invalid");
    let plan = personal_auto(&dir);
    let toml = std::fs::read_to_string(plan.join("plan.toml")).unwrap();
    std::fs::write(
        plan.join("plan.toml"),
        toml.replace("version = \"1.0\"", "version = \"\""),
    )
    .unwrap();
    let bytes = bundle::build(&[plan]).unwrap();
    let Err(BundleError::Plan(errors)) = load(&bytes) else {
        panic!("an invalid plan must be refused");
    };
    let text = errors.to_string();
    assert!(
        text.starts_with("b.tar.gz:personal-auto/plan.toml:8:11: version must not be empty"),
        "{text}"
    );

    let file = dir.join("bad.tar.gz");
    std::fs::write(&file, &bytes).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_rater"))
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("bad.tar.gz:personal-auto/plan.toml:8:11: version must not be empty"),
        "{stderr}"
    );
}

/// A test case whose amount differs by one cent refuses the bundle, naming the case and
/// the amount; an expected `{"error": ...}` for a request the plan prices does too.
#[test]
fn a_failing_test_case_refuses_the_bundle() {
    let dir = temp("cases");
    let plan = personal_auto(&dir);
    let expected = plan.join("tests/000.expected.json");
    let text = std::fs::read_to_string(&expected).unwrap();
    std::fs::write(&expected, text.replace("6.34", "6.35")).unwrap();
    let bytes = bundle::build(std::slice::from_ref(&plan)).unwrap();
    let err = load(&bytes).unwrap_err();
    assert_eq!(err.code(), "failed_tests");
    assert_eq!(
        err.to_string(),
        "b.tar.gz:personal-auto/tests/000.expected.json: test case fails: \
         1738f7d9-3d9c-1724-11e2-0b8f6b0d549b exactPremium: want 6.35, got 6.34"
    );

    std::fs::write(&expected, r#"{"error": "must be refused"}"#).unwrap();
    let bytes = bundle::build(std::slice::from_ref(&plan)).unwrap();
    let err = load(&bytes).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("priced, but the case expects it refused"),
        "{err}"
    );

    std::fs::remove_file(&expected).unwrap();
    let bytes = bundle::build(&[plan]).unwrap();
    let err = load(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("needs its NNN.expected.json"),
        "{err}"
    );
}

/// A tar entry written byte by byte, so paths and types the `tar` builder would refuse can
/// be made.
fn raw_entry(tar: &mut Vec<u8>, path: &str, kind: tar::EntryType, data: &[u8], link: &str) {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    tar.extend_from_slice(h.as_bytes());
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(tar).unwrap();
    gz.write_all(&[0; 1024]).unwrap();
    gz.finish().unwrap()
}

/// Every entry that is not a plain file or folder at a plain relative path is refused,
/// and the error says which entry and why.
#[test]
fn hostile_entries_are_refused_with_their_reason() {
    use tar::EntryType as T;
    let cases: [(&str, T, &str, &str); 8] = [
        (
            "../evil/plan.toml",
            T::Regular,
            "",
            "a path with a `..` component",
        ),
        ("p/../../x", T::Regular, "", "a path with a `..` component"),
        ("/etc/cron.d/x", T::Regular, "", "an absolute path"),
        ("p/plan.toml", T::Symlink, "/etc/passwd", "a symbolic link"),
        ("p/plan.toml", T::Link, "other", "a hard link"),
        ("p/dev", T::Char, "", "a device or pipe"),
        ("p/fifo", T::Fifo, "", "a device or pipe"),
        ("p/x", T::new(b'7'), "", "not a regular file or folder"),
    ];
    for (path, kind, link, why) in cases {
        let mut tar = Vec::new();
        raw_entry(&mut tar, path, kind, b"", link);
        let err = load(&gzip(&tar)).unwrap_err();
        assert_eq!(err.code(), "refused_entry", "{path}");
        assert_eq!(err.to_string(), format!("b.tar.gz:{path}: refused: {why}"));
    }

    let mut tar = Vec::new();
    raw_entry(&mut tar, "p/plan.toml", T::Regular, b"a", "");
    raw_entry(&mut tar, "./p/plan.toml", T::Regular, b"b", "");
    let err = load(&gzip(&tar)).unwrap_err();
    assert!(err.to_string().contains("the same path twice"), "{err}");
}

/// A gzip bomb (16 MiB of zeros in about 75 KiB) stops at the unpacked cap; a header that
/// claims more than the cap is refused before its data is read; the compressed size and
/// the number of files have their caps too.
#[test]
fn the_caps_hold() {
    let limits = Limits {
        max_compressed: 1 << 20,
        max_unpacked: 1 << 20,
        max_files: 10,
    };
    let mut tar = Vec::new();
    raw_entry(
        &mut tar,
        "p/big.csv",
        tar::EntryType::Regular,
        &vec![0; 16 << 20],
        "",
    );
    let bomb = gzip(&tar);
    // Under the compressed cap, so the unpacked cap is the one that must answer.
    assert!(bomb.len() < 128 << 10, "{}", bomb.len());
    let err = bundle::load("bomb.tar.gz", &bomb, &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bomb.tar.gz: the bundle's unpacked size is over the limit of 1048576"
    );

    // The same bomb as a GNU long-name record, which `tar` reads whole before any file:
    // the capped gzip stream stops it, not the per-file accounting.
    let mut tar = Vec::new();
    raw_entry(
        &mut tar,
        "././@LongLink",
        tar::EntryType::GNULongName,
        &vec![b'a'; 16 << 20],
        "",
    );
    raw_entry(&mut tar, "p/x.csv", tar::EntryType::Regular, b"a", "");
    let err = bundle::load("name.tar.gz", &gzip(&tar), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "name.tar.gz: the bundle's unpacked size is over the limit of 1048576"
    );

    // Only the header: its size claims 4 GiB; nothing that large is read or allocated.
    let mut h = tar::Header::new_ustar();
    h.set_path("p/huge.csv").unwrap();
    h.set_size(4 << 30);
    h.set_cksum();
    let err = bundle::load("claim.tar.gz", &gzip(h.as_bytes()), &limits).unwrap_err();
    assert_eq!(err.code(), "too_large");

    // Stream-level bomb: zeros after a valid end are never read past the cap either.
    let err = bundle::load("big.tar.gz", &vec![0; (1 << 20) + 1], &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "big.tar.gz: the bundle's compressed size is over the limit of 1048576"
    );

    let mut tar = Vec::new();
    for i in 0..11 {
        raw_entry(
            &mut tar,
            &format!("p/{i}.csv"),
            tar::EntryType::Regular,
            b"a",
            "",
        );
    }
    let err = bundle::load("many.tar.gz", &gzip(&tar), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "many.tar.gz: the bundle's number of files is over the limit of 10"
    );
}

/// Bytes that are not gzip, and an archive with no plan folder, are refused by name.
#[test]
fn not_an_archive_and_no_plans() {
    let err = load(b"plan.toml = not a bundle").unwrap_err();
    assert_eq!(err.code(), "not_an_archive");
    assert!(
        err.to_string()
            .starts_with("b.tar.gz: not a .tar.gz archive: "),
        "{err}"
    );

    let mut tar = Vec::new();
    raw_entry(&mut tar, "README.md", tar::EntryType::Regular, b"hello", "");
    raw_entry(&mut tar, "a/b/plan.toml", tar::EntryType::Regular, b"", "");
    let err = load(&gzip(&tar)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.tar.gz: no plan folders (a folder with a plan.toml) in the bundle"
    );
}
