//! Nothing to see here: this crate exists only for its `Cargo.toml`.
//!
//! Every crate in the kit depends on it, so Cargo resolves the same features for shared
//! dependencies whichever packages a command builds, and each dependency compiles once.
