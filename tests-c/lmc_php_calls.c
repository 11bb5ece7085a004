/* lmc_php_calls.c - the libmemcached calls PHP's memcached extension needs beyond the common
 * ones (distribution setters, last_error_errno, bucket_set), printed for comparing Debian's
 * libmemcached with ours. Arguments: a live memcached port, a port nobody listens on.
 * Left out: hash values -1, 12, 13 (the real library accepts some of them oddly) and a bucket
 * naming a server that does not exist (the real library crashes). */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
int main(int argc,char**argv){
  if(argc<3)return 2;
  int port=atoi(argv[1]); int dead=atoi(argv[2]);
  memcached_st *m=memcached_create(NULL);
  printf("errno fresh=%d\n", memcached_last_error_errno(m));
  setvbuf(stdout,NULL,_IONBF,0);
  memcached_server_add(m,"127.0.0.1",dead);
  memcached_return_t rc=memcached_set(m,"a",1,"x",1,0,0);
  printf("set dead rc=%d errno=%d\n",rc,memcached_last_error_errno(m));
  rc=memcached_set(m,"a",1,"x",1,0,0);
  printf("set dead2 rc=%d errno=%d\n",rc,memcached_last_error_errno(m));
  memcached_free(m);
  m=memcached_create(NULL);
  memcached_server_add(m,"127.0.0.1",port);
  rc=memcached_set(m,"a",1,"x",1,0,0);
  printf("set ok rc=%d errno=%d\n",rc,memcached_last_error_errno(m));
  size_t l; uint32_t f;
  char*v=memcached_get(m,"zz",2,&l,&f,&rc);
  printf("get miss rc=%d errno=%d v=%p\n",rc,memcached_last_error_errno(m),v);
  for (int d=-1; d<9; d++){ rc=memcached_behavior_set_distribution(m,d);
    printf("set_distribution %d rc=%d get=%lu w=%lu\n",d,rc,(unsigned long)memcached_behavior_get(m,MEMCACHED_BEHAVIOR_DISTRIBUTION),(unsigned long)memcached_behavior_get(m,MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED));}
  memcached_behavior_set(m,MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED,1);
  rc=memcached_behavior_set_distribution(m,MEMCACHED_DISTRIBUTION_CONSISTENT);
  printf("after weighted, set CONSISTENT rc=%d w=%lu\n",rc,(unsigned long)memcached_behavior_get(m,MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED));
  for (int h=0; h<12; h++){ rc=memcached_behavior_set_distribution_hash(m,h);
    printf("set_distribution_hash %d rc=%d get=%lu\n",h,rc,(unsigned long)memcached_behavior_get(m,MEMCACHED_BEHAVIOR_KETAMA_HASH));}
  memcached_free(m);
  m=memcached_create(NULL);
  memcached_server_add(m,"127.0.0.1",port);
  memcached_server_add(m,"127.0.0.1",dead);
  uint32_t hm[4]={0,0,0,0}; uint32_t fm[4]={1,1,1,1};
  rc=memcached_bucket_set(NULL,hm,fm,4,0); printf("bucket NULL rc=%d\n",rc);
  rc=memcached_bucket_set(m,NULL,fm,4,0); printf("bucket hm NULL rc=%d\n",rc);
  rc=memcached_bucket_set(m,hm,NULL,4,0); printf("bucket fm NULL rc=%d dist=%lu\n",rc,(unsigned long)memcached_behavior_get(m,MEMCACHED_BEHAVIOR_DISTRIBUTION));
  rc=memcached_bucket_set(m,hm,fm,4,0); printf("bucket rc=%d dist=%lu\n",rc,(unsigned long)memcached_behavior_get(m,MEMCACHED_BEHAVIOR_DISTRIBUTION));
  for(int i=0;i<20;i++){char k[8];snprintf(k,8,"k%d",i);rc=memcached_set(m,k,strlen(k),"v",1,0,0);printf("%d",rc);} printf(" <- set rcs all to bucket 0\n");
  uint32_t hm2[4]={1,1,1,1};
  rc=memcached_bucket_set(m,hm2,fm,4,0); printf("bucket->dead rc=%d\n",rc);
  for(int i=0;i<5;i++){char k[8];snprintf(k,8,"k%d",i);rc=memcached_set(m,k,strlen(k),"v",1,0,0);printf("%d ",rc);} printf(" <- set rcs to bucket dead\n");
  rc=memcached_bucket_set(m,hm,fm,0,0); printf("bucket 0 buckets rc=%d\n",rc);
  rc=memcached_behavior_set_distribution(m,0); printf("back modula rc=%d\n",rc);
  memcached_free(m);
  return 0;}
