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
//! - [`ports`]: ports leased so that no two checks on the machine get the same one.
//! - [`procfs`]: what a running process holds, from `/proc`: listening sockets, open files.
//! - [`noticeboard`]: the app's HTTP contract as several factors' checks use it (visits).
//! - [`lesson`]: failure messages that teach: the rule, what was observed, where to read.
//! - [`services`]: where the backing services are (env, then `.env`, then the compose defaults).
//!
//! It is not a general test framework: it exists so that a failing check can tell a learner
//! exactly which twelve-factor rule their code broke.

pub mod app;
pub mod http;
pub mod lesson;
pub mod noticeboard;
pub mod ports;
pub mod postgres;
pub mod procfs;
pub mod proxy;
pub mod redis;
pub mod services;
pub mod stub;
pub mod target;

pub use app::{App, AppBuilder, Finished};
pub use http::Reply;
pub use lesson::{Lesson, lesson};
pub use postgres::TestDatabase;
pub use proxy::TcpProxy;
pub use redis::TestRedis;
pub use stub::HttpStub;

/// The path of a binary of the app under test.
///
/// A factor's checks are compiled once, with its exercise, and judge whichever app xtask points
/// them at (`cargo xtask check N --solution` judges the reference): so the check files never name
/// binaries literally. `app_binary!()` is the app's default binary; `app_binary!("migrate")` is
/// its binary `<package>-migrate` (declare it with `[[bin]]`). Without xtask's `KIT_APP_*`
/// variables (a plain `cargo test -p exNN-…`), they are the binaries of the package being tested.
#[macro_export]
macro_rules! app_binary {
    () => {
        $crate::target::binary(env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME"))), "")
    };
    ($suffix:literal) => {
        $crate::target::binary(
            env!(concat!(
                "CARGO_BIN_EXE_",
                env!("CARGO_PKG_NAME"),
                "-",
                $suffix
            )),
            concat!("-", $suffix),
        )
    };
}

/// The folder of the app under test's package (its `Cargo.toml`), for checks that judge how the
/// app is built. The same rule as [`app_binary!`]: xtask's `KIT_APP_MANIFEST_DIR`, else the package
/// being tested.
#[macro_export]
macro_rules! app_manifest_dir {
    () => {
        $crate::target::manifest_dir(env!("CARGO_MANIFEST_DIR"))
    };
}
