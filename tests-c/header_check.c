/*
 * header_check.c - fails to compile when the Rust FFI (src/ffi/omcache/)
 * drifts from the public, hand-written headers (include/omcache.h).
 *
 * Built by tests-c/header-check.sh (make check-header) with
 * -Wall -Wextra -Werror, after cbindgen has produced, in build/:
 *
 *   omcache_generated.h             every item cbindgen finds in
 *                                   src/ffi/omcache/ (the artifact)
 *   omcache_generated_prototypes.h  only its functions and statics, with
 *                                   the type names left as they are
 *   omcache_generated_renamed.h     omcache_generated.h with every omcache_/
 *                                   omc_/OMCACHE_ identifier prefixed gen_/GEN_
 *
 * Three checks:
 *  1. The prototypes header is included after omcache.h, so each Rust
 *     function and static is a redeclaration of the public one; C rejects
 *     any redeclaration whose type is not compatible (a different parameter
 *     or return type, a missing or extra const on a pointed-to type, a
 *     different parameter count).
 *  2. The renamed header gives the Rust structs under gen_ names; every
 *     field's offset, size and (where it holds no struct) type is compared
 *     with the public struct's, and all sizes and offsets are also compared
 *     with the numbers OMcache 0.3 had on x86-64.
 *  3. Every public function and data object must be declared by the Rust
 *     side (referenced below under its gen_ name).  The script also compares
 *     the lists of names and struct fields textually, which catches extra
 *     exports and fields hidden in padding.
 */

#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include "omcache.h"

/* The Rust side may name the structs by their C tags; make those names
 * resolve to the public types (without adding const, so a Rust
 * *mut omcache_dist_s where OMcache has a const pointer still conflicts). */
typedef struct omcache_req_header_s omcache_req_header_s;
typedef struct omcache_req_s omcache_req_s;
typedef struct omcache_value_s omcache_value_s;
typedef struct omcache_server_info_s omcache_server_info_s;
typedef struct omcache_dist_s omcache_dist_s;

/* 1. Redeclarations. */
#include "omcache_generated_prototypes.h"

/* 2. The Rust layouts under gen_ names.  cbindgen.toml excludes the handle
 * (its Rust fields are private), so declare it opaque as omcache.h does. */
typedef struct gen_omcache_s gen_omcache_t;
#include "omcache_generated_renamed.h"

#define SA(cond, msg) _Static_assert(cond, msg)

/* Public header against OMcache 0.3's numbers (x86-64). */
#define PUB_FIELD(T, f, off, size) \
  SA(offsetof(T, f) == (off), #T "." #f ": offset in omcache.h"); \
  SA(sizeof(((T *) 0)->f) == (size), #T "." #f ": size in omcache.h")

/* Rust layout against the public one. */
#define GEN_FIELD(T, f) \
  SA(offsetof(gen_##T, f) == offsetof(T, f), #T "." #f ": offset differs in the Rust FFI"); \
  SA(sizeof(((gen_##T *) 0)->f) == sizeof(((T *) 0)->f), #T "." #f ": size differs in the Rust FFI")

/* ... and, for fields that hold no struct, the exact type. */
#define GEN_FIELD_TYPE(T, f) \
  GEN_FIELD(T, f); \
  SA(__builtin_types_compatible_p(__typeof__(((gen_##T *) 0)->f), __typeof__(((T *) 0)->f)), \
     #T "." #f ": type differs in the Rust FFI")

#define GEN_STRUCT(T, size, align) \
  SA(sizeof(T) == (size), #T ": size in omcache.h"); \
  SA(_Alignof(T) == (align), #T ": alignment in omcache.h"); \
  SA(sizeof(gen_##T) == sizeof(T), #T ": size differs in the Rust FFI"); \
  SA(_Alignof(gen_##T) == _Alignof(T), #T ": alignment differs in the Rust FFI")

typedef struct omcache_req_header_s omcache_req_header_t;
typedef gen_omcache_req_header_s gen_omcache_req_header_t;

GEN_STRUCT(omcache_req_header_t, 24, 8);
PUB_FIELD(omcache_req_header_t, magic, 0, 1);
PUB_FIELD(omcache_req_header_t, opcode, 1, 1);
PUB_FIELD(omcache_req_header_t, keylen, 2, 2);
PUB_FIELD(omcache_req_header_t, extlen, 4, 1);
PUB_FIELD(omcache_req_header_t, datatype, 5, 1);
PUB_FIELD(omcache_req_header_t, reserved, 6, 2);
PUB_FIELD(omcache_req_header_t, bodylen, 8, 4);
PUB_FIELD(omcache_req_header_t, opaque, 12, 4);
PUB_FIELD(omcache_req_header_t, cas, 16, 8);
GEN_FIELD_TYPE(omcache_req_header_t, magic);
GEN_FIELD_TYPE(omcache_req_header_t, opcode);
GEN_FIELD_TYPE(omcache_req_header_t, keylen);
GEN_FIELD_TYPE(omcache_req_header_t, extlen);
GEN_FIELD_TYPE(omcache_req_header_t, datatype);
GEN_FIELD_TYPE(omcache_req_header_t, reserved);
GEN_FIELD_TYPE(omcache_req_header_t, bodylen);
GEN_FIELD_TYPE(omcache_req_header_t, opaque);
GEN_FIELD_TYPE(omcache_req_header_t, cas);

GEN_STRUCT(omcache_req_t, 56, 8);
PUB_FIELD(omcache_req_t, server_index, 0, 4);
PUB_FIELD(omcache_req_t, header, 8, 24);
PUB_FIELD(omcache_req_t, header.magic, 8, 1);
PUB_FIELD(omcache_req_t, header.opcode, 9, 1);
PUB_FIELD(omcache_req_t, header.keylen, 10, 2);
PUB_FIELD(omcache_req_t, header.extlen, 12, 1);
PUB_FIELD(omcache_req_t, header.datatype, 13, 1);
PUB_FIELD(omcache_req_t, header.reserved, 14, 2);
PUB_FIELD(omcache_req_t, header.bodylen, 16, 4);
PUB_FIELD(omcache_req_t, header.opaque, 20, 4);
PUB_FIELD(omcache_req_t, header.cas, 24, 8);
PUB_FIELD(omcache_req_t, extra, 32, 8);
PUB_FIELD(omcache_req_t, key, 40, 8);
PUB_FIELD(omcache_req_t, data, 48, 8);
GEN_FIELD_TYPE(omcache_req_t, server_index);
GEN_FIELD(omcache_req_t, header);
GEN_FIELD_TYPE(omcache_req_t, header.magic);
GEN_FIELD_TYPE(omcache_req_t, header.opcode);
GEN_FIELD_TYPE(omcache_req_t, header.keylen);
GEN_FIELD_TYPE(omcache_req_t, header.extlen);
GEN_FIELD_TYPE(omcache_req_t, header.datatype);
GEN_FIELD_TYPE(omcache_req_t, header.reserved);
GEN_FIELD_TYPE(omcache_req_t, header.bodylen);
GEN_FIELD_TYPE(omcache_req_t, header.opaque);
GEN_FIELD_TYPE(omcache_req_t, header.cas);
GEN_FIELD_TYPE(omcache_req_t, extra);
GEN_FIELD_TYPE(omcache_req_t, key);
GEN_FIELD_TYPE(omcache_req_t, data);

GEN_STRUCT(omcache_value_t, 64, 8);
PUB_FIELD(omcache_value_t, status, 0, 4);
PUB_FIELD(omcache_value_t, key, 8, 8);
PUB_FIELD(omcache_value_t, key_len, 16, 8);
PUB_FIELD(omcache_value_t, data, 24, 8);
PUB_FIELD(omcache_value_t, data_len, 32, 8);
PUB_FIELD(omcache_value_t, flags, 40, 4);
PUB_FIELD(omcache_value_t, cas, 48, 8);
PUB_FIELD(omcache_value_t, delta_value, 56, 8);
GEN_FIELD_TYPE(omcache_value_t, status);
GEN_FIELD_TYPE(omcache_value_t, key);
GEN_FIELD_TYPE(omcache_value_t, key_len);
GEN_FIELD_TYPE(omcache_value_t, data);
GEN_FIELD_TYPE(omcache_value_t, data_len);
GEN_FIELD_TYPE(omcache_value_t, flags);
GEN_FIELD_TYPE(omcache_value_t, cas);
GEN_FIELD_TYPE(omcache_value_t, delta_value);

GEN_STRUCT(omcache_server_info_t, 24, 8);
PUB_FIELD(omcache_server_info_t, omcache_version, 0, 4);
PUB_FIELD(omcache_server_info_t, server_index, 4, 4);
PUB_FIELD(omcache_server_info_t, hostname, 8, 8);
PUB_FIELD(omcache_server_info_t, port, 16, 4);
GEN_FIELD_TYPE(omcache_server_info_t, omcache_version);
GEN_FIELD_TYPE(omcache_server_info_t, server_index);
GEN_FIELD_TYPE(omcache_server_info_t, hostname);
GEN_FIELD_TYPE(omcache_server_info_t, port);

GEN_STRUCT(omcache_dist_t, 32, 8);
PUB_FIELD(omcache_dist_t, omcache_version, 0, 4);
PUB_FIELD(omcache_dist_t, points_per_server, 4, 4);
PUB_FIELD(omcache_dist_t, entries_per_point, 8, 4);
PUB_FIELD(omcache_dist_t, point_hash_func, 16, 8);
PUB_FIELD(omcache_dist_t, key_hash_func, 24, 8);
GEN_FIELD_TYPE(omcache_dist_t, omcache_version);
GEN_FIELD_TYPE(omcache_dist_t, points_per_server);
GEN_FIELD_TYPE(omcache_dist_t, entries_per_point);
GEN_FIELD_TYPE(omcache_dist_t, point_hash_func);
GEN_FIELD_TYPE(omcache_dist_t, key_hash_func);

/* The public header's other shapes. */
SA(__builtin_types_compatible_p(omcache_dist_t, const struct omcache_dist_s),
   "omcache_dist_t must be a const struct omcache_dist_s");
SA(__builtin_types_compatible_p(omcache_log_callback_func *, void (*)(void *, int, const char *)),
   "omcache_log_callback_func shape");
SA(__builtin_types_compatible_p(omcache_response_callback_func *,
                                void (*)(omcache_t *, omcache_value_t *, void *)),
   "omcache_response_callback_func shape");
SA(__builtin_types_compatible_p(omc_ketama_point_hash_func *,
                                uint32_t (*)(const char *, const char *, uint32_t, uint32_t *)),
   "omc_ketama_point_hash_func shape");
SA(__builtin_types_compatible_p(omc_ketama_key_hash_func *,
                                uint32_t (*)(const unsigned char *, size_t)),
   "omc_ketama_key_hash_func shape");
SA(OMCACHE_VERSION == 0x00000300, "OMCACHE_VERSION");
SA(OMCACHE_DELTA_NO_ADD == 0xffffffffu, "OMCACHE_DELTA_NO_ADD");
SA(__builtin_types_compatible_p(__typeof__(OMCACHE_DELTA_NO_ADD), unsigned int), "OMCACHE_DELTA_NO_ADD type");
SA(OMCACHE_OK == 0x00 && OMCACHE_NOT_FOUND == 0x01 && OMCACHE_KEY_EXISTS == 0x02 &&
   OMCACHE_TOO_LARGE_VALUE == 0x03 && OMCACHE_NOT_STORED == 0x05 &&
   OMCACHE_DELTA_BAD_VALUE == 0x06 && OMCACHE_FAIL == 0x0FFF && OMCACHE_AGAIN == 0x1001 &&
   OMCACHE_INVALID == 0x1002 && OMCACHE_BUFFERED == 0x1003 && OMCACHE_BUFFER_FULL == 0x1004 &&
   OMCACHE_NO_SERVERS == 0x1005 && OMCACHE_SERVER_FAILURE == 0x1006,
   "omcache_ret_t values");
SA(sizeof(omcache_ret_t) == sizeof(int), "omcache_ret_t is int-sized");

/* Rust aliases of the public callback typedefs (always pointers in Rust:
 * Option<unsafe extern "C" fn(..)>); the script defines HAVE_GEN_<name> for
 * each alias the generated header has. */
#define GEN_CALLBACK(name) \
  SA(__builtin_types_compatible_p(gen_##name, name *), #name ": Rust alias differs")
#ifdef HAVE_GEN_omcache_log_callback_func
GEN_CALLBACK(omcache_log_callback_func);
#endif
#ifdef HAVE_GEN_omcache_response_callback_func
SA(__builtin_types_compatible_p(gen_omcache_response_callback_func,
                                void (*)(gen_omcache_t *, gen_omcache_value_t *, void *)),
   "omcache_response_callback_func: Rust alias differs");
#endif
#ifdef HAVE_GEN_omc_ketama_point_hash_func
GEN_CALLBACK(omc_ketama_point_hash_func);
#endif
#ifdef HAVE_GEN_omc_ketama_key_hash_func
GEN_CALLBACK(omc_ketama_key_hash_func);
#endif

/* Constants the Rust side exports (cbindgen emits them as macros). */
#ifdef GEN_OMCACHE_VERSION
SA(GEN_OMCACHE_VERSION == OMCACHE_VERSION, "OMCACHE_VERSION differs in the Rust FFI");
#endif
#ifdef GEN_OMCACHE_DELTA_NO_ADD
SA(GEN_OMCACHE_DELTA_NO_ADD == OMCACHE_DELTA_NO_ADD, "OMCACHE_DELTA_NO_ADD differs in the Rust FFI");
#endif

/* The Rust data objects must have the public type. */
#define GEN_DATA(name) \
  SA(__builtin_types_compatible_p(__typeof__(gen_##name), gen_omcache_dist_t), \
     #name ": type differs in the Rust FFI"); \
  SA(sizeof(gen_##name) == 32, #name ": size")

GEN_DATA(omcache_dist_libmemcached_ketama);
GEN_DATA(omcache_dist_libmemcached_ketama_weighted);
GEN_DATA(omcache_dist_libmemcached_ketama_pre1010);

/* 3. Every public name is declared by the Rust side (an undeclared gen_
 * name is a compile error).  The table also pins the function types of the
 * public header itself. */
#define PUBLIC_NAMES(X) \
  X(omcache_init) X(omcache_free) X(omcache_strerror) X(omcache_set_buffering) \
  X(omcache_reset_buffers) X(omcache_set_connect_timeout) \
  X(omcache_set_reconnect_timeout) X(omcache_set_dead_timeout) \
  X(omcache_set_send_buffer_max_size) X(omcache_set_recv_buffer_max_size) \
  X(omcache_set_response_callback) X(omcache_set_servers) \
  X(omcache_set_distribution_method) X(omcache_set_log_callback) \
  X(omcache_log_stderr) X(omcache_command) X(omcache_command_status) X(omcache_io) \
  X(omcache_poll_fds) X(omcache_server_index_for_key) X(omcache_server_info) \
  X(omcache_server_info_free) X(omcache_noop) X(omcache_stat) X(omcache_flush_all) \
  X(omcache_set) X(omcache_add) X(omcache_replace) X(omcache_increment) \
  X(omcache_decrement) X(omcache_delete) X(omcache_get) X(omcache_get_multi) \
  X(omcache_append) X(omcache_prepend) X(omcache_touch) X(omcache_gat) \
  X(omcache_gat_multi) \
  X(omcache_set_tls) X(omcache_set_tls_ca_file) X(omcache_set_tls_client_cert) \
  X(omcache_set_tls_server_name) X(omcache_set_tls_session_resumption) X(omcache_tls_error) \
  X(omcache_dist_libmemcached_ketama) X(omcache_dist_libmemcached_ketama_weighted) \
  X(omcache_dist_libmemcached_ketama_pre1010)

#define REF_GEN(name) (const void *) &gen_##name,
#define REF_PUB(name) (const void *) &name,

size_t header_check_count(void);
size_t header_check_count(void)
{
  static const void *const gen_names[] = { PUBLIC_NAMES(REF_GEN) };
  static const void *const pub_names[] = { PUBLIC_NAMES(REF_PUB) };
  SA(sizeof(gen_names) / sizeof(gen_names[0]) == 47, "47 public names");
  return sizeof(gen_names) / sizeof(gen_names[0]) + sizeof(pub_names) / sizeof(pub_names[0]);
}

/* The prototypes exactly as OMcache 0.3 gave them (omcache-behavior.md
 * 8.0), as pointer types: assigning each public function to one fails if
 * omcache_cdef.h itself ever drifts from 0.3. */
#define FN(ret, name, ...) { ret (*const check_##name)(__VA_ARGS__) = name; (void) check_##name; }

void header_check_prototypes(void);
void header_check_prototypes(void)
{
  FN(omcache_t *, omcache_init, void)
  FN(int, omcache_free, omcache_t *)
  FN(const char *, omcache_strerror, int)
  FN(int, omcache_set_buffering, omcache_t *, uint32_t)
  FN(int, omcache_reset_buffers, omcache_t *)
  FN(int, omcache_set_connect_timeout, omcache_t *, uint32_t)
  FN(int, omcache_set_reconnect_timeout, omcache_t *, uint32_t)
  FN(int, omcache_set_dead_timeout, omcache_t *, uint32_t)
  FN(int, omcache_set_send_buffer_max_size, omcache_t *, size_t)
  FN(int, omcache_set_recv_buffer_max_size, omcache_t *, size_t)
  FN(int, omcache_set_response_callback, omcache_t *, omcache_response_callback_func *, void *)
  FN(int, omcache_set_servers, omcache_t *, const char *)
  FN(int, omcache_set_distribution_method, omcache_t *, omcache_dist_t *)
  FN(int, omcache_set_log_callback, omcache_t *, int, omcache_log_callback_func *, void *)
  FN(void, omcache_log_stderr, void *, int, const char *)
  FN(int, omcache_command, omcache_t *, omcache_req_t *, size_t *, omcache_value_t *, size_t *, int32_t)
  FN(int, omcache_command_status, omcache_t *, omcache_req_t *, int32_t)
  FN(int, omcache_io, omcache_t *, omcache_req_t *, size_t *, omcache_value_t *, size_t *, int32_t)
  FN(struct pollfd *, omcache_poll_fds, omcache_t *, int *, int *)
  FN(int, omcache_server_index_for_key, omcache_t *, const unsigned char *, size_t)
  FN(omcache_server_info_t *, omcache_server_info, omcache_t *, int)
  FN(int, omcache_server_info_free, omcache_t *, omcache_server_info_t *)
  FN(int, omcache_noop, omcache_t *, int, int32_t)
  FN(int, omcache_stat, omcache_t *, const char *, omcache_value_t *, size_t *, int, int32_t)
  FN(int, omcache_flush_all, omcache_t *, time_t, int, int32_t)
  FN(int, omcache_set, omcache_t *, const unsigned char *, size_t, const unsigned char *, size_t,
     time_t, uint32_t, uint64_t, int32_t)
  FN(int, omcache_add, omcache_t *, const unsigned char *, size_t, const unsigned char *, size_t,
     time_t, uint32_t, int32_t)
  FN(int, omcache_replace, omcache_t *, const unsigned char *, size_t, const unsigned char *, size_t,
     time_t, uint32_t, int32_t)
  FN(int, omcache_increment, omcache_t *, const unsigned char *, size_t, uint64_t, uint64_t,
     time_t, uint64_t *, int32_t)
  FN(int, omcache_decrement, omcache_t *, const unsigned char *, size_t, uint64_t, uint64_t,
     time_t, uint64_t *, int32_t)
  FN(int, omcache_delete, omcache_t *, const unsigned char *, size_t, int32_t)
  FN(int, omcache_get, omcache_t *, const unsigned char *, size_t, const unsigned char **, size_t *,
     uint32_t *, uint64_t *, int32_t)
  FN(int, omcache_get_multi, omcache_t *, const unsigned char **, size_t *, size_t,
     omcache_req_t *, size_t *, omcache_value_t *, size_t *, int32_t)
  FN(int, omcache_append, omcache_t *, const unsigned char *, size_t, const unsigned char *, size_t,
     uint64_t, int32_t)
  FN(int, omcache_prepend, omcache_t *, const unsigned char *, size_t, const unsigned char *, size_t,
     uint64_t, int32_t)
  FN(int, omcache_touch, omcache_t *, const unsigned char *, size_t, time_t, int32_t)
  FN(int, omcache_gat, omcache_t *, const unsigned char *, size_t, const unsigned char **, size_t *,
     time_t, uint32_t *, uint64_t *, int32_t)
  FN(int, omcache_gat_multi, omcache_t *, const unsigned char **, size_t *, time_t *, size_t,
     omcache_req_t *, size_t *, omcache_value_t *, size_t *, int32_t)
  /* This library's TLS extension (OMCACHE_0.3). */
  FN(int, omcache_set_tls, omcache_t *, int)
  FN(int, omcache_set_tls_ca_file, omcache_t *, const char *)
  FN(int, omcache_set_tls_client_cert, omcache_t *, const char *, const char *)
  FN(int, omcache_set_tls_server_name, omcache_t *, const char *)
  FN(int, omcache_set_tls_session_resumption, omcache_t *, int)
  FN(const char *, omcache_tls_error, omcache_t *, int)
  {
    const omcache_dist_t *d1 = &omcache_dist_libmemcached_ketama;
    const omcache_dist_t *d2 = &omcache_dist_libmemcached_ketama_weighted;
    const omcache_dist_t *d3 = &omcache_dist_libmemcached_ketama_pre1010;
    (void) d1; (void) d2; (void) d3;
  }
}
