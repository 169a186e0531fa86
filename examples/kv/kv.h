/*
 * kv.h — what the kv client and server agree on besides kv.proto.
 */
#ifndef KV_H
#define KV_H

#define KV_BASE_TYPE  100            /* KV's methods are tern request types 100, 101, 102 */
#define KV_VALUE_MAX  (64u * 1024u)  /* largest value */
#define KV_KEY_MAX    1024u          /* longest key */
#define KV_PORT       "31880"        /* the server's default UDP port */

/* Method indices: declaration order in kv.proto. */
enum kv_method { KV_PUT = 0, KV_GET = 1, KV_DELETE = 2 };

#endif
