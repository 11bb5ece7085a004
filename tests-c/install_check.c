/*
 * install_check.c - built by tests-c/install-check.sh against an installed
 * libomcache (pkg-config omcache) and run; needs no memcached server.
 */
#include <stdio.h>
#include <string.h>
#include <omcache.h>

static int failures;

static void check(int ok, const char *what)
{
  if (!ok)
    {
      fprintf(stderr, "install_check: FAIL: %s\n", what);
      failures++;
    }
}

int main(void)
{
  omcache_t *mc = omcache_init();
  check(mc != NULL, "omcache_init returned NULL");
  check(strcmp(omcache_strerror(OMCACHE_OK), "Success") == 0, "strerror(OMCACHE_OK)");
  check(strcmp(omcache_strerror(OMCACHE_NOT_FOUND), "Key not found from memcached") == 0,
        "strerror(OMCACHE_NOT_FOUND)");
  check(strcmp(omcache_strerror(12345), "Unknown") == 0, "strerror(12345)");
  check(omcache_dist_libmemcached_ketama.points_per_server == 100, "ketama points_per_server");
  check(omcache_dist_libmemcached_ketama_weighted.entries_per_point == 4,
        "ketama_weighted entries_per_point");
  check(omcache_dist_libmemcached_ketama_pre1010.point_hash_func != NULL,
        "ketama_pre1010 point_hash_func");
  if (mc != NULL)
    {
      check(omcache_set_distribution_method(mc, &omcache_dist_libmemcached_ketama_weighted) == OMCACHE_OK,
            "omcache_set_distribution_method");
      check(omcache_free(mc) == OMCACHE_OK, "omcache_free");
    }
  if (failures)
    return 1;
  printf("install_check: OK (OMcache API version 0x%08x)\n", OMCACHE_VERSION);
  return 0;
}
