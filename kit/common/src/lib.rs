//! What xtask, the test harness and the class board must agree on, in one place.
//!
//! Both read the same facts, and a fact resolved in two places drifts (it did: with
//! `DATABASE_URL=` set empty, xtask started one Postgres and the checks talked to another). So:
//!
//! - [`settings`]: where Postgres and Redis are (the environment, then `.env`, then
//!   `.env.example`, an empty value counting as unset everywhere);
//! - [`manifest`]: `factors.toml`, the kit's one list of factors, parsed by one struct;
//! - [`check_const`]: a check file's constant as the book and the class board print it;
//! - [`cargo_env`]: what `cargo run` set for the running program, kept from the Cargo it starts;
//! - [`procfile`]: an app's Procfile, as the checks and `cargo xtask deploy` both read it;
//! - [`standalone`]: a package of the kit built on its own (Factor I's fresh copy, `verify`'s
//!   mistake fixtures), one way.
//!
//! It depends only on crates the harness already builds with, so the exercises' builds gain one
//! small crate and no dependency.

pub mod cargo_env;
pub mod check_const;
pub mod manifest;
pub mod procfile;
pub mod settings;
pub mod standalone;
