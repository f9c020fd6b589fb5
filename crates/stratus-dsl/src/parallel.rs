//! Two halves of one job on two cores: the second half on a scoped thread, the first on the
//! caller's. Large blueprints are parsed, planned and freed this way; on one core the halves
//! run one after the other, with the same results.

use std::sync::OnceLock;

/// Whether this process may run on more than one core (read once: finding out reads the
/// cgroup files).
pub(crate) fn two_cores() -> bool {
    static CORES: OnceLock<bool> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// `(first(), second())`, the two at once when there are two cores. A panic in either is
/// the caller's.
pub(crate) fn join<A, B: Send>(
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !two_cores() {
        let a = first();
        return (a, second());
    }
    std::thread::scope(|scope| {
        let other = scope.spawn(second);
        let a = first();
        match other.join() {
            Ok(b) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
