//! `ex12-admin-processes-reset-visits`: sets the homepage visit count back to zero (exercise: a
//! stub).
//!
//! An admin task of the noticeboard, built from the same package as the web process. Today it is a
//! note for a human: paste SQL into psql, or call the web process's open admin route.

use std::process::ExitCode;

// ANCHOR: stub
// TODO(factor-12): make this a real one-off process, like `migrate`: the web process's config and
// database code (`db::reset_visits` already exists), against `DATABASE_URL`. Log what it did,
// with the count before and after, and exit 0.
fn main() -> ExitCode {
    eprintln!("run this SQL in psql by hand:\n\n    UPDATE visits SET count = 0 WHERE id = 1;\n");
    eprintln!("(or POST /admin/reset to any web process: it needs no password)");
    ExitCode::FAILURE
}
// ANCHOR_END: stub
