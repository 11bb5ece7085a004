//! `memcached_pool_st`: up to `max` clones of a master handle, handed out one caller at a
//! time. As libmemcachedutil 1.1.4: clones are made on demand up to `max`; an empty pool at
//! its maximum answers NOTFOUND at once (non-blocking pop, `fetch` without a time or with a
//! zero one) or waits (a blocking pop waits 5 s, `fetch` the caller's time) and then answers
//! TIMEOUT; a behavior set on the pool is set on the master and on every idle clone and bumps
//! the master's `configure.version`, and a handle given back with an older version is
//! replaced by a fresh clone of the master.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::ffi::{self, Memc, Rc};

/// How long a blocking `memcached_pool_pop` waits for a handle (libmemcachedutil's fixed 5 s).
pub const POP_WAIT: Duration = Duration::from_secs(5);

struct State {
    master: Memc,
    /// Idle handles; the last one is handed out first (libmemcachedutil's stack).
    idle: Vec<Memc>,
    /// Handles made so far (idle or out).
    made: u32,
}

pub struct Pool {
    state: Mutex<State>,
    returned: Condvar,
    max: u32,
    owns_master: bool,
}

impl Pool {
    /// A pool over `master` with `initial` clones made now (fewer if cloning fails); Err gives
    /// the master back for sizes libmemcachedutil refuses (0, or initial > max).
    pub fn new(master: Memc, initial: u32, max: u32, owns_master: bool) -> Result<Pool, Memc> {
        if initial == 0 || max == 0 || initial > max {
            return Err(master);
        }
        let pool = Pool {
            state: Mutex::new(State {
                master,
                idle: Vec::with_capacity(max as usize),
                made: 0,
            }),
            returned: Condvar::new(),
            max,
            owns_master,
        };
        {
            let mut st = pool.lock();
            for _ in 0..initial {
                if !grow(&mut st) {
                    break;
                }
            }
        }
        Ok(pool)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while locked cannot leave the handle lists inconsistent (each change is one
        // push or pop), so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A handle, waiting up to `wait` (None or zero: not at all) when all are out.
    pub fn fetch(&self, wait: Option<Duration>) -> Result<Memc, Rc> {
        let deadline = wait.filter(|w| !w.is_zero()).map(|w| Instant::now() + w);
        let mut st = self.lock();
        loop {
            if let Some(m) = st.idle.pop() {
                return Ok(m);
            }
            if st.made < self.max {
                if !grow(&mut st) {
                    return Err(ffi::MEMORY_ALLOCATION_FAILURE);
                }
                continue;
            }
            let Some(deadline) = deadline else {
                return Err(ffi::NOTFOUND);
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(ffi::TIMEOUT);
            }
            st = self
                .returned
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Takes a handle back; one made before the last behavior change is replaced by a new
    /// clone of the master (kept as it is if cloning fails).
    pub fn release(&self, memc: Memc) -> Rc {
        let mut st = self.lock();
        let memc = if memc.configure_version() != st.master.configure_version() {
            match st.master.clone_handle() {
                Some(fresh) => {
                    fresh.set_configure_version(st.master.configure_version());
                    memc.free();
                    fresh
                }
                None => memc,
            }
        } else {
            memc
        };
        st.idle.push(memc);
        drop(st);
        self.returned.notify_one();
        ffi::SUCCESS
    }

    /// Sets a behavior on the master and every idle handle (an idle handle that refuses it
    /// is replaced by a new clone), and bumps the version so handles out get replaced when
    /// they come back. The master's answer when it refuses: nothing changes then.
    pub fn behavior_set(&self, flag: i32, data: u64) -> Rc {
        let mut st = self.lock();
        let rc = st.master.behavior_set(flag, data);
        if !ffi::success(rc) {
            return rc;
        }
        let version = st.master.configure_version().wrapping_add(1);
        st.master.set_configure_version(version);
        let State { master, idle, .. } = &mut *st;
        for slot in idle.iter_mut() {
            if ffi::success(slot.behavior_set(flag, data)) {
                slot.set_configure_version(version);
            } else if let Some(fresh) = master.clone_handle() {
                fresh.set_configure_version(version);
                std::mem::replace(slot, fresh).free();
            }
        }
        rc
    }

    pub fn behavior_get(&self, flag: i32) -> u64 {
        self.lock().master.behavior_get(flag)
    }

    /// Frees the idle handles (handles still out stay the caller's) and the master when the
    /// pool made it (`memcached_pool()`); otherwise gives the master back.
    pub fn destroy(self) -> Option<Memc> {
        let owns_master = self.owns_master;
        let st = self.state.into_inner().unwrap_or_else(|e| e.into_inner());
        for m in st.idle {
            m.free();
        }
        if owns_master {
            st.master.free();
            None
        } else {
            Some(st.master)
        }
    }
}

/// One more clone of the master, idle; false when cloning fails.
fn grow(st: &mut State) -> bool {
    match st.master.clone_handle() {
        Some(m) => {
            m.set_configure_version(st.master.configure_version());
            st.idle.push(m);
            st.made += 1;
            true
        }
        None => false,
    }
}
