//! Bounded PBKDF2 work: at most `workers` hashes run at once on blocking threads, at most
//! `queue` more wait; anything beyond that is refused at once (503) instead of piling up.
//! Token routes never enter this pool, so they never wait behind password hashing.
//!
//! Admission is a semaphore permit of `workers + queue`, taken with `try_acquire` and held
//! until the hash is done. A permit is released by `Drop`, so a waiting request that hyper or
//! the request timeout drops (a client that hangs up, a 408) gives its place back at once.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// The pool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// See the module docs.
#[derive(Debug)]
pub struct HashPool {
    /// `workers + queue` permits: one per admitted request, running or waiting.
    admitted: Arc<Semaphore>,
    /// `workers` permits: one per running hash.
    running: Arc<Semaphore>,
    capacity: usize,
}

impl HashPool {
    /// `workers` concurrent hashes (at least 1), `queue` waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let capacity = workers.saturating_add(queue).min(Semaphore::MAX_PERMITS);
        HashPool {
            admitted: Arc::new(Semaphore::new(capacity)),
            running: Arc::new(Semaphore::new(workers)),
            capacity,
        }
    }

    /// Requests admitted now, running or waiting.
    pub fn in_use(&self) -> usize {
        self.capacity
            .saturating_sub(self.admitted.available_permits())
    }

    /// Runs `f` on a blocking thread once a worker is free.
    ///
    /// Dropping the returned future before `f` starts gives the place back; once `f` runs on
    /// its thread it finishes, and its worker and place are given back when it returns.
    ///
    /// # Errors
    /// [`Busy`] when `workers + queue` requests are already admitted.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let admission = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let worker = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        tokio::task::spawn_blocking(move || {
            let r = f();
            drop((worker, admission));
            r
        })
        .await
        .map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Starts `n` jobs that each block until released; returns the release channel.
    fn block(
        pool: &Arc<HashPool>,
        n: usize,
    ) -> (
        std::sync::mpsc::Sender<()>,
        Vec<tokio::task::JoinHandle<Result<(), Busy>>>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let tasks = (0..n)
            .map(|_| {
                let (pool, rx) = (Arc::clone(pool), Arc::clone(&rx));
                tokio::spawn(
                    async move { pool.run(move || rx.lock().unwrap().recv().unwrap()).await },
                )
            })
            .collect();
        (tx, tasks)
    }

    async fn until_in_use(pool: &HashPool, n: usize) {
        while pool.in_use() != n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_beyond_workers_plus_queue() {
        let pool = Arc::new(HashPool::new(1, 2));
        let (tx, tasks) = block(&pool, 3);
        // One runs, two queue up.
        until_in_use(&pool, 3).await;
        assert_eq!(pool.run(|| ()).await, Err(Busy));
        for _ in 0..3 {
            tx.send(()).unwrap();
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert_eq!(pool.run(|| 7).await, Ok(7));
        assert_eq!(pool.in_use(), 0);
    }

    /// #10 item 1: queued requests that are dropped (a client hanging up, a 408) used to keep
    /// their place forever; the queue must be whole again afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropped_waiters_give_their_place_back() {
        let pool = Arc::new(HashPool::new(1, 4));
        let (tx, running) = block(&pool, 1);
        until_in_use(&pool, 1).await;
        // Four waiters queue behind the busy worker, then all hang up.
        let (_tx2, waiters) = block(&pool, 4);
        until_in_use(&pool, 5).await;
        assert_eq!(pool.run(|| ()).await, Err(Busy), "full");
        for w in &waiters {
            w.abort();
        }
        for w in waiters {
            assert!(w.await.unwrap_err().is_cancelled());
        }
        assert_eq!(pool.in_use(), 1, "only the running job holds a place");
        // The whole queue is usable again: four more wait, the fifth is refused.
        let (tx3, again) = block(&pool, 4);
        until_in_use(&pool, 5).await;
        assert_eq!(pool.run(|| ()).await, Err(Busy));
        tx.send(()).unwrap();
        for _ in 0..4 {
            tx3.send(()).unwrap();
        }
        for t in running.into_iter().chain(again) {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert_eq!(pool.in_use(), 0);
    }
}
