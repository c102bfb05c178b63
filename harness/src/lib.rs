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
//! - [`fuzz`]: the sequence fuzzer, a second producer of verdicts.

pub mod client;
pub mod fuzz;
pub mod profile;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod transcript;
pub mod wire;
