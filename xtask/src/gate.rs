//! The maintainer's gate: `verify` and the steps it runs, and `bench` for the performance budget.
//! Learners never need to open these files.

pub mod bench;
pub mod conventions;
pub mod deploy_demo;
pub mod deploy_files;
pub mod devcontainer;
pub mod finished;
pub mod integrity;
pub mod lesson_records;
pub mod mistakes;
pub mod verify;
