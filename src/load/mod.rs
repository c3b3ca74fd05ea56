//! Real time: the network of a scenario as servers on loopback sockets (`sim serve`) and an
//! open-loop load generator (`sim load`), over the same payments core the simulator drives.
//! The only layer with tokio, sockets and SQLite.
//!
//! * [`journal`]: the durable journal (SQLite, WAL, `synchronous=FULL`, group commit), its
//!   check and what a restarted server recovers from it.
//! * [`link`]: ISO 8583 links over TCP: sign-on, MACs, STANs, replay refusal.
//! * [`network`]: the participants as tokio tasks: relays (the switch with its books and
//!   journal, UPI) and members (originators for the payer API, emulated far sides).
//! * [`serve`]: `sim serve`: start-up, recovery from the journal, links and listeners.
//! * [`api`]: the payer apps' API on hyper.
//! * [`generate`]: `sim load`: the open-loop generator, latency from the intended send time.
//! * [`schedule`]: a scenario's traffic as a request schedule.
//! * [`model`]: the model check: the simulator given the service times measured, against the
//!   latency measured.

// Real time is this layer's business: it reads the clock for timers, latencies and timestamps.
#![allow(clippy::disallowed_methods)]

pub mod api;
pub mod generate;
pub mod journal;
pub mod link;
pub mod model;
pub mod network;
pub mod schedule;
pub mod serve;
