//! The current batch: the requests of the last `command`, whose ids are `first..first+len`
//! (assigned in array order), and which of them are still unanswered.

#[derive(Debug, Default)]
pub struct Batch {
    first: u32,
    /// `pending[i]`: request i has no final answer yet. Capacity is reused between batches.
    pending: Vec<bool>,
    remaining: usize,
    /// Counts the batches started and cleared: a face that keeps answers of the current batch
    /// (the libmemcached face's fetch) knows them stale when it changed.
    generation: u64,
}

impl Batch {
    pub fn start(&mut self, first: u32, len: usize) {
        self.first = first;
        self.pending.clear();
        self.pending.resize(len, true);
        self.remaining = len;
        self.generation = self.generation.wrapping_add(1);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
        self.remaining = 0;
        self.generation = self.generation.wrapping_add(1);
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The index of a still-pending member of the batch.
    pub fn index_of(&self, opaque: u32) -> Option<usize> {
        let i = opaque.wrapping_sub(self.first) as usize;
        self.pending.get(i).copied().unwrap_or(false).then_some(i)
    }

    /// Marks a request answered; returns its index if it was a pending member.
    pub fn complete(&mut self, opaque: u32) -> Option<usize> {
        let i = self.index_of(opaque)?;
        self.pending[i] = false;
        self.remaining -= 1;
        Some(i)
    }

    /// OMcache's check that a caller continues the current batch: same first and last id.
    pub fn matches(&self, first_opaque: u32, last_opaque: u32, len: usize) -> bool {
        len == self.pending.len()
            && len > 0
            && first_opaque == self.first
            && last_opaque == self.first.wrapping_add(len as u32 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership() {
        let mut b = Batch::default();
        b.start(u32::MAX - 1, 3); // ids wrap inside the batch
        assert_eq!(b.index_of(u32::MAX), Some(1));
        assert_eq!(b.complete(0), Some(2));
        assert_eq!(b.complete(0), None);
        assert_eq!(b.index_of(1), None);
        assert_eq!(b.remaining(), 2);
        assert!(b.matches(u32::MAX - 1, 0, 3));
        let g = b.generation();
        b.start(7, 1);
        assert_ne!(b.generation(), g);
        let g = b.generation();
        b.clear();
        assert_ne!(b.generation(), g);
    }
}
