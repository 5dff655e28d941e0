//! `verify`'s workflow step for the macOS job (`.github/workflows/macos.yml`): valid against the
//! GitHub workflow schema (offline, with `check-jsonschema`), on a macOS runner, and running the
//! checks of every available factor's solution. The book's workflow is the book steps'.

use crate::engine::manifest::Manifest;
use crate::engine::tools;
use anyhow::{Context, Result, ensure};
use std::path::Path;

pub const MACOS: &str = ".github/workflows/macos.yml";

pub fn check_macos(root: &Path, manifest: &Manifest) -> Result<String> {
    let text = std::fs::read_to_string(root.join(MACOS))
        .with_context(|| format!("cannot read {MACOS}"))?;
    ensure!(
        text.lines()
            .any(|line| line.trim().starts_with("runs-on: macos-")),
        "{MACOS} has no job that `runs-on: macos-…`"
    );
    let available = manifest.available().count();
    ensure!(
        text.contains(&format!("$(seq 1 {available})"))
            && text.contains(r#"cargo xtask check "$factor" --solution"#),
        "{MACOS} must run `cargo xtask check \"$factor\" --solution` for factor in $(seq 1 \
         {available}): every available factor's solution"
    );
    let output = tools::check_jsonschema(root)?
        .args(["--builtin-schema", "vendor.github-workflows", MACOS])
        .current_dir(root)
        .output()
        .context("cannot run check-jsonschema")?;
    ensure!(
        output.status.success(),
        "{MACOS} is not a valid GitHub workflow:\n{}{}",
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(format!("{MACOS} valid, {available} solutions on macOS"))
}
