//! Running independent tasks on a few threads, results in task order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `f(0) … f(count − 1)` on `jobs` threads (at least one), returned in index order: which
/// thread ran a task, and when, cannot change the result.
pub fn map_in_order<T: Send>(count: usize, jobs: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..count).map(|_| None).collect());
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= count {
                break;
            }
            let value = f(i);
            slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(value);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs.clamp(1, count.max(1)) {
            scope.spawn(worker);
        }
        worker();
    });
    slots
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|v| v.expect("every task ran"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_task_order_whatever_the_threads() {
        let square = |i: usize| i * i;
        let one = map_in_order(100, 1, square);
        for jobs in [2, 3, 8, 200] {
            assert_eq!(map_in_order(100, jobs, square), one, "{jobs} threads");
        }
        assert_eq!(one[7], 49);
        assert!(map_in_order(0, 4, square).is_empty());
    }
}
