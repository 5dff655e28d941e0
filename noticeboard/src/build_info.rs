//! Which build of the codebase this binary is: what `build.rs` recorded when it was compiled
//! (Factor I's `GET /version`, Factor V's `GET /release`).

/// The commit of the codebase this binary was built from (40 hex digits), or `unknown` if the
/// build had no git.
pub const COMMIT: &str = env!("NOTICEBOARD_COMMIT");

/// Whether the package's files differed from [`COMMIT`] when it was built: `true`, `false` or
/// `unknown`.
pub const DIRTY: &str = env!("NOTICEBOARD_DIRTY");

/// [`DIRTY`] as a boolean; `None` if unknown.
pub fn dirty() -> Option<bool> {
    match DIRTY {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}
