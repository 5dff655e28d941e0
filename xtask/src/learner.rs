//! The learner's commands: what a person working through the exercises runs.

pub mod check;
pub mod doctor;
pub mod hint;
pub mod pack;
pub mod reset;
pub mod solution;
pub mod status;
pub mod watch;
