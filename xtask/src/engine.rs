//! The shared machinery under both audiences: the manifest, building and running checks, the
//! backing services, the tools the kit installs, progress and terminal output.

pub mod apply;
pub mod cache;
pub mod incremental;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod replay;
pub mod services;
pub mod settings;
pub mod signals;
pub mod term;
pub mod testrun;
pub mod tools;
