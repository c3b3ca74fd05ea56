//! The simulator: virtual time, a deterministic event queue, and models that drive the payments
//! core. It never reads the wall clock and never uses tokio or threads; a run is a pure function
//! of (scenario, seed, commit).
//!
//! * [`rng`]: the pinned PRNG with one stream per entity.
//! * [`queue`]: events in (time, insertion sequence) order, bounded.
//! * [`mmc`]: an M/M/c node, the engine's yardstick and its Erlang-C / Little's-law check.
//! * [`network`]: latency distributions and links with loss, duplication, outages and degradation.
//! * [`station`]: servers in front of a queue (answers first, then new requests by priority):
//!   every node, and the M/M/c model.
//! * [`admission`]: each sender's new requests into a node, by rate and by number at once.
//! * [`breaker`]: a node's circuit breaker per next hop, on the outcomes of its deadlines.
//!
//! Floating point is allowed here only to shape random delays and to report statistics; time
//! and money stay integers.

pub mod admission;
pub mod audit;
pub mod breaker;
pub mod mmc;
pub mod network;
pub mod queue;
pub mod rng;
pub mod station;
pub mod world;
