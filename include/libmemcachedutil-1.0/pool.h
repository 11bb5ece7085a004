/* <libmemcachedutil-1.0/pool.h>: the libmemcachedutil API of omcache (all of it, whichever real sub-header is named). */
#include "../omcache_libmemcachedutil.h"
