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
fn a_secret_the_app_printed_is_marked_as_a_leak_and_fails_the_test() {
    let text = panic_text(
        catch_unwind(|| {
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
                !shown.contains("hunter2-secret")
                    && shown.contains("connecting with [LEAKED SECRET]"),
                "{shown}"
            );
            // `*****` is what a learner redacts with: a leak must not look like a fixed line.
            assert!(!shown.contains("*****"), "{shown}");
        })
        .expect_err("an app that printed a secret fails the test when it is dropped"),
    );
    assert!(text.contains("wrote the password in PASSWORD"), "{text}");
    assert!(text.contains("Book: 03-config.html#the-fix"), "{text}");
}

/// The harness knows the secrets it hands out inside URLs (a database's password), without the
/// check naming them, and fails any app whose output holds one.
#[test]
fn a_password_handed_out_in_a_url_must_not_come_back_in_the_output() {
    let password = format!("{:032x}", std::process::id() as u128 * 7_919_113);
    let url = format!("postgres://noticeboard:{password}@127.0.0.1:5432/noticeboard");
    let run = |script: &'static str| {
        let url = url.clone();
        catch_unwind(move || {
            AppBuilder::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .env("DATABASE_URL", url)
                .run_to_end(Duration::from_secs(5));
        })
    };
    let text = panic_text(
        run(r#"echo "database: $DATABASE_URL""#)
            .expect_err("printing the URL with its password fails the test"),
    );
    assert!(
        text.contains("wrote the password in DATABASE_URL"),
        "{text}"
    );
    assert!(!text.contains(&password), "{text}");
    assert!(
        run(r#"echo "database: ${DATABASE_URL%%:*}://noticeboard:*****@127.0.0.1""#).is_ok(),
        "a masked URL is fine"
    );
}

/// What `/proc/<pid>/status` says a process ignores, as signal numbers.
#[cfg(target_os = "linux")]
fn ignored_signals(status: &str) -> Vec<u32> {
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).expect("SigIgn is hex"))
        .expect("/proc status has SigIgn");
    (1..=64)
        .filter(|number| mask & (1 << (number - 1)) != 0)
        .collect()
}

/// The signals a background job (`&`, `nohup`) ignores: SIGHUP 1, SIGINT 2, SIGQUIT 3, SIGTERM 15.
#[cfg(target_os = "linux")]
const JOB_SIGNALS: [u32; 4] = [1, 2, 3, 15];

/// Every app starts with the default action for SIGINT, SIGTERM, SIGHUP and SIGQUIT, whatever the
/// check process inherited. Run alone it shows the normal case; run by the next test from a
/// shell that ignores those signals, it shows the reset.
#[cfg(target_os = "linux")]
#[test]
fn apps_start_with_the_default_action_for_stop_signals() {
    let mut app = AppBuilder::new("/bin/sh")
        .arg("-c")
        .arg("cat /proc/$$/status")
        .start();
    app.wait_exit(Duration::from_secs(5))
        .expect("the shell exits");
    let ignored = ignored_signals(&app.stdout());
    for number in JOB_SIGNALS {
        assert!(
            !ignored.contains(&number),
            "the app ignores signal {number} (ignored: {ignored:?})"
        );
    }
}

/// `cargo xtask check 9 &` (or under `nohup`) starts the checks with SIGINT and SIGQUIT (SIGHUP)
/// ignored, and an ignored signal stays ignored across `exec`: apps would inherit it, and a check
/// that sends SIGINT would see an app that ignores it. The harness resets them.
#[cfg(target_os = "linux")]
#[test]
fn apps_started_from_a_background_job_still_get_sigint() {
    let ignoring = r#"trap '' HUP INT QUIT TERM; exec "$@""#;
    // Without the harness, a child inherits the ignored signals.
    let plain = std::process::Command::new("/bin/sh")
        .args(["-c", ignoring, "sh", "cat", "/proc/self/status"])
        .output()
        .expect("sh runs");
    let inherited = ignored_signals(&String::from_utf8_lossy(&plain.stdout));
    for number in JOB_SIGNALS {
        assert!(
            inherited.contains(&number),
            "the shell did not pass ignored signal {number} on: {inherited:?}"
        );
    }
    // The previous test, run in a check process that ignores them.
    let test = std::env::current_exe().expect("the test binary");
    let run = std::process::Command::new("/bin/sh")
        .args(["-c", ignoring, "sh"])
        .arg(&test)
        .args([
            "apps_start_with_the_default_action_for_stop_signals",
            "--exact",
            "--test-threads=1",
        ])
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Stands in for an app when `FAKE_APP_TAKEN` names a file (otherwise it is an empty test): the
/// first start finds its port "in use", as when a program outside the harness's leases bound it
/// first, and records that port in the file; later starts listen on `PORT`. With
/// `FAKE_APP_ALWAYS_TAKEN` set, every start finds its port in use.
#[test]
fn fake_app_whose_first_port_is_taken() {
    let Ok(record) = std::env::var("FAKE_APP_TAKEN") else {
        return;
    };
    let port = std::env::var("PORT").unwrap();
    if std::env::var_os("FAKE_APP_ALWAYS_TAKEN").is_some()
        || !std::path::Path::new(&record).exists()
    {
        std::fs::write(&record, &port).unwrap();
        eprintln!("noticeboard: cannot bind port {port}: Address already in use (os error 98)");
        std::process::exit(1);
    }
    let listener = std::net::TcpListener::bind(("0.0.0.0", port.parse::<u16>().unwrap())).unwrap();
    for connection in listener.incoming() {
        drop(connection);
    }
}

fn fake_app(record: &std::path::Path) -> AppBuilder {
    AppBuilder::new(std::env::current_exe().unwrap())
        .arg("fake_app_whose_first_port_is_taken")
        .arg("--exact")
        .arg("--nocapture")
        .env("FAKE_APP_TAKEN", record.display().to_string())
        .ready_on_connect()
}

#[test]
fn an_app_whose_leased_port_was_taken_starts_again_on_another() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("taken-port");
    let app = fake_app(&record).spawn();
    let taken: u16 = std::fs::read_to_string(&record).unwrap().parse().unwrap();
    assert_ne!(app.port(), taken);
}

#[test]
fn an_app_that_always_finds_its_port_taken_fails_the_test_with_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("taken-port");
    let text = panic_text(
        catch_unwind(|| drop(fake_app(&record).env("FAKE_APP_ALWAYS_TAKEN", "1").spawn()))
            .expect_err("an app that cannot bind must fail the test"),
    );
    assert!(
        text.contains("exited (exit status: 1) before it was ready"),
        "{text}"
    );
    assert!(
        text.contains("Address already in use (os error 98)"),
        "{text}"
    );
}

#[test]
fn an_app_given_a_port_that_is_taken_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("taken-port");
    std::fs::write(&record, "").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = panic_text(
        catch_unwind(|| {
            drop(
                fake_app(&record)
                    .env("FAKE_APP_ALWAYS_TAKEN", "1")
                    .port(port)
                    .spawn(),
            )
        })
        .expect_err("a port the check chose is not replaced"),
    );
    assert!(text.contains(&format!("cannot bind port {port}")), "{text}");
}
