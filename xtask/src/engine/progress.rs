//! What the last check of each factor found: a cache, never the truth.
//!
//! Progress is derived from test results. Each result is stored with a fingerprint of the exercise's
//! files; once the files change, the result is "edited since the last check". Keyed by slug, so
//! renumbering factors cannot corrupt it, and deleting `target/` only forgets it.

use crate::engine::cache;
use crate::engine::manifest::Factor;
use crate::engine::testrun::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Checks judged and passed, of `total` judged.
    pub passed: usize,
    pub total: usize,
    /// Checks that could not observe what they need on this platform: neither passed nor failed.
    #[serde(default)]
    pub not_checkable: usize,
    pub fingerprint: u64,
    /// `false`: the exercise did not compile, and `total` is how many checks the factor has.
    #[serde(default = "compiled_by_default")]
    pub compiled: bool,
    /// The names of the judged checks that failed (for the class board).
    #[serde(default)]
    pub failing: Vec<String>,
}

/// Records written before `compiled` existed were all of runs that compiled.
fn compiled_by_default() -> bool {
    true
}

impl Record {
    pub fn green(&self) -> bool {
        self.compiled && self.total > 0 && self.passed == self.total
    }
}

/// What `status` can say about a factor's exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Unavailable,
    NotChecked,
    EditedSinceCheck,
    /// The exercise did not compile: none of the factor's `total` checks ran.
    DoesNotCompile {
        total: usize,
    },
    /// Every judged check passed; `not_checkable` more could not be judged on this platform.
    Green {
        total: usize,
        not_checkable: usize,
    },
    Red {
        passed: usize,
        total: usize,
        not_checkable: usize,
    },
}

/// The last verdict of each factor, by slug.
const VERDICTS: &str = "progress.json";

fn load(root: &Path) -> BTreeMap<String, Record> {
    cache::read(root, VERDICTS)
}

/// Records that the exercise does not compile; the total is the factor's real number of checks
/// (its check file's tests, known without building), not a guess.
pub fn record_compile_error(root: &Path, factor: &Factor) {
    let total = factor.check_names(root).len();
    store(root, factor, Record::counts(0, total, 0, false, Vec::new()));
}

/// Records a run's outcomes: passed of judged, the failing checks' names, and the checks not
/// checkable on this platform apart (they count as neither).
pub fn record_outcomes(root: &Path, factor: &Factor, outcomes: &[Outcome]) {
    let not_checkable = outcomes
        .iter()
        .filter(|outcome| outcome.not_checkable.is_some())
        .count();
    let passed = outcomes
        .iter()
        .filter(|outcome| outcome.judged_green())
        .count();
    let failing = outcomes
        .iter()
        .filter(|outcome| outcome.not_checkable.is_none() && !outcome.judged_green())
        .map(|outcome| outcome.name.clone())
        .collect();
    let record = Record::counts(
        passed,
        outcomes.len() - not_checkable,
        not_checkable,
        true,
        failing,
    );
    store(root, factor, record);
}

impl Record {
    /// A record without its fingerprint (`store` adds it).
    fn counts(
        passed: usize,
        total: usize,
        not_checkable: usize,
        compiled: bool,
        failing: Vec<String>,
    ) -> Record {
        Record {
            passed,
            total,
            not_checkable,
            fingerprint: 0,
            compiled,
            failing,
        }
    }
}

/// The last verdict recorded for the factor, if its files have not changed since.
pub fn last(root: &Path, factor: &Factor) -> Option<Record> {
    load(root)
        .remove(&factor.slug)
        .filter(|record| record.fingerprint == fingerprint(&root.join(&factor.exercise)))
}

fn store(root: &Path, factor: &Factor, mut record: Record) {
    let mut records = load(root);
    record.fingerprint = fingerprint(&root.join(&factor.exercise));
    records.insert(factor.slug.clone(), record);
    cache::write(root, VERDICTS, &records);
}

/// Drops the factor's cached verdict: after a reset, it is "not checked yet", not "edited".
pub fn forget(root: &Path, factor: &Factor) {
    let mut records = load(root);
    if records.remove(&factor.slug).is_some() {
        cache::write(root, VERDICTS, &records);
    }
}

pub fn state(root: &Path, factor: &Factor) -> State {
    if !factor.available {
        return State::Unavailable;
    }
    match load(root).remove(&factor.slug) {
        None => State::NotChecked,
        Some(record) if record.fingerprint != fingerprint(&root.join(&factor.exercise)) => {
            State::EditedSinceCheck
        }
        Some(record) if !record.compiled => State::DoesNotCompile {
            total: record.total,
        },
        Some(record) if record.green() => State::Green {
            total: record.total,
            not_checkable: record.not_checkable,
        },
        Some(record) => State::Red {
            passed: record.passed,
            total: record.total,
            not_checkable: record.not_checkable,
        },
    }
}

/// A hash of every file's path and contents under `dir` (skipping `target/`).
pub fn fingerprint(dir: &Path) -> u64 {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.strip_prefix(dir).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    walk(dir, files, true);
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, skip_target: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !(skip_target && entry.file_name() == "target") {
                walk(&path, files, skip_target);
            }
        } else {
            files.push(path);
        }
    }
}

/// Every file under `dir`, `target/` included (for measuring it).
pub fn files_under_all(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    walk(dir, &mut files, false);
    files
}

/// Every file under `dir` (skipping `target/`), sorted, for `solution` and `reset`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    files
}
