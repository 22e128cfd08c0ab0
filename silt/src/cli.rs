use clap::{Parser, Subcommand};

use crate::args::{
    CompactorArgs, CoordinatorArgs, GroupsCommand, ServeArgs, ServerArgs, TopicsCommand,
};
use crate::error::CliError;
use crate::{admin, bench, client, coordinator, serve};

#[derive(Debug, Parser)]
#[command(name = "silt", version, about = "Silt: an event log on object storage")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the gateway and the coordinator in one process, on the local filesystem and
    /// SQLite under --data-dir unless --object-store names a bucket.
    Dev(ServeArgs),
    /// Runs a gateway: with --coordinator URL it uses a `silt coordinator` process (so
    /// several gateways share one log); without, an embedded coordinator.
    Gateway(ServeArgs),
    /// Runs the coordinator as a service for gateways (`silt gateway --coordinator URL`).
    Coordinator(CoordinatorArgs),
    /// Runs compaction, retention and garbage collection as their own process.
    Compactor(CompactorArgs),
    /// Creates, lists, describes and deletes topics.
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Produces one record per line of standard input.
    Produce(client::ProduceArgs),
    /// Prints records of a topic, alone or as a member of a consumer group.
    Consume(client::ConsumeArgs),
    /// Lists, describes and resets consumer groups.
    Groups {
        #[command(subcommand)]
        command: GroupsCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Creates, lists and deletes users (passwords kept as SCRAM credentials).
    Users {
        #[command(subcommand)]
        command: admin::UsersCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Creates, lists and revokes API keys.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Adds, lists and removes ACLs.
    Acls {
        #[command(subcommand)]
        command: admin::AclsCommand,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Runs a SQL query over the topics (compacted and fresh records alike).
    Query(crate::query::QueryArgs),
    /// Compacts a topic's segment chunks into Parquet now.
    Compact {
        /// The topic to compact.
        #[arg(long)]
        topic: String,
        /// Compact everything, whatever its age (the only mode for now).
        #[arg(long, default_value_t = true)]
        now: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Measures produce throughput and acknowledgement latency against a running gateway.
    Bench(bench::BenchArgs),
    /// Measures how many segment commits per second one coordinator sustains on a
    /// store, acting as many gateways with no data path.
    BenchCommits(bench::commits::CommitBenchArgs),
}

impl Command {
    pub fn is_server(&self) -> bool {
        matches!(
            self,
            Command::Dev(_) | Command::Gateway(_) | Command::Coordinator(_)
        )
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Dev(args) => serve::run(serve::ServeConfig::resolve(args)?, true).await,
        Command::Gateway(args) => serve::run(serve::ServeConfig::resolve(args)?, false).await,
        Command::Coordinator(args) => coordinator::run_coordinator(args).await,
        Command::Compactor(args) => serve::run_compactor(args).await,
        Command::Topics { command, server } => client::topics(&server, command).await,
        Command::Produce(args) => client::produce(args).await,
        Command::Consume(args) => client::consume(args).await,
        Command::Groups { command, server } => client::groups(&server, command).await,
        Command::Users { command, server } => {
            admin::users(&client::Client::new(&server)?, command).await
        }
        Command::Keys { command, server } => {
            admin::keys(&client::Client::new(&server)?, command).await
        }
        Command::Acls { command, server } => {
            admin::acls(&client::Client::new(&server)?, command).await
        }
        Command::Query(args) => crate::query::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchCommits(args) => bench::commits::run(args).await,
        Command::Compact {
            topic,
            now: _,
            server,
        } => client::compact(&server, &topic).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every flag of every command says what it does.
    #[test]
    fn every_flag_has_a_help_line() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help"
                    || id == "version"
                    || arg.is_positional() && arg.get_help().is_some()
                {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in command.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        check(&super::Cli::command(), "silt", &mut missing);
        assert!(missing.is_empty(), "flags without help: {missing:#?}");
    }
}
