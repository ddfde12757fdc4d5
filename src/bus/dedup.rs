//! Consumer-side deduplication by event id over a bounded window of recent ids.

use std::collections::{HashSet, VecDeque};

use uuid::Uuid;

pub struct Dedup {
    seen: HashSet<Uuid>,
    order: VecDeque<Uuid>,
    capacity: usize,
}

impl Dedup {
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::with_capacity(capacity),
            order: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// True the first time `id` is seen (within the window).
    pub fn first_time(&mut self, id: Uuid) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_window() {
        let mut d = Dedup::new(2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(d.first_time(a) && !d.first_time(a));
        assert!(d.first_time(b) && d.first_time(c));
        assert!(d.first_time(a), "a fell out of the window");
        assert!(!d.first_time(c));
    }
}
