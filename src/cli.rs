//! The command line: `serve` (default), `seed`, `import`, `token`, `schema`, `health`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::config::{DatabaseSettings, ServeSettings, TokenSettings};
use crate::domain::BodyType;
use crate::store::import::mapping::{Field, parse_assignment};
use crate::store::seed;

#[derive(Debug, Parser)]
#[command(name = "salesgraph", version, about = "A GraphQL analytics gateway for car sales")]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

// Parsed once per process: the size of the serve variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate, seed the generated data set if the database is empty, and serve HTTP (the default).
    Serve(ServeSettings),
    /// (Re)generate the data set; equal arguments give identical data.
    Seed(SeedArgs),
    /// Import sales from a CSV or Parquet file in one transaction; prints rows read, landed and rejected.
    Import(ImportArgs),
    /// Print a signed JWT for a role, using the configured secret.
    Token(TokenSettings),
    /// Print the GraphQL schema (SDL); schema.graphql at the repository root is this output.
    Schema(SchemaArgs),
    /// Ask a running server's /healthz (for container health checks); exits 0 when it is live.
    Health(HealthArgs),
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Print the subgraph SDL a federation router composes (`@link` to federation v2, `@key`
    /// on the entities), as `_service { sdl }` answers it.
    #[arg(long)]
    pub federation: bool,
}

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// The address the server listens on (its SALESGRAPH_LISTEN); 0.0.0.0 is asked on 127.0.0.1.
    #[arg(long, env = "SALESGRAPH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// Approximate number of sale rows (a row is one dealer's sales of one model on one day).
    #[arg(long, default_value_t = seed::DEFAULT_ROWS)]
    pub rows: u64,
    /// Random seed.
    #[arg(long, default_value_t = seed::DEFAULT_SEED)]
    pub seed: u64,
    /// First day of the data (YYYY-MM-DD).
    #[arg(long, default_value_t = seed::default_from())]
    pub from: NaiveDate,
    /// Last day of the data (YYYY-MM-DD); default today.
    #[arg(long)]
    pub until: Option<NaiveDate>,
    /// Generate without seasonality (every month alike): a control data set for analytics.
    #[arg(long, hide = true)]
    pub flat_seasons: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV or Parquet file (canonical columns: sold_on,model,country,units,unit_price_usd,fuel_type,transmission,color).
    pub file: PathBuf,
    /// Map a field to a column of the file, e.g. `--map sold_on=Date --map units=Quantity`
    /// (fields: sold_on, year, month, day, model, country, region, units, unit_price_usd,
    /// fuel_type, transmission, color, body_type). Repeat or separate with commas.
    #[arg(long, value_delimiter = ',', value_parser = parse_assignment)]
    pub map: Vec<(Field, String)>,
    /// Supply a value for a field the file lacks, e.g. `--set country=NO`.
    #[arg(long, value_delimiter = ',', value_parser = parse_assignment)]
    pub set: Vec<(Field, String)>,
    /// chrono format of the date column, e.g. `%d.%m.%Y`, `%m/%d/%Y`, `%Y-%m` or `%Y`.
    #[arg(long)]
    pub date_format: Option<String>,
    /// Numbers use a decimal comma and dots for thousands ("8.300,00").
    #[arg(long)]
    pub decimal_comma: bool,
    /// Land the good rows and report the bad ones, instead of rejecting the whole file.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Body type of models the catalogue does not know yet.
    #[arg(long, default_value = "UNKNOWN", value_parser = str::parse::<BodyType>)]
    pub body: BodyType,
    /// Field delimiter (one character; `\t` for tabs).
    #[arg(long, default_value = ",")]
    pub delimiter: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_is_read_and_a_bad_one_is_named() {
        let cli = Cli::try_parse_from(["salesgraph", "serve", "--db-pool-size", "4"]).expect("parses");
        let Some(Command::Serve(settings)) = cli.command else { panic!("serve") };
        assert_eq!(settings.db_pool_size, 4);
        let cli = Cli::try_parse_from(["salesgraph", "serve"]).expect("parses");
        let Some(Command::Serve(settings)) = cli.command else { panic!("serve") };
        assert_eq!(settings.db_pool_size, crate::db::DEFAULT_POOL_SIZE);
        for bad in ["0", "many", "1001"] {
            let error = Cli::try_parse_from(["salesgraph", "serve", "--db-pool-size", bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"))
                .to_string();
            assert!(error.contains("--db-pool-size"), "{error}");
        }
    }
}
