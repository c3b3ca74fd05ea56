//! The one integration-test binary. Each module states its goal and method at its top.

mod attacks;
mod capacity;
mod cli;
mod golden;
mod iso8583;
mod output;
mod overrides;
mod page;
mod qr_vectors;
mod scaleout;
mod scenarios;
mod serve;
mod support;
mod swarm;
mod theory;
mod tidy;
mod world;
