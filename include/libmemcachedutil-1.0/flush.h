/* <libmemcachedutil-1.0/flush.h>: the libmemcachedutil API of omcache (all of it, whichever real sub-header is named). */
#include "../omcache_libmemcachedutil.h"
