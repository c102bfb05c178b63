//! smtp-harness: an SMTP conformance test harness.
//!
//! Data flows one way:
//!
//! ```text
//! scenario file --scenario--> Scenario --runner--> Verdict --report--> text / JSON
//!                                            |
//!                              client (over a Target) <--> server under test
//! ```
//!
//! - [`wire`]: reply parsing and command formatting, no I/O.
//! - [`transcript`]: what crossed the wire, for reports and snapshots.
//! - [`client`]: one SMTP connection with a deadline on every read.
//! - [`scenario`]: the scenario file format, its parser and variables.
//! - [`profile`]: a target profile: where the server is and the names it knows.
//! - [`runner`]: runs scenarios against a target and grades them.
//! - [`server`]: the strict reference server, the embedded default target.
//! - [`report`]: renders verdicts for people.
//! - [`tls`]: TLS for client and server (rustls, ring provider).
//! - [`auth`]: SMTP AUTH encodings: strict BASE64, PLAIN, LOGIN, CRAM-MD5.
//! - [`select`]: choosing scenarios by tag and id pattern.
//! - [`coverage`]: which RFC clauses (`scenarios/clauses.toml`) the suite checks.
//! - [`fuzz`]: the sequence fuzzer, a second producer of verdicts.

pub mod auth;
pub mod client;
pub mod coverage;
pub mod fuzz;
pub mod profile;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod select;
pub mod server;
pub mod tls;
pub mod transcript;
pub mod wire;
