//! The bench's command line: which backends and phases to run, how long, and where the results go.

use std::path::PathBuf;

use crate::backends::Backend;
use crate::scenarios::Plan;
use crate::util::{Context, Res};

pub const USAGE: &str = "\
usage: proeventa-bench [--quick] [--backend sqlite,postgres,dynamodb] [--phases LIST] [--server PATH] [--out DIR]

  --quick      short phases and fewer buyers (for development against debug builds)
  --backend    which backends to measure, comma-separated (default: all three)
  --phases     which phases to run, comma-separated, of fresh, holds, hot, best, ceiling, flash, sellout, queue,
               maps, states, logins, door, manifest, cost, mail, search, reports, steady, start (default: all); the store is
               seeded as for a full run, with fewer buyers when none of holds, hot, flash and sellout runs
  --server     the proeventa binary (default: next to this one)
  --out        where results.json, chart.svg and server logs go (default: target/bench)

PostgreSQL: a fresh database on BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
DynamoDB Local 3.3.1: from DYNAMODB_LOCAL_DIR (default .tools/dynamodb-local-3.3.1; `make dynamodb-local`).
The servers log at RUST_LOG=warn, or at BENCH_SERVER_LOG when set (e.g. `warn,proeventa_core::store::batch=debug`
logs every batch's size; logging costs time, so such a run's figures are not the bench's).";

/// A part of a backend's run that `--phases` can pick, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Fresh,
    Holds,
    Hot,
    Best,
    Ceiling,
    Flash,
    SellOut,
    Queue,
    Maps,
    States,
    Logins,
    Door,
    Manifest,
    Cost,
    Mail,
    Search,
    Reports,
    Steady,
    Start,
}

impl Phase {
    pub const ALL: [Phase; 19] = [
        Phase::Fresh,
        Phase::Holds,
        Phase::Hot,
        Phase::Best,
        Phase::Ceiling,
        Phase::Flash,
        Phase::SellOut,
        Phase::Queue,
        Phase::Maps,
        Phase::States,
        Phase::Logins,
        Phase::Door,
        Phase::Manifest,
        Phase::Cost,
        Phase::Mail,
        Phase::Search,
        Phase::Reports,
        Phase::Steady,
        Phase::Start,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Fresh => "fresh",
            Phase::Holds => "holds",
            Phase::Hot => "hot",
            Phase::Best => "best",
            Phase::Ceiling => "ceiling",
            Phase::Flash => "flash",
            Phase::SellOut => "sellout",
            Phase::Queue => "queue",
            Phase::Maps => "maps",
            Phase::States => "states",
            Phase::Logins => "logins",
            Phase::Door => "door",
            Phase::Manifest => "manifest",
            Phase::Cost => "cost",
            Phase::Mail => "mail",
            Phase::Search => "search",
            Phase::Reports => "reports",
            Phase::Steady => "steady",
            Phase::Start => "start",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|phase| phase.name() == name)
    }
}

pub struct Args {
    pub plan: Plan,
    pub quick: bool,
    pub backends: Vec<Backend>,
    pub phases: Vec<Phase>,
    pub server: Option<PathBuf>,
    pub out: PathBuf,
}

pub fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        plan: Plan::full(),
        quick: false,
        backends: Backend::ALL.to_vec(),
        phases: Phase::ALL.to_vec(),
        server: None,
        out: PathBuf::from("target/bench"),
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--quick" => {
                args.quick = true;
                args.plan = Plan::quick();
            }
            "--backend" => {
                let list = given.next().context("--backend needs a value")?;
                args.backends = list
                    .split(',')
                    .map(|name| Backend::parse(name.trim()).context(format!("unknown backend `{name}`")))
                    .collect::<Res<_>>()?;
            }
            "--phases" => {
                let list = given.next().context("--phases needs a value")?;
                args.phases = list
                    .split(',')
                    .map(|name| Phase::parse(name.trim()).context(format!("unknown phase `{name}`")))
                    .collect::<Res<_>>()?;
            }
            "--server" => args.server = Some(given.next().context("--server needs a path")?.into()),
            "--out" => args.out = given.next().context("--out needs a path")?.into(),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}
