//! Engine benchmark: an M/M/4 queue at 80 % load, 1 000 000 customers, on our event queue.
//!
//! Run: `cargo bench --bench engine`. Throughput is reported in customers per second (two events
//! each: arrival and departure), the unit the reference baselines use. The baselines are run by
//! hand beside it (see benches/README.md): `../shared/reference/bench/rust_heap_mmc` and
//! `simpy_mmc.py`, with the same model and customer count.

use std::hint::black_box;

use bakong_sim::sim::mmc::{MmcConfig, erlang_c, run_mmc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CUSTOMERS: u64 = 1_000_000;

fn config() -> MmcConfig {
    MmcConfig {
        servers: 4,
        arrival_rate_per_s: 3.2,
        service_rate_per_s: 1.0,
        customers: CUSTOMERS,
        seed: 42,
        waiting_max: 1 << 20,
    }
}

fn bench(c: &mut Criterion) {
    let report = run_mmc(config()).expect("runs");
    let (_, wq, w) = erlang_c(4, 3.2, 1.0).expect("stable");
    println!(
        "M/M/4 ρ=0.8, {CUSTOMERS} customers, seed 42: Wq {:.4} s (Erlang-C {wq:.4}), W {:.4} s (Erlang-C {w:.4}), L {:.4}, Little's law exact: {}",
        report.mean_wait_s(),
        report.mean_sojourn_s(),
        report.mean_in_system(),
        report.area_ns == report.sojourn_ns_sum
    );
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CUSTOMERS));
    group.bench_function("mmc4_rho08_1m_customers", |b| {
        b.iter(|| black_box(run_mmc(config()).expect("runs").events_count))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
