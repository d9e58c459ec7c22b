//! Bounded PBKDF2 work: at most `workers` hashes run at once on blocking threads, at most
//! `queue` more wait; anything beyond that is refused at once (503) instead of piling up.
//! Token routes never enter this pool, so they never wait behind password hashing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// The pool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// See the module docs.
#[derive(Debug)]
pub struct HashPool {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
}

impl HashPool {
    /// `workers` concurrent hashes (at least 1), `queue` waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        HashPool {
            running: Arc::new(Semaphore::new(workers.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// Runs `f` on a blocking thread once a worker is free.
    ///
    /// # Errors
    /// [`Busy`] when `queue` tasks are already waiting.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let permit = match Arc::clone(&self.running).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let p = Arc::clone(&self.running).acquire_owned().await;
                self.waiting.fetch_sub(1, Ordering::AcqRel);
                p.map_err(|_| Busy)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let r = f();
            drop(permit);
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_beyond_workers_plus_queue() {
        let pool = Arc::new(HashPool::new(1, 2));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let (pool, rx) = (Arc::clone(&pool), Arc::clone(&rx));
            tasks.push(tokio::spawn(async move {
                pool.run(move || rx.lock().unwrap().recv().unwrap()).await
            }));
        }
        // Let one start and two queue up.
        while pool.waiting.load(Ordering::Acquire) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(pool.run(|| ()).await, Err(Busy));
        for _ in 0..3 {
            tx.send(()).unwrap();
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }
}
