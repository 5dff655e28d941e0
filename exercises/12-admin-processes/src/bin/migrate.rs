//! `ex12-admin-processes-migrate`: brings the database schema up to date (exercise: a stub).
//!
//! An admin task of the noticeboard, built from the same package as the web process. Today it is a
//! note for a human: it says to feed the schema file to psql, from a checkout of the source, and
//! the web process creates the tables anyway as it starts.

use std::process::ExitCode;

// ANCHOR: stub
// TODO(factor-12): make this a real one-off process that does the work itself: with the web
// process's own config and database code (not a copy of them), against `DATABASE_URL`, recording
// what it applied so that a second run does nothing. Log what it did, and exit 0.
fn main() -> ExitCode {
    eprintln!("run this SQL in psql by hand, from a checkout of the source:\n");
    eprintln!("    psql \"$DATABASE_URL\" -f migrations/0001_create_visits.sql\n");
    eprintln!("(or just start a web process: it creates the tables as it starts)");
    ExitCode::FAILURE
}
// ANCHOR_END: stub
