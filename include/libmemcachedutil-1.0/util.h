/* <libmemcachedutil-1.0/util.h>: the libmemcachedutil API of omcache (all of it, whichever real sub-header is named). */
#include "../omcache_libmemcachedutil.h"
