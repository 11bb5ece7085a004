//! The safe Rust API: owned requests and responses over the engine. Convenience over speed:
//! keys, values and answers are copied (the C faces hand out slices of the receive buffers
//! instead).
//!
//! Every call blocks until done unless it takes a [`Wait`]; errors are the engine's
//! [`Status`]: the server's answer (`NotFound`, `KeyExists`, ...) or why there was none
//! (`Status::Failed(Failure::…)`).

use super::{
    Client, Request as EngineRequest, RequestSet, Response as EngineResponse, ResponseSink, Route,
    Status, Wait,
};
use crate::protocol::{extras, opcode, RequestParts};

/// One request with owned parts.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// To this server (index in the list); None: by key.
    pub server: Option<usize>,
    /// The key that chooses the server when it is not `key` (libmemcached's `*_by_key`).
    pub routing_key: Option<Vec<u8>>,
    /// Filled in by the engine: the server it went to.
    pub sent_to: Option<usize>,
    pub opcode: u8,
    pub cas: u64,
    pub extras: Vec<u8>,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// Filled in by the engine.
    pub opaque: u32,
}

impl Request {
    pub fn keyed(opcode: u8, key: &[u8]) -> Request {
        Request {
            opcode,
            key: key.to_vec(),
            ..Default::default()
        }
    }
}

/// One response with owned parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub key: Vec<u8>,
    pub data: Vec<u8>,
    pub flags: u32,
    pub cas: u64,
    pub delta_value: u64,
}

/// A stored item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub value: Vec<u8>,
    pub flags: u32,
    pub cas: u64,
}

/// Owned requests as a request set.
struct Owned<'r>(&'r mut [Request]);

impl RequestSet for Owned<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn request(&self, i: usize) -> EngineRequest<'_> {
        let r = &self.0[i];
        let route = match (r.server, &r.routing_key) {
            (Some(s), _) => Route::Server(s),
            (None, Some(k)) => Route::ByKey(k),
            (None, None) => Route::Key,
        };
        EngineRequest {
            route,
            parts: RequestParts {
                opcode: r.opcode,
                opaque: 0,
                cas: r.cas,
                extras: &r.extras,
                key: &r.key,
                value: &r.value,
            },
        }
    }

    fn assigned(&mut self, i: usize, server: Option<usize>, opaque: u32) {
        self.0[i].sent_to = server;
        self.0[i].opaque = opaque;
    }
}

/// Collects copies of the batch's responses.
#[derive(Default)]
struct Collect {
    responses: Vec<(usize, Response)>,
}

impl ResponseSink for Collect {
    fn response(&mut self, resp: &EngineResponse<'_>, batch_index: Option<usize>) -> bool {
        if let Some(i) = batch_index {
            self.responses.push((
                i,
                Response {
                    status: resp.status,
                    key: resp.key.to_vec(),
                    data: resp.data.to_vec(),
                    flags: resp.flags,
                    cas: resp.cas,
                    delta_value: resp.delta_value,
                },
            ));
        }
        false
    }
}

fn storage_extras(flags: u32, expiration: u32) -> Vec<u8> {
    extras::storage(flags, expiration).to_vec()
}

impl Client {
    /// Sends `reqs` as one batch and waits as `wait` says (an `i32` converts with OMcache's
    /// convention: 0 never blocks, negative blocks, positive is milliseconds). Returns the
    /// call's status (`Ok`, `Buffered`, `Again`, or a failure that kept a request from being
    /// sent) and each finished request's response by index.
    pub fn execute(
        &mut self,
        reqs: &mut [Request],
        wait: impl Into<Wait>,
    ) -> (Status, Vec<(usize, Response)>) {
        let mut sink = Collect::default();
        let status = self.command(&mut Owned(reqs), &mut sink, wait);
        (status, sink.responses)
    }

    /// Continues the current batch (after `Again` or `Buffered`).
    pub fn execute_more(
        &mut self,
        reqs: &mut [Request],
        wait: impl Into<Wait>,
    ) -> (Status, Vec<(usize, Response)>) {
        let mut sink = Collect::default();
        let status = match self.io(Some(&Owned(reqs)), &mut sink, wait) {
            super::IoOutcome::Done => Status::Ok,
            super::IoOutcome::Again | super::IoOutcome::Paused => Status::Again,
        };
        (status, sink.responses)
    }

    fn single(&mut self, req: Request) -> Result<Response, Status> {
        let mut reqs = [req];
        let (status, mut responses) = self.execute(&mut reqs, Wait::Forever);
        match responses.pop() {
            Some((_, r)) => Ok(r),
            None if status == Status::Ok => Err(Status::NotFound),
            None => Err(status),
        }
    }

    fn single_ok(&mut self, req: Request) -> Result<Response, Status> {
        let r = self.single(req)?;
        if r.status == Status::Ok {
            Ok(r)
        } else {
            Err(r.status)
        }
    }

    fn store(
        &mut self,
        op: u8,
        key: &[u8],
        value: &[u8],
        expiration: u32,
        flags: u32,
        cas: u64,
    ) -> Result<u64, Status> {
        let req = Request {
            extras: storage_extras(flags, expiration),
            value: value.to_vec(),
            cas,
            ..Request::keyed(op, key)
        };
        self.single_ok(req).map(|r| r.cas)
    }

    /// Stores a value; returns its new CAS.
    pub fn set(
        &mut self,
        key: &[u8],
        value: &[u8],
        expiration: u32,
        flags: u32,
    ) -> Result<u64, Status> {
        self.store(opcode::SET, key, value, expiration, flags, 0)
    }

    pub fn add(
        &mut self,
        key: &[u8],
        value: &[u8],
        expiration: u32,
        flags: u32,
    ) -> Result<u64, Status> {
        self.store(opcode::ADD, key, value, expiration, flags, 0)
    }

    pub fn replace(
        &mut self,
        key: &[u8],
        value: &[u8],
        expiration: u32,
        flags: u32,
    ) -> Result<u64, Status> {
        self.store(opcode::REPLACE, key, value, expiration, flags, 0)
    }

    /// Stores only if the item's CAS is still `cas`.
    pub fn cas(
        &mut self,
        key: &[u8],
        value: &[u8],
        expiration: u32,
        flags: u32,
        cas: u64,
    ) -> Result<u64, Status> {
        self.store(opcode::SET, key, value, expiration, flags, cas)
    }

    pub fn get(&mut self, key: &[u8]) -> Result<Option<Item>, Status> {
        match self.single(Request::keyed(opcode::GETK, key)) {
            Ok(r) if r.status == Status::Ok => Ok(Some(Item {
                value: r.data,
                flags: r.flags,
                cas: r.cas,
            })),
            Ok(r) if r.status == Status::NotFound => Ok(None),
            Ok(r) => Err(r.status),
            Err(Status::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a key; Ok(false) when it did not exist.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, Status> {
        match self.single_ok(Request::keyed(opcode::DELETE, key)) {
            Ok(_) => Ok(true),
            Err(Status::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Increments a counter, creating it with `initial` when missing; returns the new value.
    pub fn increment(
        &mut self,
        key: &[u8],
        delta: u64,
        initial: u64,
        expiration: u32,
    ) -> Result<u64, Status> {
        self.delta(opcode::INCREMENT, key, delta, initial, expiration)
    }

    pub fn decrement(
        &mut self,
        key: &[u8],
        delta: u64,
        initial: u64,
        expiration: u32,
    ) -> Result<u64, Status> {
        self.delta(opcode::DECREMENT, key, delta, initial, expiration)
    }

    fn delta(
        &mut self,
        op: u8,
        key: &[u8],
        delta: u64,
        initial: u64,
        expiration: u32,
    ) -> Result<u64, Status> {
        self.single_ok(Request {
            extras: extras::delta(delta, initial, expiration).to_vec(),
            ..Request::keyed(op, key)
        })
        .map(|r| r.delta_value)
    }

    /// Fetches many keys with one batch of quiet gets per server; misses are simply absent.
    pub fn get_multi(&mut self, keys: &[&[u8]]) -> Result<Vec<(Vec<u8>, Item)>, Status> {
        let mut reqs: Vec<Request> = keys
            .iter()
            .map(|k| Request::keyed(opcode::GETKQ, k))
            .collect();
        let (status, responses) = self.execute(&mut reqs, Wait::Forever);
        if status != Status::Ok {
            return Err(status);
        }
        Ok(responses
            .into_iter()
            .filter(|(_, r)| r.status == Status::Ok)
            .map(|(i, r)| {
                (
                    keys[i].to_vec(),
                    Item {
                        value: r.data,
                        flags: r.flags,
                        cas: r.cas,
                    },
                )
            })
            .collect())
    }

    pub fn noop(&mut self, server_index: usize) -> Result<(), Status> {
        let req = Request {
            server: Some(server_index),
            opcode: opcode::NOOP,
            ..Default::default()
        };
        self.single_ok(req).map(|_| ())
    }

    pub fn flush_all(&mut self, server_index: usize) -> Result<(), Status> {
        let req = Request {
            server: Some(server_index),
            opcode: opcode::FLUSH,
            extras: extras::expiration(0).to_vec(),
            ..Default::default()
        };
        self.single_ok(req).map(|_| ())
    }

    /// The statistics of one server (`group` None for the general ones).
    pub fn stats(
        &mut self,
        server_index: usize,
        group: Option<&str>,
    ) -> Result<Vec<(String, String)>, Status> {
        let mut reqs = [Request {
            server: Some(server_index),
            opcode: opcode::STAT,
            key: group.unwrap_or("").as_bytes().to_vec(),
            ..Default::default()
        }];
        let (status, responses) = self.execute(&mut reqs, Wait::Forever);
        if status != Status::Ok {
            return Err(status);
        }
        if let Some((_, r)) = responses.iter().find(|(_, r)| r.status != Status::Ok) {
            return Err(r.status);
        }
        Ok(responses
            .into_iter()
            .filter(|(_, r)| !r.key.is_empty())
            .map(|(_, r)| {
                (
                    String::from_utf8_lossy(&r.key).into_owned(),
                    String::from_utf8_lossy(&r.data).into_owned(),
                )
            })
            .collect())
    }

    /// Sends everything buffered and waits for outstanding answers.
    pub fn flush_buffers(&mut self, wait: impl Into<Wait>) -> Status {
        match self.io(None, &mut super::Discard, wait) {
            super::IoOutcome::Done => Status::Ok,
            super::IoOutcome::Again | super::IoOutcome::Paused => Status::Again,
        }
    }

    /// Sends everything buffered; the answers are left to later calls (see `send_queued`).
    /// A server that failed meanwhile (its buffered requests lost) makes it a failure.
    pub fn write_buffers(&mut self, wait: impl Into<Wait>) -> Status {
        match self.send_queued(&mut super::Discard, wait) {
            (_, Some(failure)) => Status::Failed(failure),
            (super::IoOutcome::Done, None) => Status::Ok,
            (super::IoOutcome::Again | super::IoOutcome::Paused, None) => Status::Again,
        }
    }
}
