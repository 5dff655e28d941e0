//! What an earlier factor taught stays taught: each later solution still passes the earlier
//! checks `factors.toml` lists for it (`keeps`), e.g. Factor IV's Redis outage checks against
//! Factor VI's solution, whose app is IV's with sessions added.
//!
//! Judged the way `check N --solution` judges a reference: the earlier factor's check binary,
//! compiled once with its exercise, is pointed at this solution's binaries (`KIT_APP_*`), and runs
//! only the listed checks.

use crate::engine::manifest::{Factor, Manifest};
use crate::engine::testrun::{self, Build, Judged};
use crate::learner::check;
use anyhow::{Context, Result, bail};

/// `verify`'s step for one factor: its solution passes every earlier check it keeps.
pub fn still_pass(root: &std::path::Path, manifest: &Manifest, factor: &Factor) -> Result<String> {
    if factor.keeps.is_empty() {
        return Ok("keeps no earlier check".into());
    }
    let package = Factor::package(root, &factor.solution)?;
    if let Build::Failed { errors } = testrun::build_app(root, &package, &factor.build_env)? {
        bail!("{package} does not compile:\n{}", errors.join("\n"));
    }
    let judged = Judged::package(package.clone(), root.join(&factor.solution));
    let mut failures = Vec::new();
    let mut passed = 0;
    for kept in &factor.keeps {
        let earlier = manifest
            .factors
            .iter()
            .find(|earlier| earlier.number == kept.factor && earlier.available)
            .with_context(|| {
                format!(
                    "factors.toml: {} keeps checks of factor {}, which is not an available factor",
                    factor.heading(),
                    kept.factor
                )
            })?;
        if earlier.number >= factor.number {
            bail!(
                "factors.toml: {} keeps checks of {}, which is not an earlier factor",
                factor.heading(),
                earlier.heading()
            );
        }
        let built = match check::build(root, earlier, false)? {
            Err((package, errors)) => bail!("{package} does not compile:\n{}", errors.join("\n")),
            Ok(built) => built,
        };
        for name in &kept.checks {
            let mut outcomes = Vec::new();
            for executable in &built.executables {
                outcomes.extend(testrun::run(
                    executable,
                    &root.join(&earlier.exercise),
                    Some(name),
                    Some(&judged),
                )?);
            }
            match outcomes.iter().find(|outcome| &outcome.name == name) {
                None => bail!(
                    "factors.toml: {} keeps `{name}` of {}, which has no such check",
                    factor.heading(),
                    earlier.heading()
                ),
                Some(outcome) if outcome.passed => passed += 1,
                Some(outcome) => failures.push(format!(
                    "the check `{name}` of {} fails on solution {}:\n{}",
                    earlier.heading(),
                    factor.dir_name(),
                    outcome.explanation
                )),
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "solution {} forgets what an earlier factor taught:\n{}",
            factor.dir_name(),
            failures.join("\n")
        );
    }
    Ok(format!("{passed} earlier checks pass"))
}
