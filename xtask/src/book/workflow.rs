//! The workflow that publishes the book.

use anyhow::{Context, Result};
use std::path::Path;

/// The workflow that publishes the book (`.github/workflows/book.yml`): valid against the GitHub
/// workflow schema (offline, with `check-jsonschema`, whose schemas ship with it), building with
/// the command `verify` runs here and uploading the folder that command writes.
pub fn check_workflow(root: &Path) -> Result<String> {
    let file = ".github/workflows/book.yml";
    let text = std::fs::read_to_string(root.join(file))
        .map_err(|error| anyhow::anyhow!("cannot read {file}: {error}"))?;
    anyhow::ensure!(
        text.lines()
            .any(|line| line.trim() == "run: cargo xtask book"),
        "{file} does not build with `run: cargo xtask book`, the build verify runs locally"
    );
    let out = super::output_dir(root);
    let out = out.strip_prefix(root).unwrap_or(&out).display().to_string();
    anyhow::ensure!(
        text.lines()
            .any(|line| line.trim() == format!("path: {out}")),
        "{file} does not upload `{out}`, where `cargo xtask book` writes the book"
    );
    let output = crate::engine::tools::check_jsonschema(root)?
        .args(["--builtin-schema", "vendor.github-workflows", file])
        .current_dir(root)
        .output()
        .context("cannot run check-jsonschema")?;
    anyhow::ensure!(
        output.status.success(),
        "{file} is not a valid GitHub workflow:\n{}{}",
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(format!("{file} valid"))
}
