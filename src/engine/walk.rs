//! A concurrent walk over a dependency graph. It knows nothing about
//! resources: a node runs when its dependencies have finished, a failure
//! skips everything downstream of it, and the rest carries on. Once
//! `stopping` says so, nothing new starts and what runs is awaited.

use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<E> {
    Done,
    Failed(E),
    /// Not run because the node at this index failed.
    Skipped(usize),
    /// Not run because the walk was told to stop.
    NotStarted,
}

/// `dependencies[i]` lists the nodes that must finish before node `i`.
pub async fn walk<E, F, Fut>(
    dependencies: &[Vec<usize>],
    parallelism: usize,
    stopping: &dyn Fn() -> bool,
    mut run: F,
) -> Vec<Outcome<E>>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Clone,
{
    let n = dependencies.len();
    let (mut waiting, dependents) = counts_and_dependents(dependencies);
    let mut outcomes: Vec<Option<Outcome<E>>> = vec![None; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).rev().collect();
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < parallelism.max(1) && !stopping() {
            let Some(node) = ready.pop() else { break };
            let future = run(node);
            running.push(async move { (node, future.await) });
        }
        let Some((node, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(()) => {
                outcomes[node] = Some(Outcome::Done);
                for &next in &dependents[node] {
                    waiting[next] -= 1;
                    if waiting[next] == 0 && outcomes[next].is_none() {
                        ready.insert(0, next);
                    }
                }
            }
            Err(error) => {
                outcomes[node] = Some(Outcome::Failed(error));
                let mut stack = dependents[node].clone();
                while let Some(next) = stack.pop() {
                    if outcomes[next].is_none() {
                        outcomes[next] = Some(Outcome::Skipped(node));
                        stack.extend(dependents[next].iter().copied());
                    }
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::NotStarted))
        .collect()
}

/// How many dependencies each node waits for, and each node's dependents.
fn counts_and_dependents(dependencies: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut dependents = vec![Vec::new(); dependencies.len()];
    for (node, deps) in dependencies.iter().enumerate() {
        for &d in deps {
            dependents[d].push(node);
        }
    }
    (dependencies.iter().map(Vec::len).collect(), dependents)
}

/// A node on a dependency cycle (or waiting on one), if there is any:
/// what Kahn's algorithm cannot order.
pub fn first_in_cycle(dependencies: &[Vec<usize>]) -> Option<usize> {
    let n = dependencies.len();
    let (mut waiting, dependents) = counts_and_dependents(dependencies);
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut ordered = 0;
    while let Some(node) = ready.pop() {
        ordered += 1;
        for &next in &dependents[node] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(next);
            }
        }
    }
    (ordered < n).then(|| (0..n).find(|&i| waiting[i] > 0).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cycles_are_found() {
        assert_eq!(super::first_in_cycle(&[vec![], vec![0], vec![1]]), None);
        assert!(super::first_in_cycle(&[vec![2], vec![0], vec![1], vec![]]).is_some());
    }

    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn failure_skips_only_descendants() {
        // 0 -> 1 -> 2, and 3 alone; 1 fails.
        let deps = vec![vec![], vec![0], vec![1], vec![]];
        let order = Arc::new(Mutex::new(Vec::new()));
        let outcomes = walk(&deps, 4, &|| false, |i| {
            let order = order.clone();
            async move {
                order.lock().unwrap().push(i);
                if i == 1 {
                    Err("boom")
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert_eq!(
            outcomes,
            vec![
                Outcome::Done,
                Outcome::Failed("boom"),
                Outcome::Skipped(1),
                Outcome::Done
            ]
        );
        let order = order.lock().unwrap();
        assert!(order.iter().position(|&x| x == 0) < order.iter().position(|&x| x == 1));
        assert!(!order.contains(&2));
    }

    #[tokio::test]
    async fn parallelism_bounds_concurrency() {
        let deps = vec![vec![]; 8];
        let live = Arc::new(Mutex::new((0, 0)));
        walk(&deps, 3, &|| false, |_| {
            let live = live.clone();
            async move {
                {
                    let mut l = live.lock().unwrap();
                    l.0 += 1;
                    l.1 = l.1.max(l.0);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                live.lock().unwrap().0 -= 1;
                Ok::<(), ()>(())
            }
        })
        .await;
        assert_eq!(live.lock().unwrap().1, 3);
    }

    #[tokio::test]
    async fn once_stopping_nothing_new_starts_and_running_work_finishes() {
        // 0 -> 1, and 2 alone, one at a time; stop while 0 runs.
        let deps = vec![vec![], vec![0], vec![]];
        let stop = std::sync::atomic::AtomicBool::new(false);
        let outcomes = walk(
            &deps,
            1,
            &|| stop.load(std::sync::atomic::Ordering::SeqCst),
            |i| {
                let stop = &stop;
                async move {
                    if i == 0 {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    Ok::<(), ()>(())
                }
            },
        )
        .await;
        assert_eq!(outcomes[0], Outcome::Done);
        assert_eq!(outcomes[1], Outcome::NotStarted);
        assert_eq!(outcomes[2], Outcome::NotStarted);
    }
}
