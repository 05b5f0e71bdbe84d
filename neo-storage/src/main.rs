//! `neo-storage`: a NEO storage node (see the crate docs).

use std::process::ExitCode;

use neo_storage::cli::{self, Command};
use neo_storage::{net, Config, Exit, Node};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("neo-storage: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let level = if args.verbose { "debug" } else { "info" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    match run(args) {
        Ok(Exit::Failed(why)) => {
            eprintln!("neo-storage: {why}");
            ExitCode::from(1)
        }
        Ok(exit) => {
            log::info!("exit: {exit:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("neo-storage: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: cli::Args) -> Result<Exit, String> {
    let mut config = Config::new(&args.cluster, &args.bind, args.masters, args.database);
    if let Some((ca, cert, key)) = &args.tls {
        config.tls = Some(net::load_tls(ca, cert, key).map_err(|e| format!("TLS: {e}"))?);
    }
    let node = Node::start(config).map_err(|e| e.to_string())?;
    Ok(node.wait())
}
