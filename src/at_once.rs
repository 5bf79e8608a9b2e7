//! At most N at once, in one app server: a bound on memory and CPU for work
//! that is heavy while it runs (decoding a photo, checking an import file).
//! Per process, never a guard of correctness: what must hold across servers
//! (a job's state, a household's limit) is held by the database.

use std::sync::{Condvar, Mutex, MutexGuard};

/// A counting semaphore: `turn` waits until fewer than `max` turns are out.
pub struct AtOnce {
    running: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// A turn, given back when dropped.
pub struct Turn<'a>(&'a AtOnce);

impl AtOnce {
    /// At most `max` turns out at once (`max` >= 1).
    pub const fn new(max: usize) -> AtOnce {
        AtOnce {
            running: Mutex::new(0),
            freed: Condvar::new(),
            max,
        }
    }

    fn count(&self) -> MutexGuard<'_, usize> {
        // A panic while counting leaves a plain number: keep using it.
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for a turn (blocking the thread: call it on a blocking thread).
    pub fn turn(&self) -> Turn<'_> {
        let mut n = self.count();
        while *n >= self.max.max(1) {
            n = self.freed.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Turn(self)
    }

    /// How many turns are out now.
    pub fn running(&self) -> usize {
        *self.count()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut n = self.0.count();
        *n = n.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_turns_are_out() {
        static TWO: AtOnce = AtOnce::new(2);
        let a = TWO.turn();
        let b = TWO.turn();
        assert_eq!(TWO.running(), 2);
        let waiter = std::thread::spawn(|| {
            let _c = TWO.turn();
            TWO.running()
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(TWO.running(), 2, "a third waits");
        drop(a);
        assert_eq!(waiter.join().unwrap(), 2);
        drop(b);
        assert_eq!(TWO.running(), 0);
    }
}
