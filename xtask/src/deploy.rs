//! `cargo xtask deploy`: a small local platform for the finished noticeboard.
//!
//! It does what Heroku or Kubernetes do for a twelve-factor app, on one machine: reads the
//! Procfile, runs the release phase, starts each process type at a chosen scale with its config in
//! the environment, puts the web processes behind a real load balancer (HAProxy, health-checked
//! on `/health`) and merges every process's log onto one stream. `--demo` then rolls every web
//! replica, kills a worker in the middle of a delivery and cuts Redis, under a real load generator
//! (`oha`), and reports what the users saw. `--break N` runs the same demo on factor N's exercise.
//!
//! - `procfile`: the Procfile and `--scale`.
//! - `formation`: the processes, started, signalled and restarted one by one (the API the chapter
//!   demos use too).

pub mod formation;
pub mod procfile;
