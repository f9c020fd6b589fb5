//! Work on the parts of a large blueprint (node templates, plan nodes) split across cores.
//! Every helper here gives exactly the result of doing the work one item at a time, in
//! order: same values, same order, the same first error.

/// How many threads to use for `items` items at no fewer than `per_thread` each: at most
/// one per core, and 1 when splitting would not pay.
pub fn threads_for(items: usize, per_thread: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items / per_thread.max(1))
        .max(1)
}

/// `f(index, item)` for each of `items`, in parts of at least `per_thread` items on up to
/// one thread per core. The results are in order; the error is that of the first item (in
/// order) that fails, as if they were done one by one (later items may have been done too).
pub fn try_map_each<T, R, E>(
    items: &mut [T],
    per_thread: usize,
    f: impl Fn(usize, &mut T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E>
where
    T: Send,
    R: Send,
    E: Send,
{
    let threads = threads_for(items.len(), per_thread);
    if threads == 1 {
        return items
            .iter_mut()
            .enumerate()
            .map(|(index, item)| f(index, item))
            .collect();
    }
    let count = items.len();
    let chunk = count.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks_mut(chunk)
            .enumerate()
            .map(|(part, items)| {
                scope.spawn(move || {
                    items
                        .iter_mut()
                        .enumerate()
                        .map(|(index, item)| f(part * chunk + index, item))
                        .collect::<Result<Vec<R>, E>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(count);
        for part in parts {
            let part = part
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            all.extend(part?);
        }
        Ok(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results in order with their indexes; the error of the first failing item wins.
    #[test]
    fn same_as_one_by_one() {
        let mut items: Vec<usize> = (0..1000).collect();
        let doubled = try_map_each(&mut items, 10, |index, item| {
            *item += 1;
            Ok::<_, String>((index, *item * 2))
        })
        .unwrap();
        assert_eq!(
            doubled,
            (0..1000).map(|i| (i, (i + 1) * 2)).collect::<Vec<_>>()
        );
        assert_eq!(items, (1..1001).collect::<Vec<_>>());
        let failed = try_map_each(&mut items, 10, |index, _| {
            if index == 420 || index == 900 {
                Err(index)
            } else {
                Ok(())
            }
        });
        assert_eq!(failed, Err(420));
    }
}
