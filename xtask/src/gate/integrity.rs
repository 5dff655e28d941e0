//! Whether the checks are the ones the kit shipped.
//!
//! A learner who edits a check file or the harness can make anything green. That is allowed (people
//! experiment), but a verdict then says so, and so does `status --json` for the instructor.
//! `kit/checks/SHIPPED` records a fingerprint of each file the checks are made of; maintainers
//! refresh it with `cargo xtask verify --bless` after changing a check, and `verify` fails while it
//! is stale.

use crate::engine::manifest::Factor;
use anyhow::{Context, Result, ensure};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const RECORD: &str = "kit/checks/SHIPPED";

/// The crates every factor's checks are made of: the harness, and `kit-common` (the manifest and
/// service settings it reads).
const HARNESS_CRATES: [&str; 3] = ["kit/harness", "kit/common", "kit/platform"];

/// The files every factor's checks are made of, relative to the kit's root.
fn harness_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in HARNESS_CRATES {
        files.extend(
            crate::engine::progress::files_under(&root.join(krate).join("src"))
                .into_iter()
                .filter_map(|file| file.strip_prefix(root).ok().map(Path::to_path_buf)),
        );
        files.push(PathBuf::from(krate).join("Cargo.toml"));
    }
    files.sort();
    files
}

/// Every check file and harness file, with its fingerprint as it is now.
fn current(root: &Path) -> BTreeMap<String, String> {
    let mut files = harness_files(root);
    if let Ok(entries) = std::fs::read_dir(root.join("kit/checks")) {
        files.extend(
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
                .filter_map(|path| path.strip_prefix(root).ok().map(Path::to_path_buf)),
        );
    }
    files
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(root.join(&file)).unwrap_or_default();
            (
                file.display().to_string(),
                format!("{:016x}", fnv1a(&bytes)),
            )
        })
        .collect()
}

fn recorded(root: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(root.join(RECORD))
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (hash, file) = line.split_once("  ")?;
            Some((file.to_string(), hash.to_string()))
        })
        .collect()
}

/// FNV-1a: stable across Rust releases and platforms; this detects edits, it is not a signature.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The files of `factor`'s checks (its check file and the harness) that differ from what the kit
/// shipped. Empty when the checks are the shipped ones.
pub fn edited_checks(root: &Path, factor: &Factor) -> Vec<String> {
    let check_file = format!("kit/checks/{}.rs", factor.dir_name());
    let now = current(root);
    let shipped = recorded(root);
    let mut relevant: Vec<String> = harness_files(root)
        .iter()
        .map(|file| file.display().to_string())
        .collect();
    relevant.push(check_file);
    // A harness file the kit did not ship counts as an edit too.
    relevant.extend(
        shipped
            .keys()
            .filter(|file| {
                HARNESS_CRATES
                    .iter()
                    .any(|krate| file.starts_with(&format!("{krate}/")))
                    && !now.contains_key(*file)
            })
            .cloned(),
    );
    relevant.sort();
    relevant.dedup();
    relevant
        .into_iter()
        .filter(|file| now.get(file) != shipped.get(file))
        .collect()
}

/// One line for a verdict reached with edited checks, or `None`.
pub fn warning(root: &Path, factor: &Factor) -> Option<String> {
    let edited = edited_checks(root, factor);
    let first = edited.first()?;
    let more = match edited.len() {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    Some(format!(
        "These are not the kit's checks: {first}{more} changed since it shipped, so this verdict \
         is about your edited checks. `git diff -- kit/` shows the changes; `git checkout -- kit/` \
         restores them."
    ))
}

/// Rewrites the record from the files as they are (`cargo xtask verify --bless`).
pub fn bless(root: &Path) -> Result<usize> {
    let now = current(root);
    let mut text = String::from(
        "# Fingerprints (FNV-1a) of the files the checks are made of, as the kit ships them.\n\
         # `cargo xtask check` and `status` say when a learner's copy differs. After changing a check\n\
         # or the harness, run `cargo xtask verify --bless`; `cargo xtask verify` fails while this is stale.\n",
    );
    for (file, hash) in &now {
        text.push_str(&format!("{hash}  {file}\n"));
    }
    std::fs::write(root.join(RECORD), text).with_context(|| format!("cannot write {RECORD}"))?;
    Ok(now.len())
}

/// `verify`'s step: the record matches the files.
pub fn check_record(root: &Path) -> Result<String> {
    let now = current(root);
    let shipped = recorded(root);
    // Each file once, whether it changed, appeared or went away.
    let stale: Vec<&String> = now
        .keys()
        .chain(shipped.keys())
        .filter(|file| now.get(*file) != shipped.get(*file))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    ensure!(
        stale.is_empty(),
        "{RECORD} is stale for {:?}: after changing them on purpose, run {}",
        stale,
        bless_hint(&stale)
    );
    Ok(format!("{} files", now.len()))
}

/// The bless that records `stale`: one factor's (`--only NN-slug`, which also rewrites this
/// record) when only that factor's check file changed, else every factor's (the harness is
/// theirs).
fn bless_hint(stale: &[&String]) -> String {
    let factors: Vec<&str> = stale
        .iter()
        .filter_map(|file| file.strip_prefix("kit/checks/")?.strip_suffix(".rs"))
        .collect();
    match factors.as_slice() {
        [factor] if stale.len() == 1 => format!("`cargo xtask verify --bless --only {factor}`"),
        _ => "`cargo xtask verify --bless` (more than one factor's checks, or the harness, \
              changed)"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::manifest::Manifest;

    #[test]
    fn fnv1a_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    /// A copy of the kit's checks and harness in a temp folder, blessed as shipped.
    fn shipped_copy() -> (tempfile::TempDir, Manifest) {
        let root = crate::project_root().unwrap();
        let manifest = Manifest::load(&root).unwrap();
        let copy = tempfile::tempdir().unwrap();
        let files = current(&root);
        for file in files.keys() {
            let target = copy.path().join(file);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(root.join(file), target).unwrap();
        }
        bless(copy.path()).unwrap();
        (copy, manifest)
    }

    #[test]
    fn the_shipped_checks_raise_no_warning_and_an_edited_check_or_harness_does() {
        let (copy, manifest) = shipped_copy();
        let vi = manifest.find("6").unwrap();
        let iii = manifest.find("3").unwrap();
        assert_eq!(warning(copy.path(), vi), None);

        let check = copy.path().join("kit/checks/06-processes.rs");
        let text = std::fs::read_to_string(&check).unwrap();
        std::fs::write(&check, text.replace("seen_a == seen_b", "true")).unwrap();
        let said = warning(copy.path(), vi).unwrap();
        assert!(
            said.contains("kit/checks/06-processes.rs changed"),
            "{said}"
        );
        assert_eq!(
            warning(copy.path(), iii),
            None,
            "another factor's checks are untouched"
        );
        assert!(check_record(copy.path()).is_err());

        let lesson = copy.path().join("kit/harness/src/lesson.rs");
        std::fs::write(&lesson, "// everything passes now\n").unwrap();
        assert!(
            warning(copy.path(), iii)
                .unwrap()
                .contains("kit/harness/src/lesson.rs")
        );
    }

    #[test]
    fn the_kits_record_is_up_to_date() {
        check_record(&crate::project_root().unwrap()).unwrap();
    }
}
