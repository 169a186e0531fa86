/*
 * tern-keygen — make an X25519 key pair for tern's authenticated sessions.
 *
 *   tern-keygen [--force] NAME
 *
 * Writes NAME.key (the private key, mode 0600) and NAME.pub (the public
 * key), one base64 line each (WireGuard's format), through tern_keygen(),
 * and prints the public key. Give NAME.key to the endpoint (--key), NAME.pub
 * to its peers (a client's --peer-key, a server's --allow list). Existing
 * files are kept unless --force is given.
 *
 * Exit: 0 done; 1 the files could not be written (or exist); 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tern.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tern-keygen [--force] NAME\n"
		   "  writes NAME.key (private, mode 0600) and NAME.pub (public), prints the public key\n"
		   "  --force   replace NAME.key and NAME.pub if they exist\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int force = 0, c;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0') {
		usage(stderr);
		return 2;
	}
	const char *name = argv[optind];
	char key[4096], pub[4096];
	if ((size_t)snprintf(key, sizeof(key), "%s.key", name) >= sizeof(key) ||
	    (size_t)snprintf(pub, sizeof(pub), "%s.pub", name) >= sizeof(pub)) {
		fprintf(stderr, "tern-keygen: name too long\n");
		return 2;
	}
	if (!force) {
		const char *exists = access(key, F_OK) == 0 ? key : access(pub, F_OK) == 0 ? pub : NULL;
		if (exists != NULL) {
			fprintf(stderr, "tern-keygen: %s exists; not replacing it (--force does)\n",
				exists);
			return 1;
		}
	}
	int rc = tern_keygen(name);
	if (rc != 0) {
		fprintf(stderr, "tern-keygen: cannot write %s / %s: %s\n", key, pub, strerror(-rc));
		return 1;
	}
	/* The public key, as written. */
	char line[128];
	FILE *f = fopen(pub, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		fprintf(stderr, "tern-keygen: cannot read back %s: %s\n", pub, strerror(errno));
		if (f != NULL)
			fclose(f);
		return 1;
	}
	fclose(f);
	fputs(line, stdout);
	return 0;
}
