-- pgmemcache_scenario.sql - run by compat-tests/run-pgmemcache.sh through psql, once per protocol,
-- with :p1 :p2 (live servers, pushed by memcache_server_add), :dead (nothing listens there) and
-- :binary (1 when the session runs the binary protocol, pgmemcache's default).
-- The postmaster already holds one server from pgmemcache.default_servers (its handle was made
-- before fork), so the servers list is: default, :p1, :p2. Every value is printed, so psql's output
-- is the thing compared between Debian's libmemcached and ours.
\set ON_ERROR_STOP 0
\pset pager off
\pset null '<null>'
SELECT memcache_server_add('127.0.0.1:' || :'p1') AS server_add_p1;
SELECT memcache_server_add('127.0.0.1:' || :'p2') AS server_add_p2;
SELECT memcache_flush_all() AS flush_all;
SELECT memcache_set('k1', 'one') AS set_k1, memcache_get('k1') AS get_k1;
SELECT memcache_get('nosuch') AS get_miss;
SELECT memcache_add('k1', 'x') AS add_existing, memcache_add('k2', 'two') AS add_new;
SELECT memcache_replace('k1', 'uno') AS replace_hit, memcache_replace('zz', 'x') AS replace_miss;
SELECT memcache_append('k1', '-end') AS append_hit, memcache_prepend('k1', 'start-') AS prepend_hit;
SELECT memcache_append('zz', 'x') AS append_miss, memcache_prepend('zz', 'x') AS prepend_miss;
SELECT memcache_get('k1') AS get_k1_after;
SELECT memcache_set('empty', '') AS set_empty, memcache_get('empty') IS NULL AS empty_is_null,
       length(memcache_get('empty')) AS empty_length;
SELECT memcache_set('k3', 'three', '100 seconds'::interval) AS set_interval,
       memcache_add('k4', 'four', now() + '1 hour'::interval) AS add_timestamptz,
       memcache_set('k5'::bytea, 'five') AS set_bytea_key, memcache_set('k6', 'six'::bytea) AS set_bytea_val;
SELECT memcache_get('k3') AS k3, memcache_get('k4') AS k4, memcache_get('k5'::bytea) AS k5, memcache_get('k6') AS k6;
SELECT memcache_set('big', repeat('0123456789', 20000)) AS set_200k,
       md5(memcache_get('big')) = md5(repeat('0123456789', 20000)) AS get_200k_same;
SELECT memcache_set('utf8_ключ', 'значение ✓') AS set_utf8, memcache_get('utf8_ключ') AS get_utf8;
-- A key with a space: binary carries it; over text the real library sends it and desyncs
-- (CLIENT_ERROR, then ERROR on the next command), ours refuses it with BAD_KEY_PROVIDED
-- (spec/libmemcached §3.5), so that case is checked by run-pgmemcache.sh on its own.
\if :binary
SELECT memcache_set('key with space', 'v s') AS set_space_key, memcache_get('key with space') AS get_space_key;
\endif
SELECT * FROM memcache_get_multi('{k1,k2,nosuch,k3,k4,k5,k6}'::text[]) ORDER BY key;
SELECT * FROM memcache_get_multi('{k1,nosuch}'::bytea[]) ORDER BY key;
SELECT count(*) AS get_multi_all_missing FROM memcache_get_multi('{m1,m2,m3}'::text[]);
SELECT memcache_set('n', '10') AS set_n, memcache_incr('n') AS incr_1, memcache_incr('n', 5) AS incr_5,
       memcache_decr('n') AS decr_1, memcache_decr('n', 100) AS decr_floor;
SELECT memcache_incr('counter_missing') AS incr_missing, memcache_decr('counter_missing2', 3) AS decr_missing;
SELECT memcache_incr('k1') AS incr_not_number;
SELECT memcache_incr('n', -1) AS incr_negative;
SELECT memcache_delete('k2') AS delete_hit, memcache_delete('k2') AS delete_again,
       memcache_delete('k3', '0 seconds'::interval) AS delete_hold;
SELECT memcache_get('k2') AS k2_gone, memcache_get('k3') AS k3_gone;
SELECT memcache_get('') AS empty_key;
SELECT memcache_set(repeat('x', 300), 'v') AS key_too_long;
-- many keys over the three servers, read back through get_multi
SELECT bool_and(memcache_set('many' || i, 'v' || i)) AS set_100 FROM generate_series(1, 100) i;
SELECT count(*) AS get_multi_100, bool_and(value = 'v' || substr(key, 5)) AS values_match
  FROM memcache_get_multi(ARRAY(SELECT 'many' || i FROM generate_series(1, 100) i));
SELECT memcache_flush_all() AS flush_all_end, memcache_get('many1') AS many1_after_flush;
-- memcache_stats(): which fields each server reports (values differ from run to run)
SELECT regexp_replace(regexp_replace(memcache_stats(), ': [^\n]*', '', 'g'), '\(\d+\)', '(port)', 'g') AS stats_fields;
-- a dead server in the list: operations that hash to it fail with a warning
SELECT memcache_server_add('127.0.0.1:' || :'dead') AS server_add_dead;
SELECT count(*) FILTER (WHERE s) AS sets_ok, count(*) FILTER (WHERE NOT s) AS sets_failed
  FROM (SELECT memcache_set('d' || i, 'v') AS s FROM generate_series(1, 40) i) t;
SELECT regexp_replace(regexp_replace(memcache_stats(), ': [^\n]*', '', 'g'), '\(\d+\)', '(port)', 'g') AS stats_with_dead;
SELECT memcache_flush_all() AS flush_all_with_dead;
