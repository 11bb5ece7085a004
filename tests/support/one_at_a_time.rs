//! A sink that takes one hit per call, as libmemcached's fetch does: it records every answer
//! and pauses after each hit until the test clears `holding`.

use omcache::client::{Response, ResponseSink, Status};

#[derive(Default)]
pub struct OneAtATime {
    /// Hits: batch index, key, value.
    pub got: Vec<(usize, Vec<u8>, Vec<u8>)>,
    /// Every other answer of a batch member: index and status.
    pub others: Vec<(usize, Status)>,
    pub holding: bool,
}

impl ResponseSink for OneAtATime {
    fn response(&mut self, resp: &Response<'_>, batch_index: Option<usize>) -> bool {
        if let Some(i) = batch_index {
            if resp.status == Status::Ok {
                self.got.push((i, resp.key.to_vec(), resp.data.to_vec()));
                self.holding = true;
            } else {
                self.others.push((i, resp.status));
            }
        }
        false
    }

    fn paused(&self) -> bool {
        self.holding
    }
}

/// Quiet keyed gets (GETKQ) of `keys`, as a face's mget sends them.
pub fn quiet_gets(keys: &[Vec<u8>]) -> Vec<omcache::client::Request<'_>> {
    keys.iter()
        .map(|k| {
            omcache::client::Request::keyed(omcache::protocol::RequestParts {
                opcode: omcache::protocol::opcode::GETKQ,
                key: k,
                ..Default::default()
            })
        })
        .collect()
}
