//! The kit's black-box test harness.
//!
//! Every exercise and its solution run the *same* test file (under `kit/checks/`), and that file
//! talks to the app only from the outside, through this crate:
//!
//! - [`app`]: spawn the built binary with a cleared env, its own temp cwd/HOME/TMPDIR, a free
//!   `PORT`; wait until it answers; signal it; capture its output and print it (secrets masked)
//!   when a test fails.
//! - [`http`]: tiny blocking HTTP helpers that never hang.
//! - [`postgres`]: a fresh database, owned by a fresh role with a random password, per test.
//! - [`redis`]: a private Redis database index per test, leased through Redis itself.
//! - [`proxy`]: a loopback TCP proxy a test can cut and restore to simulate an outage.
//! - [`stub`]: a loopback HTTP server standing in for an upstream (a webhook): records every call,
//!   answers as slowly as the test wants.
//! - [`procfs`]: what a running process holds, from `/proc`: listening sockets, open files,
//!   connections, child processes, loaded libraries.
//! - [`elf`]: the shared libraries a built binary asks the loader for (its `DT_NEEDED` entries).
//! - [`trap`]: stand-ins for system tools (`curl`, ...) that record that they ran, and fail.
//! - [`noticeboard`]: the app's HTTP contract as several factors' checks use it (visits).
//! - [`lesson`]: failure messages that teach: the rule, what was observed, where to read.
//! - [`services`]: where the backing services are (env, then `.env`, then the compose defaults).
//!
//! It is not a general test framework: it exists so that a failing check can tell a learner
//! exactly which twelve-factor rule their code broke.

pub mod app;
pub mod elf;
pub mod http;
pub mod lesson;
pub mod noticeboard;
pub mod postgres;
pub mod procfs;
pub mod proxy;
pub mod redis;
pub mod services;
pub mod stub;
pub mod trap;

pub use app::{App, AppBuilder, Finished};
pub use http::Reply;
pub use lesson::{Lesson, lesson};
pub use postgres::TestDatabase;
pub use proxy::TcpProxy;
pub use redis::TestRedis;
pub use stub::HttpStub;
pub use trap::TrapCommands;

/// The path of a binary Cargo built for the package whose tests are running.
///
/// Exercise and solution packages differ in name, so the shared check files cannot name binaries
/// literally. `app_binary!()` is the package's default binary (`CARGO_BIN_EXE_<package>`);
/// `app_binary!("migrate")` is the binary `<package>-migrate` (declare it with `[[bin]]`).
#[macro_export]
macro_rules! app_binary {
    () => {
        env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")))
    };
    ($suffix:literal) => {
        env!(concat!(
            "CARGO_BIN_EXE_",
            env!("CARGO_PKG_NAME"),
            "-",
            $suffix
        ))
    };
}
