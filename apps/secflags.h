/*
 * secflags.h — the security flags the example apps share (hello, fib):
 *
 *   --key FILE           this endpoint's private key (tern-keygen NAME -> NAME.key)
 *   --peer-key FILE      client: the server's public key (NAME.pub), pinned
 *   --allow FILE         server: the client public keys it accepts, one per line
 *   --psk FILE           a pre-shared key (any key file) both sides hold
 *   --protection LEVEL   none|integrity|privacy (client: asked; server: minimum)
 *
 * Each maps onto struct tern_ep_config (see lib/tern.h and README
 * "Security"); the files are read by tern_ep_create(), whose complaints
 * reach stderr through secflags_log. A program lists the flags it takes in
 * its getopt_long table with the SECFLAG_* entries and hands every option
 * to secflags_apply() first.
 */
#ifndef TERN_APPS_SECFLAGS_H
#define TERN_APPS_SECFLAGS_H

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tern.h"

enum { SECFLAG_O_KEY = 0x1000, SECFLAG_O_PEER_KEY, SECFLAG_O_ALLOW, SECFLAG_O_PSK,
       SECFLAG_O_PROTECTION };

#define SECFLAG_KEY        {"key", required_argument, NULL, SECFLAG_O_KEY}
#define SECFLAG_PEER_KEY   {"peer-key", required_argument, NULL, SECFLAG_O_PEER_KEY}
#define SECFLAG_ALLOW      {"allow", required_argument, NULL, SECFLAG_O_ALLOW}
#define SECFLAG_PSK        {"psk", required_argument, NULL, SECFLAG_O_PSK}
#define SECFLAG_PROTECTION {"protection", required_argument, NULL, SECFLAG_O_PROTECTION}

#define SECFLAGS_HELP_SERVER                                                                     \
	"  --key FILE          the server's private key (tern-keygen NAME writes NAME.key/.pub)\n" \
	"  --allow FILE        accept only clients whose public key is listed (one per line)\n" \
	"  --psk FILE          a pre-shared key (a key file) every client must hold too (with\n" \
	"                      --allow: as well as a listed key, never instead of one)\n"      \
	"  --protection LEVEL  lowest level accepted: none (default), integrity, privacy\n"
#define SECFLAGS_HELP_CLIENT                                                                     \
	"  --peer-key FILE     the server's public key (NAME.pub): authenticate it\n"           \
	"  --key FILE          this client's private key (for a server with --allow)\n"         \
	"  --psk FILE          a pre-shared key (a key file) the server holds too\n"            \
	"  --protection LEVEL  none (default), integrity (authenticated packets) or\n"          \
	"                      privacy (encrypted too); needs --peer-key or --psk\n"

/* Apply option c (getopt_long's return) to cfg. 1: it was a security flag
 * and is applied; 0: not one; -1: a bad value (said on stderr). */
static inline int secflags_apply(int c, const char *arg, struct tern_ep_config *cfg,
				 const char *prog)
{
	switch (c) {
	case SECFLAG_O_KEY: cfg->key_file = arg; return 1;
	case SECFLAG_O_PEER_KEY: cfg->peer_key_file = arg; return 1;
	case SECFLAG_O_ALLOW: cfg->allow_file = arg; return 1;
	case SECFLAG_O_PSK: cfg->psk_file = arg; return 1;
	case SECFLAG_O_PROTECTION:
		if (strcmp(arg, "none") == 0)
			cfg->protection = TERN_PROT_NONE;
		else if (strcmp(arg, "integrity") == 0)
			cfg->protection = TERN_PROT_INTEGRITY;
		else if (strcmp(arg, "privacy") == 0)
			cfg->protection = TERN_PROT_PRIVACY;
		else {
			fprintf(stderr, "%s: bad --protection '%s': none, integrity or privacy\n", prog,
				arg);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

/* Log hook: the library's errors and warnings (unreadable key files, ...)
 * on stderr, prefixed with the program's name (ctx). */
static inline void secflags_log(void *ctx, int level, const char *msg)
{
	if (level <= TERN_LOG_WARN)
		fprintf(stderr, "%s: %s\n", (const char *)ctx, msg);
}

/* A hint for a failed connect. */
static inline const char *secflags_hint(int rc)
{
	return rc == -EACCES ? " (the server refused the handshake: its key, the allow-list, "
			       "the PSK or the protection level)"
			     : "";
}

#endif
