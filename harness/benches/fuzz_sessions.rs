//! Fuzzing sessions per second against the reference server, in process
//! (duplex pipe) and over loopback TCP.
//!
//! Each round runs the same batch of sessions, drawn from the fuzzer's own
//! strategy with a fixed seed; the median round is reported as sessions per
//! second. A plain `harness = false` bench on `std::time::Instant`: divan or
//! criterion would add a second `syn` major version to every test build.
//!
//! Run with `cargo bench -p smtp-harness --bench fuzz_sessions`
//! (`-- --rounds N` for more rounds).

use std::time::{Duration, Instant};

use smtp_harness::fuzz::{Extensions, Op, run_session, session, strategy};
use smtp_harness::profile::Profile;
use smtp_harness::runner::Target;
use smtp_harness::server::{Server, ServerConfig};

/// Sessions per round.
const BATCH: u64 = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(15usize);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let seqs = sequences();
    let commands: usize = seqs.iter().map(Vec::len).sum();
    println!(
        "{BATCH} sessions per round ({commands} commands generated), {rounds} rounds, median round"
    );

    let in_process = Target::in_process(ServerConfig::default());
    report("in-process", measure(&rt, &in_process, &seqs, rounds));

    let server = rt
        .block_on(Server::start("127.0.0.1:0", ServerConfig::default()))
        .expect("bind 127.0.0.1:0");
    let tcp = Target::Tcp(server.addr().to_string());
    report("loopback-tcp", measure(&rt, &tcp, &seqs, rounds));
}

/// The sequences of the first `BATCH` cases of seed 1, over the reference
/// server's alphabet, at the default maximum length.
fn sequences() -> Vec<Vec<Op>> {
    let alphabet = Extensions::default().alphabet();
    let s = strategy::sequence_strategy(&alphabet, 12);
    (0..BATCH)
        .map(|i| strategy::new_tree(&s, &strategy::case_seed(1, i)).current())
        .collect()
}

/// Times `rounds` rounds (after one warm-up round) and returns them sorted.
fn measure(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    seqs: &[Vec<Op>],
    rounds: usize,
) -> Vec<Duration> {
    let profile = Profile::default();
    let client = session::client_config(&profile);
    let round = || {
        rt.block_on(async {
            let mut sent = 0;
            for ops in seqs {
                sent += run_session(target, ops, &profile, client).await.steps.len();
            }
            sent
        })
    };
    round();
    let mut times: Vec<Duration> = (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(round());
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(name: &str, times: Vec<Duration>) {
    let rate = |d: &Duration| BATCH as f64 / d.as_secs_f64();
    let median = times[times.len() / 2];
    println!(
        "{name:<13} median {:>8.0} sessions/s   (fastest {:.0}, slowest {:.0}; median round {:.1} ms)",
        rate(&median),
        rate(&times[0]),
        rate(&times[times.len() - 1]),
        median.as_secs_f64() * 1e3
    );
}
