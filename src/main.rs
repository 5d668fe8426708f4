use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use salesgraph::auth::{Role, TokenKeys, Viewer};
use salesgraph::cli::{Cli, Command, HealthArgs, ImportArgs, SeedArgs};
use salesgraph::config::{ServeSettings, TokenSettings};
use salesgraph::db;
use salesgraph::startup::{Application, shutdown_signal};
use salesgraph::store::import::{ImportError, ImportOptions, import_csv, import_parquet};
use salesgraph::store::seed::{self, SeedOptions};
use secrecy::ExposeSecret;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let telemetry = match salesgraph::telemetry::init_subscriber() {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut cli = Cli::parse();
    if cli.command.is_none() {
        // No command means `serve`; parse again so that its settings read the environment too.
        cli = Cli::parse_from(std::env::args_os().chain([std::ffi::OsString::from("serve")]));
    }
    let code = match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    };
    telemetry.shutdown().await;
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let url = cli.database.url.expose_secret().to_string();
    match cli.command.unwrap_or_else(|| Command::Serve(ServeSettings::default())) {
        Command::Serve(settings) => serve(&url, settings).await,
        Command::Token(settings) => token(settings),
        Command::Schema(args) => {
            let sdl = if args.federation {
                salesgraph::graphql::subgraph_sdl()
            } else {
                salesgraph::graphql::sdl()
            };
            print!("{sdl}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed(args) => seed_command(&url, args).await,
        Command::Health(args) => health(args).await,
        Command::Import(args) => import_command(&url, args).await,
    }
}

async fn serve(url: &str, settings: ServeSettings) -> anyhow::Result<ExitCode> {
    let application = Application::build(url, settings).await?;
    let address = application.local_addr()?;
    let context = application.context();
    if context.tokens.dev_mode {
        println!("dev mode: SALESGRAPH_JWT_SECRET is unset, so tokens are signed with an ephemeral secret.");
        println!("Paste one into GraphiQL's headers as {{\"Authorization\": \"Bearer <token>\"}}:");
        for (viewer, token) in context.tokens.dev_tokens(std::time::Duration::from_secs(12 * 3600))? {
            println!("  {:<9} {token}", viewer.role);
        }
        println!("or sign in to the dashboard at http://{address}/dashboard and pick a role.");
    }
    println!("salesgraph serving http://{address}/graphql (data version {})", context.snapshot().version);
    application.run_until_stopped(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn token(settings: TokenSettings) -> anyhow::Result<ExitCode> {
    let secret = settings
        .jwt_secret
        .as_ref()
        .map(ExposeSecret::expose_secret)
        .filter(|s| !s.is_empty())
        .context("no secret: set SALESGRAPH_JWT_SECRET (or --jwt-secret) to the server's secret")?;
    // On the command line "Admin" means admin; in a token only the exact name counts.
    let role: Role = settings.role.trim().to_ascii_lowercase().parse().map_err(anyhow::Error::msg)?;
    let viewer = Viewer::new(settings.sub, role, settings.regions);
    let keys = TokenKeys::hs256(secret.as_bytes()).with_claims(settings.jwt_issuer, settings.jwt_audience);
    println!("{}", keys.issue(&viewer, settings.ttl)?);
    Ok(ExitCode::SUCCESS)
}

async fn seed_command(url: &str, args: SeedArgs) -> anyhow::Result<ExitCode> {
    let db = db::connect_for_bulk_load(url).await.context("opening the database")?;
    let options = SeedOptions {
        rows: args.rows,
        seed: args.seed,
        from: args.from,
        until: args.until.unwrap_or_else(|| chrono::Local::now().date_naive()),
        seasonal: !args.flat_seasons,
    };
    let started = std::time::Instant::now();
    let summary = seed::run(&db, &options, std::io::IsTerminal::is_terminal(&std::io::stderr())).await;
    db::end_bulk_load(&db).await.context("putting the database back into WAL mode")?;
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {} rows ({} units) from {} to {} in {:.2} s ({:.0} rows/s)",
        summary.rows,
        summary.units,
        options.from,
        options.until,
        seconds,
        summary.rows as f64 / seconds.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

async fn import_command(url: &str, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let delimiter = match args.delimiter.as_str() {
        "\\t" | "tab" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => anyhow::bail!("--delimiter \"{d}\" must be one character"),
    };
    let options = ImportOptions {
        map: args.map,
        set: args.set,
        date_format: args.date_format,
        decimal_comma: args.decimal_comma,
        skip_invalid: args.skip_invalid,
        default_body: args.body,
        delimiter,
    };
    let mut file =
        std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let parquet = is_parquet(&mut file).with_context(|| format!("reading {}", args.file.display()))?;
    let db = db::connect_for_bulk_load(url).await.context("opening the database")?;
    let started = std::time::Instant::now();
    // Bytes of the file read so far, on a terminal only (indicatif draws nothing elsewhere).
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let outcome = if parquet {
        import_parquet(&db, file, &options).await
    } else {
        let input = bar.wrap_read(std::io::BufReader::with_capacity(1 << 20, file));
        import_csv(&db, input, &options).await
    };
    db::end_bulk_load(&db).await.context("putting the database back into WAL mode")?;
    bar.finish_and_clear();
    match outcome {
        Ok(report) => {
            println!("{report}");
            let seconds = started.elapsed().as_secs_f64();
            println!("{:.2} s ({:.0} rows/s)", seconds, report.rows_landed as f64 / seconds.max(1e-9));
            Ok(ExitCode::SUCCESS)
        }
        Err(ImportError::Rejected(report)) => {
            println!("{report}");
            eprintln!(
                "error: {} bad rows; nothing landed (--skip-invalid lands the good rows)",
                report.rows_rejected
            );
            Ok(ExitCode::FAILURE)
        }
        Err(error) => Err(error.into()),
    }
}

/// Whether the file is Parquet: it starts with Parquet's magic bytes (whatever its name says).
fn is_parquet(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek};
    let mut magic = [0u8; 4];
    let read = file.read(&mut magic)?;
    file.rewind()?;
    Ok(read == magic.len() && &magic == b"PAR1")
}

/// GET /healthz over a plain TCP connection: the runtime image has no curl, and the binary
/// needs no HTTP client for one request.
async fn health(args: HealthArgs) -> anyhow::Result<ExitCode> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut address = args.listen;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(3), check)
        .await
        .with_context(|| format!("no answer from {address} within 3 s"))?
        .with_context(|| format!("cannot reach {address}"))?;
    let status_line = String::from_utf8_lossy(&response).lines().next().unwrap_or_default().to_string();
    if status_line.contains(" 200 ") {
        println!("live: {status_line}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("not live: {status_line}");
        Ok(ExitCode::FAILURE)
    }
}
