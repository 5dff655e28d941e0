//! `kit-room`: the class board's one binary. `serve` runs the board; the admin tasks are one-off
//! commands against the same database (Factor XII): `open`, `close`, `export`, `token`, `list`.
//! `cargo xtask room …` builds and runs it with the kit's settings.

use anyhow::{Context, Result, bail};
use kit_room::config::Config;
use kit_room::store::Store;
use kit_room::{board, instructor, security};
use std::process::ExitCode;

const USAGE: &str = "usage: kit-room serve | open <class name> | close <code> | export <code> | \
                     token <code> | list";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<()> {
    let config = Config::from_env()?;
    let command = args.first().map(String::as_str).unwrap_or("serve");
    let argument = || {
        args.get(1)
            .filter(|arg| !arg.trim().is_empty())
            .with_context(|| format!("`{command}` needs an argument ({USAGE})"))
    };
    if command == "serve" {
        // JSON lines on stdout (Factor XI): the platform, or `jq`, reads them.
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into()),
            )
            .with_writer(std::io::stdout)
            .init();
        return kit_room::serve(config, kit_room::shutdown_signal()).await;
    }
    let store = Store::connect(&config.database_url).await?;
    match command {
        "open" => open(&store, &config, argument()?).await,
        "close" => {
            let code = code(argument()?)?;
            if !store.close_class(&code).await? {
                bail!("no open class has the code {}", security::show_code(&code));
            }
            println!(
                "Class {} is closed: its board stays readable, it takes no more verdicts.",
                security::show_code(&code)
            );
            Ok(())
        }
        "export" => {
            let code = code(argument()?)?;
            let class = store
                .class_by_code(&code)
                .await?
                .with_context(|| format!("no class has the code {}", security::show_code(&code)))?;
            let rows = board::rows(
                &store.learners(class.id).await?,
                &store.class_verdicts(class.id).await?,
                &store.latest_doctor_reports(class.id).await?,
            );
            print!("{}", instructor::csv(&rows));
            Ok(())
        }
        "token" => {
            let code = code(argument()?)?;
            let token = security::token("ri_");
            if !store.rotate_instructor_token(&code, &token).await? {
                bail!("no class has the code {}", security::show_code(&code));
            }
            println!("New instructor token (the old one no longer works):");
            print_links(&config, &token);
            Ok(())
        }
        "list" => {
            for (class, learners) in store.classes().await? {
                println!(
                    "{}  {:<30} {learners} learner(s){}",
                    security::show_code(&class.code),
                    class.name,
                    if class.closed { ", closed" } else { "" }
                );
            }
            Ok(())
        }
        _ => bail!("unknown command `{command}` ({USAGE})"),
    }
}

fn code(typed: &str) -> Result<String> {
    security::normalize_code(typed).with_context(|| {
        format!(
            "{typed:?} is not a class code (8 letters and digits, e.g. K7QM-R2XA: `list` shows them)"
        )
    })
}

async fn open(store: &Store, config: &Config, name: &str) -> Result<()> {
    let name = security::display_name(name)
        .map_err(|err| anyhow::anyhow!("class name: {}", err.replace("display name", "name")))?;
    let code = security::class_code();
    let token = security::token("ri_");
    store.open_class(&name, &code, &token).await?;
    let shown = security::show_code(&code);
    println!("Class {name:?} is open. Its code: {shown}\n");
    println!("Learners join once (on the same network), then every check appears on the board:");
    println!(
        "  cargo xtask room join http://{}:{} {shown} --name \"Their Name\"\n",
        lan_address(),
        config.listen.port()
    );
    println!("Your pages (keep the token to yourself; it is shown once):");
    print_links(config, &token);
    println!("\nClose the class at the end: cargo xtask room close {shown}");
    Ok(())
}

fn print_links(config: &Config, token: &str) {
    let port = config.listen.port();
    println!("  board:     http://127.0.0.1:{port}/board#{token}");
    println!("  projector: http://127.0.0.1:{port}/projector#{token}");
}

/// This machine's address on the LAN: the one a route to a private network would leave from
/// (no packet is sent), or a placeholder.
fn lan_address() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("10.255.255.255:1")?;
            socket.local_addr()
        })
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|_| "<this laptop's address>".into())
}
