//! The maintainer's gate: `verify` and the steps it runs, and `bench` for the performance budget.
//! Learners never need to open these files.

pub mod bench;
pub mod budget;
pub mod cdp;
pub mod compose;
pub mod conventions;
pub mod copy_cache;
pub mod deploy_demo;
pub mod deploy_files;
pub mod devcontainer;
pub mod finished;
pub mod integrity;
pub mod kept_checks;
pub mod layout;
pub mod lesson_records;
pub mod lockfile;
pub mod memo;
pub mod mistakes;
pub mod room;
pub mod runner;
pub mod snapshots;
pub mod verify;
pub mod workflows;
