//! The board's views, derived from the stored verdicts: one row per learner, and who is stuck.
//!
//! Nothing here is stored: a row is recomputed from the verdict log, so the views can change
//! without a migration and a restart shows exactly what was there before.

use crate::store::{LearnerName, StoredVerdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// One learner's line on the instructor page.
#[derive(Debug, Clone, Serialize)]
pub struct LearnerRow {
    pub id: String,
    pub name: String,
    pub joined_ms: i64,
    /// The latest verdict of each factor they have checked, by factor number.
    pub factors: BTreeMap<i16, Cell>,
    /// The factor of their latest verdict.
    pub current: Option<i16>,
    /// Since when the current factor has been red without turning green (board's clock), if it is
    /// red: the page sorts by it, longest first.
    pub stuck_since_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    /// The latest `doctor --push`: the names of the problems it found.
    pub doctor: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub passed: i16,
    pub total: i16,
    pub compiled: bool,
    pub failing: Vec<String>,
    pub not_checkable: i16,
    pub hints_used: i16,
    pub checks_edited: bool,
    pub at_ms: i64,
    pub received_ms: i64,
}

fn green(verdict: &StoredVerdict) -> bool {
    verdict.compiled && verdict.total > 0 && verdict.passed == verdict.total
}

/// A learner's row from their verdicts, oldest first.
pub fn row(
    learner: &LearnerName,
    verdicts: &[&StoredVerdict],
    doctor: Option<Vec<String>>,
) -> LearnerRow {
    let mut factors = BTreeMap::new();
    for verdict in verdicts {
        factors.insert(
            verdict.factor,
            Cell {
                passed: verdict.passed,
                total: verdict.total,
                compiled: verdict.compiled,
                failing: verdict.failing.clone(),
                not_checkable: verdict.not_checkable,
                hints_used: verdict.hints_used,
                checks_edited: verdict.checks_edited,
                at_ms: verdict.at_ms,
                received_ms: verdict.received_ms,
            },
        );
    }
    let latest = verdicts.last();
    let current = latest.map(|verdict| verdict.factor);
    let stuck_since_ms = latest.filter(|verdict| !green(verdict)).and_then(|latest| {
        // The first verdict on this factor after its last green one (or ever).
        verdicts
            .iter()
            .filter(|verdict| verdict.factor == latest.factor)
            .rev()
            .take_while(|verdict| !green(verdict))
            .last()
            .map(|verdict| verdict.received_ms)
    });
    LearnerRow {
        id: learner.id.clone(),
        name: learner.name.clone(),
        joined_ms: learner.joined_ms,
        factors,
        current,
        stuck_since_ms,
        last_seen_ms: latest.map(|verdict| verdict.received_ms),
        doctor,
    }
}

/// Every learner's row, stuck longest first, then the others by name.
pub fn rows(
    learners: &[LearnerName],
    verdicts: &[StoredVerdict],
    doctor: &[(String, Vec<String>)],
) -> Vec<LearnerRow> {
    let mut by_learner: BTreeMap<&str, Vec<&StoredVerdict>> = BTreeMap::new();
    for verdict in verdicts {
        by_learner
            .entry(verdict.learner_id.as_str())
            .or_default()
            .push(verdict);
    }
    let mut rows: Vec<LearnerRow> = learners
        .iter()
        .map(|learner| {
            let report = doctor
                .iter()
                .find(|(id, _)| *id == learner.id)
                .map(|(_, problems)| problems.clone());
            row(
                learner,
                by_learner
                    .get(learner.id.as_str())
                    .map_or(&[][..], Vec::as_slice),
                report,
            )
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.stuck_since_ms.is_none(), a.stuck_since_ms, &a.name).cmp(&(
            b.stuck_since_ms.is_none(),
            b.stuck_since_ms,
            &b.name,
        ))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(factor: i16, passed: i16, total: i16, received_ms: i64) -> StoredVerdict {
        StoredVerdict {
            learner_id: "a".into(),
            factor,
            passed,
            total,
            failing: Vec::new(),
            not_checkable: 0,
            compiled: true,
            hints_used: 0,
            checks_edited: false,
            at_ms: received_ms,
            received_ms,
        }
    }

    fn learner(id: &str, name: &str) -> LearnerName {
        LearnerName {
            id: id.into(),
            name: name.into(),
            joined_ms: 0,
        }
    }

    #[test]
    fn stuck_since_is_the_first_red_after_the_last_green_of_the_current_factor() {
        let verdicts = [
            verdict(6, 1, 5, 10),
            verdict(6, 5, 5, 20),
            verdict(7, 0, 6, 30),
            verdict(6, 4, 5, 40),
            verdict(6, 3, 5, 50),
        ];
        let refs: Vec<&StoredVerdict> = verdicts.iter().collect();
        let row = row(&learner("a", "Ada"), &refs, None);
        assert_eq!(row.current, Some(6));
        assert_eq!(row.stuck_since_ms, Some(40));
        assert_eq!(row.factors[&7].passed, 0);
    }

    #[test]
    fn the_learner_stuck_longest_comes_first_and_green_learners_last() {
        let mut late = verdict(3, 0, 7, 500);
        late.learner_id = "b".into();
        let mut green = verdict(3, 7, 7, 50);
        green.learner_id = "c".into();
        let rows = rows(
            &[learner("c", "Cy"), learner("b", "Bo"), learner("a", "Al")],
            &[verdict(2, 1, 4, 100), late, green],
            &[],
        );
        let names: Vec<&str> = rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(names, ["Al", "Bo", "Cy"]);
        assert_eq!(rows[2].stuck_since_ms, None);
    }
}
