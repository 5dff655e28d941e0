//! The time budget of one check: a learner waits for the slowest check of a factor on every
//! `cargo xtask check`, so a check that becomes much slower (a longer wait, a forgotten sleep)
//! fails the gate instead of quietly stretching the edit loop.

use crate::engine::testrun::Outcome;
use anyhow::{Result, bail};
use std::time::Duration;

/// The longest one check may take, measured from its binary's start (checks run side by side).
/// The slowest shipped checks (VIII's and IX's, which wait out grace periods on purpose) take
/// about 10 s on a busy 2-core machine; this leaves room for a loaded CI runner, and any check
/// made 30 s slower exceeds it.
pub const CHECK_BUDGET: Duration = Duration::from_secs(25);

/// Fails when a check took longer than [`CHECK_BUDGET`]; else names the slowest, for the summary.
pub fn within(outcomes: &[Outcome]) -> Result<String> {
    let over: Vec<String> = outcomes
        .iter()
        .filter(|outcome| outcome.took > CHECK_BUDGET)
        .map(|outcome| {
            format!(
                "`{}` took {:.1} s",
                outcome.name,
                outcome.took.as_secs_f64()
            )
        })
        .collect();
    if !over.is_empty() {
        bail!(
            "over the time budget of {} s per check: {} (a learner waits for the slowest check \
             on every `cargo xtask check`; make it faster, or raise CHECK_BUDGET in \
             xtask/src/gate/budget.rs with the reason)",
            CHECK_BUDGET.as_secs(),
            over.join(", ")
        );
    }
    Ok(outcomes
        .iter()
        .max_by_key(|outcome| outcome.took)
        .map(|slowest| format!("slowest {:.1} s", slowest.took.as_secs_f64()))
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn took(name: &str, seconds: u64) -> Outcome {
        Outcome {
            name: name.into(),
            passed: true,
            took: Duration::from_secs(seconds),
            ..Outcome::default()
        }
    }

    #[test]
    fn a_check_over_the_budget_fails_and_is_named() {
        let slow = CHECK_BUDGET.as_secs() + 1;
        let err = within(&[took("quick", 1), took("slow", slow)]).unwrap_err();
        assert!(
            err.to_string().contains(&format!("`slow` took {slow}.0 s")),
            "{err}"
        );
        assert_eq!(
            within(&[took("quick", 1), took("other", 3)]).unwrap(),
            "slowest 3.0 s"
        );
    }
}
