//! `proeventa`: ProEventa as one local process (serve, migrate, seed-demo, create-admin, expire-holds).

mod cli;
mod demo;
mod demo_arena;
mod metrics;
mod serve;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    proeventa_core::memory::return_large_blocks_to_the_os();
    cli::run(std::env::args().skip(1).collect()).await
}
