//! The harness's own tests: isolation, clean-up, outages and fast failures, against the real
//! Postgres and Redis (`cargo xtask services up`).

use kit_harness::{AppBuilder, TcpProxy, TestDatabase, TestRedis, postgres};
use redis::Commands;
use std::panic::catch_unwind;
use std::time::{Duration, Instant};

#[test]
fn each_test_database_is_private_owned_by_its_role_and_dropped_after() {
    let first = TestDatabase::new();
    let second = TestDatabase::new();
    assert_ne!(first.name(), second.name());
    assert_ne!(first.password(), second.password());
    first.execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('hello')");
    assert_eq!(first.tables(), ["notes"]);
    assert!(
        second.tables().is_empty(),
        "a table leaked between test databases"
    );
    assert_eq!(
        first.rows("SELECT body FROM notes"),
        [[Some("hello".to_string())]]
    );
    assert_eq!(
        first.rows("SELECT current_user::text"),
        [[Some(first.user().to_string())]]
    );

    let name = first.name().to_string();
    drop(first);
    assert!(!postgres::database_exists(&name), "{name} was not dropped");
}

#[test]
fn each_test_redis_is_a_separate_database_index_flushed_after() {
    let first = TestRedis::new();
    let second = TestRedis::new();
    assert_ne!(first.index(), second.index());
    let _: () = first.connection().set("visits", 3).unwrap();
    assert_eq!(first.keys(), ["visits"]);
    assert!(
        second.keys().is_empty(),
        "a key leaked between test Redis databases"
    );
    assert!(first.url().ends_with(&format!("/{}", first.index())));

    let url = first.url();
    drop(first);
    let mut reopened = redis::Client::open(url).unwrap().get_connection().unwrap();
    let left: Vec<String> = reopened.keys("*").unwrap();
    assert!(left.is_empty(), "the database was not flushed: {left:?}");
}

#[test]
fn the_proxy_cuts_and_restores_a_backing_service() {
    let redis = TestRedis::new();
    let upstream = redis::Client::open(redis.url())
        .unwrap()
        .get_connection_info()
        .addr()
        .to_string();
    let upstream = upstream.parse().expect("Redis listens on an IP address");
    let proxy = TcpProxy::start(upstream);
    let through_proxy = format!("redis://127.0.0.1:{}/{}", proxy.port(), redis.index());
    let ping = || -> Result<String, redis::RedisError> {
        let client = redis::Client::open(through_proxy.as_str())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(1))?;
        redis::cmd("PING").query(&mut connection)
    };
    assert_eq!(ping().unwrap(), "PONG");

    let mut held = redis::Client::open(through_proxy.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    proxy.cut();
    assert!(ping().is_err(), "a new connection got through a cut proxy");
    assert!(
        redis::cmd("PING").query::<String>(&mut held).is_err(),
        "an open connection survived the cut"
    );

    proxy.restore();
    assert_eq!(ping().unwrap(), "PONG");
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default()
}

#[test]
fn an_unreachable_service_fails_fast_with_the_fix() {
    for attempt in [
        (|| drop(TestRedis::on("redis://127.0.0.1:1"))) as fn(),
        || {
            drop(TestDatabase::on(
                "postgres://workshop:workshop@127.0.0.1:1/noticeboard",
            ))
        },
    ] {
        let started = Instant::now();
        let text = panic_text(
            catch_unwind(attempt).expect_err("an unreachable service must fail the test"),
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(text.contains("cargo xtask services up"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}

/// A shell stands in for an app: what does a spawned process see?
#[test]
fn apps_run_in_a_private_cleared_world_with_their_files() {
    let finished = AppBuilder::new("/bin/sh")
        .arg("-c")
        .arg("cat .env; pwd; env | sort")
        .env("GREETING", "hello")
        .file(".env", "FROM_FILE=1\n")
        .run_to_end(Duration::from_secs(5));
    assert!(finished.status.success());
    let lines: Vec<&str> = finished.stdout.lines().collect();
    assert_eq!(lines[0], "FROM_FILE=1");
    let cwd = lines[1];
    assert!(cwd.contains("kit-app-"), "cwd {cwd}");
    let env: Vec<&str> = lines[2..]
        .iter()
        .copied()
        .filter(|line| {
            !line.starts_with("PWD=") && !line.starts_with("SHLVL=") && !line.starts_with("_=")
        })
        .collect();
    assert_eq!(
        env,
        [
            "GREETING=hello".to_string(),
            format!("HOME={cwd}"),
            format!("PATH={}", kit_harness::app::MINIMAL_PATH),
            env.iter()
                .find(|line| line.starts_with("PORT="))
                .unwrap()
                .to_string(),
            "RUST_BACKTRACE=1".to_string(),
            format!("TMPDIR={cwd}"),
        ]
    );
}

#[test]
fn a_one_off_process_that_does_not_finish_fails_the_test_in_bounded_time() {
    let started = Instant::now();
    let text = panic_text(
        catch_unwind(|| {
            AppBuilder::new("/bin/sleep")
                .arg("30")
                .name("a stuck task")
                .run_to_end(Duration::from_millis(300))
        })
        .expect_err("a stuck one-off process must fail the test"),
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        text.contains("a stuck task was still running after 300ms"),
        "{text}"
    );
}

#[test]
fn signals_reach_the_app_and_its_exit_is_observed_in_bounded_time() {
    use nix::sys::signal::Signal;
    let script =
        r#"trap 'echo "got $SIG"; exit 0' TERM INT; echo ready; while :; do sleep 0.02; done"#;
    for (signal, name) in [(Signal::SIGTERM, "TERM"), (Signal::SIGINT, "INT")] {
        let mut app = AppBuilder::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .env("SIG", name)
            .start();
        assert!(
            app.wait_for_line(Duration::from_secs(5), |line| line == "ready")
                .is_some()
        );
        app.signal(signal);
        let status = app
            .wait_exit(Duration::from_secs(5))
            .expect("the app exits after the signal");
        assert!(status.success(), "{status}");
        assert!(
            app.stdout().contains(&format!("got {name}")),
            "{}",
            app.stdout()
        );
    }
}

#[test]
fn a_secret_the_app_printed_is_marked_as_a_leak() {
    let mut app = AppBuilder::new("/bin/sh")
        .arg("-c")
        .arg(r#"echo "connecting with $PASSWORD""#)
        .secret_env("PASSWORD", "hunter2-secret")
        .start();
    app.wait_exit(Duration::from_secs(5))
        .expect("the shell exits");
    assert!(
        app.stdout().contains("hunter2-secret"),
        "the raw output is for assertions"
    );
    let shown = app.tail(5);
    assert!(
        !shown.contains("hunter2-secret") && shown.contains("connecting with [LEAKED SECRET]"),
        "{shown}"
    );
    // `*****` is what a learner redacts with: a leak must not look like a fixed line.
    assert!(!shown.contains("*****"), "{shown}");
}
