//! libhashkit 1.1.4's C API (`libhashkit.so.2`, 33 functions): the key-hash algorithms of
//! `crate::hash` (the engine's, not a second copy), `hashkit_st` objects with libhashkit's
//! layout (48 bytes; one is embedded in every `memcached_st` at offset 8), and AES value
//! encryption with `memcached_set_encoding_key`'s algorithm (`encoding::EncodingKey`).
//!
//! A `hashkit_st` names its algorithm by a function pointer, and libhashkit tells algorithms
//! apart by comparing pointers (`hashkit_get_function`, `hashkit_compare`). libmemcached.so.11
//! is linked from the same archive as libhashkit.so.2 and so has its own copies of the
//! built-in functions; to hand out the same pointers as the library that `hashkit_*` calls go
//! to, both use the built-ins of the process's libhashkit.so.2 when one is loaded (our
//! libmemcached.so.11 needs it, as Debian's does), and recognise their own copies as well.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use crate::ffi::common::{c_bytes, guard};
use crate::ffi::libmemcached::encoding::EncodingKey;
use crate::hash::{self, HashAlgorithm};

/// `hashkit_hash_fn`: `uint32_t (*)(const char *key, size_t key_length, void *context)`.
pub type hashkit_hash_fn = unsafe extern "C" fn(*const c_char, usize, *mut c_void) -> u32;

/// `hashkit_return_t`.
pub type hashkit_return_t = c_int;
pub const HASHKIT_SUCCESS: hashkit_return_t = 0;
pub const HASHKIT_FAILURE: hashkit_return_t = 1;
pub const HASHKIT_MEMORY_ALLOCATION_FAILURE: hashkit_return_t = 2;
pub const HASHKIT_INVALID_HASH: hashkit_return_t = 3;
pub const HASHKIT_INVALID_ARGUMENT: hashkit_return_t = 4;

/// `hashkit_hash_algorithm_t` values beyond `HashAlgorithm`'s.
pub const HASHKIT_HASH_CUSTOM: u32 = 11;
pub const HASHKIT_HASH_MAX: u32 = 12;

/// One slot of a `hashkit_st`: the function and the context it is called with.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct hashkit_function_st {
    pub function: Option<hashkit_hash_fn>,
    pub context: *mut c_void,
}

/// `hashkit_st` (48 bytes on x86-64): base_hash @0 (the key hash), distribution_hash @16,
/// flags @32 (bit 0 is_base_same_distributed), options @33 (bit 0 is_allocated), _key @40.
#[repr(C)]
pub struct hashkit_st {
    pub base_hash: hashkit_function_st,
    pub distribution_hash: hashkit_function_st,
    pub flags: u8,
    pub options: u8,
    _pad: [u8; 6],
    /// libhashkit's `_key`: here a leaked `Box<EncodingKey>` set by `hashkit_key`, or NULL.
    pub key: *mut c_void,
}

/// A hash function with its context, as a `hashkit_st` slot holds it, kept by the
/// libmemcached face for a custom key hash (`memcached_set_hashkit`). The context is kept as
/// an address so settings stay `Send`; it is only ever handed back to the caller's function.
#[derive(Clone, Copy, Debug)]
pub struct HashFunction {
    pub function: hashkit_hash_fn,
    pub context: usize,
}

/// Equal when both are the same function with the same context (libhashkit compares kits by
/// these pointers too).
impl PartialEq for HashFunction {
    fn eq(&self, other: &Self) -> bool {
        self.function as usize == other.function as usize && self.context == other.context
    }
}

impl Eq for HashFunction {}

impl HashFunction {
    /// Calls the caller's function on `key`.
    pub fn call(&self, key: &[u8]) -> u32 {
        // An empty key still gets a valid pointer (libmemcached never passes NULL).
        let ptr = if key.is_empty() {
            c"".as_ptr().cast()
        } else {
            key.as_ptr()
        };
        // SAFETY: the function was given to hashkit_set_custom_function / memcached_set_hashkit
        // with this context, under the C API's contract that it can be called with any key.
        unsafe { (self.function)(ptr.cast(), key.len(), self.context as *mut c_void) }
    }
}

/// The built-in algorithms with a function (all but HSIEH, which Debian's build lacks, and
/// CUSTOM), indexed by `hashkit_hash_algorithm_t`.
const ALGORITHMS: usize = 11;

macro_rules! builtin {
    ($name:ident, $f:path) => {
        unsafe extern "C" fn $name(key: *const c_char, len: usize, _context: *mut c_void) -> u32 {
            guard(0, || {
                // SAFETY: libhashkit's contract: key valid for len bytes.
                $f(unsafe { c_bytes(key.cast(), len) })
            })
        }
    };
}

macro_rules! public_hash {
    ($name:ident, $f:path) => {
        #[no_mangle]
        pub extern "C" fn $name(key: *const c_char, len: usize) -> u32 {
            guard(0, || {
                // SAFETY: the C API's contract: key valid for len bytes.
                $f(unsafe { c_bytes(key.cast(), len) })
            })
        }
    };
}

// Each algorithm twice: the `hashkit_st` slot function (with a context) and the exported
// `libhashkit_*` function, from one list.
macro_rules! hash_functions {
    ($($builtin:ident, $public:ident, $f:path;)*) => {
        $(
            builtin!($builtin, $f);
            public_hash!($public, $f);
        )*
    };
}

hash_functions! {
    builtin_one_at_a_time, libhashkit_one_at_a_time, hash::one_at_a_time;
    builtin_md5, libhashkit_md5, hash::md5_le32;
    builtin_crc, libhashkit_crc32, hash::crc32_libmemcached;
    builtin_fnv1_64, libhashkit_fnv1_64, hash::fnv1_64;
    builtin_fnv1a_64, libhashkit_fnv1a_64, hash::fnv1a_64;
    builtin_fnv1_32, libhashkit_fnv1_32, hash::fnv1_32;
    builtin_fnv1a_32, libhashkit_fnv1a_32, hash::fnv1a_32;
    builtin_murmur, libhashkit_murmur, hash::murmur;
    builtin_jenkins, libhashkit_jenkins, hash::jenkins;
    builtin_murmur3, libhashkit_murmur3, hash::murmur3;
}

/// This copy's built-ins.
fn local_builtins() -> [Option<hashkit_hash_fn>; ALGORITHMS] {
    [
        Some(builtin_one_at_a_time),
        Some(builtin_md5),
        Some(builtin_crc),
        Some(builtin_fnv1_64),
        Some(builtin_fnv1a_64),
        Some(builtin_fnv1_32),
        Some(builtin_fnv1a_32),
        None,
        Some(builtin_murmur),
        Some(builtin_jenkins),
        Some(builtin_murmur3),
    ]
}

/// The built-ins every `hashkit_st` this copy fills gets: those of the process's
/// libhashkit.so.2 when it is loaded and is not this copy, else our own.
fn builtins() -> &'static [Option<hashkit_hash_fn>; ALGORITHMS] {
    static TABLE: OnceLock<[Option<hashkit_hash_fn>; ALGORITHMS]> = OnceLock::new();
    TABLE.get_or_init(|| loaded_libhashkit_builtins().unwrap_or_else(local_builtins))
}

/// The built-in function pointers of an already loaded libhashkit.so.2 other than this copy
/// (ours or Debian's: the ABI is the same), read back from a kit it filled with
/// `hashkit_set_function`.
fn loaded_libhashkit_builtins() -> Option<[Option<hashkit_hash_fn>; ALGORITHMS]> {
    type SetFn = unsafe extern "C" fn(*mut hashkit_st, c_int) -> hashkit_return_t;
    // SAFETY: dlopen with RTLD_NOLOAD only looks up an object already loaded (it loads
    // nothing and runs no constructor); the name is a NUL-terminated literal.
    let lib = unsafe {
        libc::dlopen(
            c"libhashkit.so.2".as_ptr(),
            libc::RTLD_LAZY | libc::RTLD_NOLOAD,
        )
    };
    if lib.is_null() {
        return None;
    }
    // SAFETY: `lib` is a live handle from dlopen; the name is a NUL-terminated literal.
    let set = unsafe { libc::dlsym(lib, c"hashkit_set_function".as_ptr()) };
    let ours = hashkit_set_function as SetFn as *mut c_void;
    let table = (!set.is_null() && set != ours).then(|| {
        // SAFETY: libhashkit.so.2 exports hashkit_set_function with this C signature.
        let set: SetFn = unsafe { std::mem::transmute::<*mut c_void, SetFn>(set) };
        let mut table = [None; ALGORITHMS];
        for (algorithm, slot) in table.iter_mut().enumerate() {
            let mut kit = hashkit_st::zeroed();
            // SAFETY: `kit` is a valid hashkit_st; the call writes only its base slot.
            if unsafe { set(&mut kit, algorithm as c_int) } == HASHKIT_SUCCESS {
                *slot = kit.base_hash.function;
            }
        }
        table
    });
    // SAFETY: balances the dlopen above (the library stays loaded: something else needs it).
    unsafe { libc::dlclose(lib) };
    table
}

/// The `hashkit_hash_algorithm_t` a function pointer stands for: a built-in of the process's
/// libhashkit or of this copy, else CUSTOM (also for NULL, as libhashkit answers).
pub fn algorithm_of(function: Option<hashkit_hash_fn>) -> u32 {
    let Some(f) = function else {
        return HASHKIT_HASH_CUSTOM;
    };
    let same = |g: &Option<hashkit_hash_fn>| g.is_some_and(|g| g as usize == f as usize);
    builtins()
        .iter()
        .position(same)
        .or_else(|| local_builtins().iter().position(same))
        .map_or(HASHKIT_HASH_CUSTOM, |i| i as u32)
}

/// The function for a built-in algorithm (None for HSIEH, CUSTOM and beyond).
pub fn builtin(algorithm: u32) -> Option<hashkit_hash_fn> {
    builtins().get(algorithm as usize).copied().flatten()
}

impl hashkit_st {
    fn zeroed() -> hashkit_st {
        hashkit_st {
            base_hash: hashkit_function_st {
                function: None,
                context: std::ptr::null_mut(),
            },
            distribution_hash: hashkit_function_st {
                function: None,
                context: std::ptr::null_mut(),
            },
            flags: 0,
            options: 0,
            _pad: [0; 6],
            key: std::ptr::null_mut(),
        }
    }

    /// What `hashkit_create` leaves in a kit: both slots one-at-a-time, base same as
    /// distribution, no key, not allocated.
    pub fn initial() -> hashkit_st {
        let default = hashkit_function_st {
            function: builtin(HashAlgorithm::Default as u32),
            context: std::ptr::null_mut(),
        };
        hashkit_st {
            base_hash: default,
            distribution_hash: default,
            flags: 1,
            ..hashkit_st::zeroed()
        }
    }

    /// Points the two slots at the built-ins of `base` and `distribution` (libmemcached's
    /// HASH and KETAMA_HASH); a CUSTOM one takes `custom`'s function.
    pub fn set_algorithms(
        &mut self,
        base: (u32, Option<HashFunction>),
        distribution: (u32, Option<HashFunction>),
    ) {
        fn set(slot: &mut hashkit_function_st, (algorithm, custom): (u32, Option<HashFunction>)) {
            if algorithm == HASHKIT_HASH_CUSTOM {
                if let Some(c) = custom {
                    slot.function = Some(c.function);
                    slot.context = c.context as *mut c_void;
                }
            } else if let Some(f) = builtin(algorithm) {
                if algorithm_of(slot.function) != algorithm || !slot.context.is_null() {
                    slot.function = Some(f);
                    slot.context = std::ptr::null_mut();
                }
            }
        }
        set(&mut self.base_hash, base);
        set(&mut self.distribution_hash, distribution);
    }
}

/// A slot as the libmemcached face keeps it: (algorithm, the function when CUSTOM).
pub fn slot_algorithm(slot: &hashkit_function_st) -> (u32, Option<HashFunction>) {
    let algorithm = algorithm_of(slot.function);
    let custom = slot
        .function
        .filter(|_| algorithm == HASHKIT_HASH_CUSTOM)
        .map(|function| HashFunction {
            function,
            context: slot.context as usize,
        });
    (algorithm, custom)
}

/// `hashkit_string_st`: the bytes with a NUL after them (libhashkit's strings are
/// NUL-terminated), and their length.
pub struct hashkit_string_st {
    bytes: Vec<u8>,
}

fn new_string(mut bytes: Vec<u8>) -> *mut hashkit_string_st {
    bytes.push(0);
    Box::into_raw(Box::new(hashkit_string_st { bytes }))
}

/// The kit's encryption key, if `hashkit_key` gave it one.
///
/// # Safety
/// `kit` must be NULL or point to a `hashkit_st` whose key is NULL or one of ours.
unsafe fn kit_key<'a>(kit: *const hashkit_st) -> Option<&'a EncodingKey> {
    // SAFETY: guaranteed by the caller.
    let key = unsafe { kit.as_ref()? }.key;
    // SAFETY: a non-NULL key was set by hashkit_key / hashkit_clone from Box::into_raw and
    // lives until hashkit_free.
    unsafe { key.cast::<EncodingKey>().as_ref() }
}

/// Where `hashkit_create` / `hashkit_clone` build a kit: the caller's memory, or calloc'd
/// memory of our own marked allocated (freed by `hashkit_free`).
fn kit_memory(kit: *mut hashkit_st) -> *mut hashkit_st {
    if kit.is_null() {
        // SAFETY: plain calloc of one hashkit_st; checked for NULL by the callers.
        let new =
            unsafe { libc::calloc(1, std::mem::size_of::<hashkit_st>()) }.cast::<hashkit_st>();
        // SAFETY: NULL or the zeroed hashkit_st just allocated.
        if let Some(k) = unsafe { new.as_mut() } {
            k.options |= 1;
        }
        new
    } else {
        // SAFETY: the caller's hashkit_st (the C API's contract); only the is_allocated bit is
        // changed, as libhashkit's bit-field store does.
        unsafe { (*kit).options &= !1 };
        kit
    }
}

#[no_mangle]
pub extern "C" fn hashkit_create(kit: *mut hashkit_st) -> *mut hashkit_st {
    guard(std::ptr::null_mut(), || {
        let kit = kit_memory(kit);
        // SAFETY: `kit` is NULL or a hashkit_st (kit_memory's result).
        if let Some(k) = unsafe { kit.as_mut() } {
            let fresh = hashkit_st::initial();
            k.base_hash = fresh.base_hash;
            k.distribution_hash = fresh.distribution_hash;
            k.flags |= 1;
            k.key = std::ptr::null_mut();
        }
        kit
    })
}

/// A copy of `source`'s functions, flags and key in `destination` (NULL: a new kit). A key
/// `destination` already had is not freed: it may be caller memory never initialised (where
/// libhashkit would free whatever pointer it finds).
#[no_mangle]
pub extern "C" fn hashkit_clone(
    destination: *mut hashkit_st,
    source: *const hashkit_st,
) -> *mut hashkit_st {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        let Some(src) = (unsafe { source.as_ref() }) else {
            return hashkit_create(destination);
        };
        let (base, distribution, flags) = (src.base_hash, src.distribution_hash, src.flags);
        // SAFETY: as above; the source's key is ours or NULL.
        let key = unsafe { kit_key(source) }.cloned();
        let kit = kit_memory(destination);
        // SAFETY: `kit` is NULL or a hashkit_st (kit_memory's result).
        if let Some(k) = unsafe { kit.as_mut() } {
            k.base_hash = base;
            k.distribution_hash = distribution;
            k.flags = (k.flags & !1) | (flags & 1);
            k.key = key.map_or(std::ptr::null_mut(), |key| {
                Box::into_raw(Box::new(key)).cast()
            });
        }
        kit
    })
}

/// Whether both kits have the same functions with the same contexts (false for a NULL).
#[no_mangle]
pub extern "C" fn hashkit_compare(first: *const hashkit_st, second: *const hashkit_st) -> bool {
    guard(false, || {
        // SAFETY: NULL or hashkit_sts (the C API's contract).
        let (Some(a), Some(b)) = (unsafe { first.as_ref() }, unsafe { second.as_ref() }) else {
            return false;
        };
        let same = |x: &hashkit_function_st, y: &hashkit_function_st| {
            x.function.map(|f| f as usize) == y.function.map(|f| f as usize)
                && x.context == y.context
        };
        same(&a.base_hash, &b.base_hash)
            && same(&a.distribution_hash, &b.distribution_hash)
            && (a.flags & 1) == (b.flags & 1)
    })
}

/// Frees the kit's key, and the kit when `hashkit_create`/`hashkit_clone` allocated it.
#[no_mangle]
pub extern "C" fn hashkit_free(kit: *mut hashkit_st) {
    guard((), || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        let Some(k) = (unsafe { kit.as_mut() }) else {
            return;
        };
        let key = std::mem::replace(&mut k.key, std::ptr::null_mut());
        if !key.is_null() {
            // SAFETY: set from Box::into_raw by hashkit_key / hashkit_clone, released once.
            drop(unsafe { Box::from_raw(key.cast::<EncodingKey>()) });
        }
        if k.options & 1 != 0 {
            // SAFETY: allocated with calloc by kit_memory.
            unsafe { libc::free(kit.cast()) };
        }
    })
}

/// The kit's key hash of `key` (0 for a NULL kit or function, where libhashkit crashes).
#[no_mangle]
pub extern "C" fn hashkit_digest(kit: *const hashkit_st, key: *const c_char, len: usize) -> u32 {
    guard(0, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        let Some(slot) = (unsafe { kit.as_ref() }).map(|k| k.base_hash) else {
            return 0;
        };
        match slot.function {
            // SAFETY: the kit's function, called as libhashkit calls it.
            Some(f) => unsafe { f(key, len, slot.context) },
            None => 0,
        }
    })
}

/// `libhashkit_digest(key, length, algorithm)`: 1 for HSIEH (not compiled in Debian's
/// build), CUSTOM and anything beyond.
#[no_mangle]
pub extern "C" fn libhashkit_digest(key: *const c_char, len: usize, algorithm: c_int) -> u32 {
    guard(1, || {
        // SAFETY: the C API's contract: key valid for len bytes.
        let key = unsafe { c_bytes(key.cast(), len) };
        u32::try_from(algorithm)
            .ok()
            .and_then(HashAlgorithm::from_c)
            .and_then(|h| h.hash(key))
            .unwrap_or(1)
    })
}

/// Sets one slot to a built-in, with libhashkit's answers: HSIEH and CUSTOM refused
/// (INVALID_ARGUMENT, slot unchanged), MAX resets to one-at-a-time and answers INVALID_HASH,
/// a value beyond MAX succeeds without changing the function.
fn set_slot(slot: Option<&mut hashkit_function_st>, algorithm: c_int) -> hashkit_return_t {
    let Some(slot) = slot else {
        return HASHKIT_INVALID_ARGUMENT;
    };
    let algorithm = algorithm as u32;
    let rc = match algorithm {
        7 | HASHKIT_HASH_CUSTOM => return HASHKIT_INVALID_ARGUMENT,
        HASHKIT_HASH_MAX => {
            slot.function = builtin(0);
            HASHKIT_INVALID_HASH
        }
        a => {
            if let Some(f) = builtin(a) {
                slot.function = Some(f);
            }
            HASHKIT_SUCCESS
        }
    };
    if rc == HASHKIT_SUCCESS {
        slot.context = std::ptr::null_mut();
    }
    rc
}

#[no_mangle]
pub extern "C" fn hashkit_set_function(kit: *mut hashkit_st, algorithm: c_int) -> hashkit_return_t {
    guard(HASHKIT_FAILURE, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        set_slot(unsafe { kit.as_mut() }.map(|k| &mut k.base_hash), algorithm)
    })
}

#[no_mangle]
pub extern "C" fn hashkit_set_distribution_function(
    kit: *mut hashkit_st,
    algorithm: c_int,
) -> hashkit_return_t {
    guard(HASHKIT_FAILURE, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        set_slot(
            unsafe { kit.as_mut() }.map(|k| &mut k.distribution_hash),
            algorithm,
        )
    })
}

/// A caller's function for one slot: FAILURE for a NULL function (slot unchanged).
fn set_custom_slot(
    slot: Option<&mut hashkit_function_st>,
    function: Option<hashkit_hash_fn>,
    context: *mut c_void,
) -> hashkit_return_t {
    let Some(slot) = slot else {
        return HASHKIT_INVALID_ARGUMENT;
    };
    match function {
        Some(f) => {
            slot.function = Some(f);
            slot.context = context;
            HASHKIT_SUCCESS
        }
        None => HASHKIT_FAILURE,
    }
}

#[no_mangle]
pub extern "C" fn hashkit_set_custom_function(
    kit: *mut hashkit_st,
    function: Option<hashkit_hash_fn>,
    context: *mut c_void,
) -> hashkit_return_t {
    guard(HASHKIT_FAILURE, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        set_custom_slot(
            unsafe { kit.as_mut() }.map(|k| &mut k.base_hash),
            function,
            context,
        )
    })
}

#[no_mangle]
pub extern "C" fn hashkit_set_custom_distribution_function(
    kit: *mut hashkit_st,
    function: Option<hashkit_hash_fn>,
    context: *mut c_void,
) -> hashkit_return_t {
    guard(HASHKIT_FAILURE, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        let slot = unsafe { kit.as_mut() }.map(|k| &mut k.distribution_hash);
        set_custom_slot(slot, function, context)
    })
}

/// The base slot's algorithm (DEFAULT for a NULL kit, CUSTOM for a caller's function).
#[no_mangle]
pub extern "C" fn hashkit_get_function(kit: *const hashkit_st) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        unsafe { kit.as_ref() }.map_or(0, |k| algorithm_of(k.base_hash.function) as c_int)
    })
}

#[no_mangle]
pub extern "C" fn hashkit_get_distribution_function(kit: *const hashkit_st) -> c_int {
    guard(0, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        unsafe { kit.as_ref() }.map_or(0, |k| algorithm_of(k.distribution_hash.function) as c_int)
    })
}

/// Gives the kit an AES key (`memcached_set_encoding_key`'s algorithm). false for a key
/// shorter than 32 bytes, where libhashkit reads past the caller's buffer.
#[no_mangle]
pub extern "C" fn hashkit_key(kit: *mut hashkit_st, key: *const c_char, len: usize) -> bool {
    guard(false, || {
        // SAFETY: NULL or a hashkit_st (the C API's contract).
        let Some(k) = (unsafe { kit.as_mut() }) else {
            return false;
        };
        // SAFETY: the C API's contract: key valid for len bytes.
        let Some(new) = EncodingKey::new(unsafe { c_bytes(key.cast(), len) }) else {
            return false;
        };
        let old = std::mem::replace(&mut k.key, Box::into_raw(Box::new(new)).cast());
        if !old.is_null() {
            // SAFETY: a key of ours (Box::into_raw), replaced and released once.
            drop(unsafe { Box::from_raw(old.cast::<EncodingKey>()) });
        }
        true
    })
}

/// The encrypted bytes (AES-256-CBC, PKCS#7) in a new string; NULL without a key.
#[no_mangle]
pub extern "C" fn hashkit_encrypt(
    kit: *mut hashkit_st,
    source: *const c_char,
    len: usize,
) -> *mut hashkit_string_st {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a hashkit_st whose key is ours (the C API's contract).
        let Some(key) = (unsafe { kit_key(kit) }) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the C API's contract: source valid for len bytes.
        new_string(key.encrypt(unsafe { c_bytes(source.cast(), len) }))
    })
}

/// The decrypted bytes in a new string; NULL without a key or for data that does not decrypt.
#[no_mangle]
pub extern "C" fn hashkit_decrypt(
    kit: *mut hashkit_st,
    source: *const c_char,
    len: usize,
) -> *mut hashkit_string_st {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL or a hashkit_st whose key is ours (the C API's contract).
        let Some(key) = (unsafe { kit_key(kit) }) else {
            return std::ptr::null_mut();
        };
        // SAFETY: the C API's contract: source valid for len bytes.
        key.decrypt(unsafe { c_bytes(source.cast(), len) })
            .map_or(std::ptr::null_mut(), new_string)
    })
}

#[no_mangle]
pub extern "C" fn hashkit_string_free(string: *mut hashkit_string_st) {
    guard((), || {
        if !string.is_null() {
            // SAFETY: made by new_string (Box::into_raw), freed once (the C API's contract).
            drop(unsafe { Box::from_raw(string) });
        }
    })
}

/// The string's length (0 for NULL, where libhashkit crashes).
#[no_mangle]
pub extern "C" fn hashkit_string_length(string: *const hashkit_string_st) -> usize {
    guard(0, || {
        // SAFETY: NULL or a string of ours (the C API's contract).
        unsafe { string.as_ref() }.map_or(0, |s| s.bytes.len() - 1)
    })
}

/// The string's bytes, NUL-terminated; NULL for an empty string (as libhashkit, which
/// allocates nothing for one) and for NULL.
#[no_mangle]
pub extern "C" fn hashkit_string_c_str(string: *const hashkit_string_st) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: NULL or a string of ours (the C API's contract).
        match unsafe { string.as_ref() } {
            Some(s) if s.bytes.len() > 1 => s.bytes.as_ptr().cast(),
            _ => std::ptr::null(),
        }
    })
}

#[no_mangle]
pub extern "C" fn hashkit_strerror(_kit: *mut hashkit_st, rc: c_int) -> *const c_char {
    let text: &'static std::ffi::CStr = match rc {
        HASHKIT_SUCCESS => c"SUCCESS",
        HASHKIT_FAILURE => c"FAILURE",
        HASHKIT_MEMORY_ALLOCATION_FAILURE => c"MEMORY ALLOCATION FAILURE",
        HASHKIT_INVALID_ARGUMENT => c"INVALID ARGUMENT",
        HASHKIT_INVALID_HASH => c"INVALID hashkit_hash_algorithm_t",
        _ => c"INVALID hashkit_return_t",
    };
    text.as_ptr()
}

/// An algorithm's name, "INVALID" beyond CUSTOM (libhashkit's and libmemcached's
/// `*_string_hash`; the tools match `--hash NAME` against them).
pub(crate) fn algorithm_name(algorithm: c_int) -> &'static std::ffi::CStr {
    match algorithm {
        0 => c"DEFAULT",
        1 => c"MD5",
        2 => c"CRC",
        3 => c"FNV1_64",
        4 => c"FNV1A_64",
        5 => c"FNV1_32",
        6 => c"FNV1A_32",
        7 => c"HSIEH",
        8 => c"MURMUR",
        9 => c"JENKINS",
        10 => c"MURMUR3",
        11 => c"CUSTOM",
        _ => c"INVALID",
    }
}

/// `libhashkit_string_hash`: the algorithm's name, "INVALID" beyond CUSTOM.
#[no_mangle]
pub extern "C" fn libhashkit_string_hash(algorithm: c_int) -> *const c_char {
    algorithm_name(algorithm).as_ptr()
}

/// As Debian's build: every algorithm but HSIEH, and CUSTOM.
#[no_mangle]
pub extern "C" fn libhashkit_has_algorithm(algorithm: c_int) -> bool {
    match u32::try_from(algorithm) {
        Ok(HASHKIT_HASH_CUSTOM) => true,
        Ok(a) => HashAlgorithm::from_c(a).is_some_and(HashAlgorithm::is_available),
        Err(_) => false,
    }
}

/// HSIEH is not compiled into Debian's libhashkit, whose stub answers 0.
#[no_mangle]
pub extern "C" fn libhashkit_hsieh(_key: *const c_char, _len: usize) -> u32 {
    0
}

/// The 16-byte MD5 digest of `key` into `result`.
#[no_mangle]
pub extern "C" fn libhashkit_md5_signature(key: *const u8, len: usize, result: *mut u8) {
    guard((), || {
        if result.is_null() {
            return;
        }
        // SAFETY: the C API's contract: key valid for len bytes.
        let digest = hash::md5_digest(unsafe { c_bytes(key, len) });
        // SAFETY: the C API's contract: result has room for 16 bytes.
        unsafe { std::ptr::copy_nonoverlapping(digest.as_ptr(), result, digest.len()) };
    })
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout_matches_libhashkit() {
        assert_eq!(size_of::<hashkit_st>(), 48);
        assert_eq!(offset_of!(hashkit_st, distribution_hash), 16);
        assert_eq!(offset_of!(hashkit_st, flags), 32);
        assert_eq!(offset_of!(hashkit_st, options), 33);
        assert_eq!(offset_of!(hashkit_st, key), 40);
    }

    #[test]
    fn builtins_are_recognised_and_hash_as_the_engine() {
        for a in 0..11u32 {
            let Some(f) = builtin(a) else {
                assert_eq!(a, 7);
                continue;
            };
            assert_eq!(algorithm_of(Some(f)), a);
            let h = HashFunction {
                function: f,
                context: 0,
            };
            let want = HashAlgorithm::from_c(a).unwrap().hash(b"hello").unwrap();
            assert_eq!(h.call(b"hello"), want);
        }
        assert_eq!(algorithm_of(None), HASHKIT_HASH_CUSTOM);
    }
}
