//! Spreading independent, CPU-bound work (parsing and verifying CSRs, judging published
//! certificates, signing) over the machine's cores, with the results in input order.
//!
//! Only the work is parallel: every decision that depends on order (the `certificate-limit`,
//! notes, counts, the keep-cache) is taken afterwards, in order, by the caller, so what a hook
//! publishes does not depend on the number of threads or on which thread finished first.
//! Threads take the next item from a shared counter (a slow item does not hold up a whole
//! chunk), and the calling thread works too, so a thread the OS refuses only costs speed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// The number of threads is capped (the work is a few thousand items at most).
pub const MAX_THREADS: usize = 8;

/// With fewer items per thread than this, one thread does everything: starting a thread costs
/// about as much as signing a certificate.
pub const MIN_ITEMS_PER_THREAD: usize = 4;

/// Environment variable that sets the number of threads (`1` = no parallelism); otherwise the
/// cores available to the process, at most [`MAX_THREADS`]. Juju does not set it: it is for
/// benchmarks and debugging.
pub const THREADS_ENV: &str = "TLS_PROVIDER_THREADS";

/// The threads [`map`] may use.
pub fn threads() -> usize {
    let wanted = std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
    wanted.clamp(1, MAX_THREADS)
}

/// `f` applied to every item; the results in the order of `items`, whatever thread computed
/// them. A panic in `f` is resumed on the calling thread.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = threads().min(items.len() / MIN_ITEMS_PER_THREAD).max(1);
    if workers == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let parts: Vec<Vec<(usize, R)>> = thread::scope(|s| {
        let helpers: Vec<_> = (1..workers)
            .filter_map(|_| thread::Builder::new().spawn_scoped(s, work).ok())
            .collect();
        let mut parts = vec![work()];
        for h in helpers {
            parts.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        parts
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in parts.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("every item was taken by one thread"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_in_input_order_whatever_the_threads() {
        let items: Vec<u64> = (0..1000).collect();
        // Uneven work, so threads finish out of order.
        let f = |&x: &u64| (0..(x % 7) * 1000).fold(x, |a, b| a.wrapping_mul(31).wrapping_add(b));
        let expected: Vec<u64> = items.iter().map(f).collect();
        assert_eq!(map(&items, f), expected);
        assert_eq!(map(&items[..3], f), expected[..3]);
        assert!(map(&[] as &[u64], f).is_empty());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..100).collect();
        let r = std::panic::catch_unwind(|| map(&items, |&x| assert_ne!(x, 77)));
        assert!(r.is_err());
    }
}
