//! `verify`'s deploy step: a short run of the deploy demo (`cargo xtask deploy --demo --short`)
//! on the finished noticeboard, which must drop no request (a `503` while Redis is cut counts: the
//! cut is shorter than the app's budget for waiting through one), count every visit once and lose
//! no notification, then on
//! Factor IX's exercise, which must still fail the way its chapter predicts (requests failing on
//! every restart). About a minute on two cores.

use crate::deploy::{self, apps, demo};
use crate::engine::manifest::Manifest;
use crate::engine::tools;
use anyhow::{Result, bail};
use std::path::Path;

/// The factor whose exercise the step breaks (the closing session's first example).
const BREAK: &str = "9";

pub fn check(root: &Path, manifest: &Manifest) -> Result<String> {
    let haproxy = tools::haproxy()?;
    let timing = demo::Timing::gate();
    let quiet = &mut std::io::sink();
    // Fewer replicas than the full demo, to stay within a minute on two cores; one IX web
    // process, so every slow request in flight dies with it on its restart.
    let finished = deploy::demo_run(
        root,
        &apps::finished(root)?,
        &haproxy,
        &timing,
        Some("web=2,worker=2"),
        quiet,
    )?;
    let problems = finished.problems();
    if !problems.is_empty() {
        bail!(
            "the finished noticeboard under the deploy demo: {} (report: cargo xtask deploy --demo)",
            problems.join("; ")
        );
    }
    let exercise = apps::exercise(root, manifest, BREAK)?;
    let broken = deploy::demo_run(
        root,
        &exercise,
        &haproxy,
        &timing,
        Some("web=1,worker=1"),
        quiet,
    )?;
    let shown = match broken.predicted_failure(exercise.factor.unwrap_or_default()) {
        Ok(shown) => shown,
        Err(missing) => bail!(
            "--break {BREAK}: {} no longer shows the failure the chapter predicts ({missing})",
            exercise.label
        ),
    };
    Ok(format!(
        "finished app: {} requests ({:.0}/s) across restarts, a kill and a Redis cut, 0 failed, {} visits counted for {} answered, {} notifications, 0 lost; --break {BREAK}: {shown}",
        finished.sent,
        finished.sent as f64 / finished.seconds.max(1.0),
        finished.visits_counted.unwrap_or(0),
        finished.homepage_answered.unwrap_or(0),
        finished.notifications_accepted.unwrap_or(0)
    ))
}
