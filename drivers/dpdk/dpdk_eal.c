/*
 * dpdk_eal.c — the dpdk driver's EAL: the argument string split into argv,
 * rte_eal_init once per process, the --vdev specs kept so a closed vdev can
 * be re-created, and, when the EAL does not start, why, in words a user can
 * act on.
 *
 * rte_eal_init reports its failures badly for a first-time user: a
 * non-root user gets ENOMEM, an unmounted hugetlbfs EACCES, a second
 * process on the same --file-prefix rte_errno 0. So when it fails we look
 * at the host ourselves, in this order, and name the first cause found,
 * with its remedy and an errno that fits it:
 *
 *   another process holds the --file-prefix's config lock     -EBUSY
 *   hugepages wanted, but no hugetlbfs is mounted             -ENOMEM
 *   hugepages wanted, none reserved, or none free             -ENOMEM
 *   hugepages wanted, not root, the hugetlbfs not writable    -EPERM
 *   none of these: rte_errno and DPDK's own lines             -rte_errno
 *
 * The checks run only after a failure: a host where DPDK starts is never
 * second-guessed. A failed rte_eal_init cannot be retried in a process;
 * later opens get the first failure again.
 *
 * Threading: called under dpdk.c's dpdk_lock (open only).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "dpdk_priv.h"

#define EAL_ARGS_MAX 64
#define EAL_STR_MAX  4096
#define VDEV_MAX     16
#define VDEV_STR_MAX 512

/* How to run without hugepages; every hugepage remedy offers it. */
#define NO_HUGE_HINT "add --in-memory or --no-huge -m 512 to the EAL arguments, or use --driver udp"

/* EAL: initialised once; argv storage kept for the process (EAL may keep pointers). */
static int eal_ready;
static int eal_err; /* the first failure, returned again: the EAL cannot retry */
static char eal_str[EAL_STR_MAX];
static char eal_buf[EAL_STR_MAX];
static char *eal_argv[EAL_ARGS_MAX + 1];

/* --vdev specs from the EAL args, to re-create a vdev closed by its last queue. */
static char vdev_spec[VDEV_MAX][VDEV_STR_MAX];
static unsigned vdev_n;

/* What the EAL arguments ask for, as far as the diagnosis cares. */
struct eal_opts {
	const char *prefix;   /* --file-prefix (DPDK's default: "rte") */
	const char *huge_dir; /* --huge-dir, or NULL */
	int no_huge;          /* --no-huge: anonymous memory */
	int in_memory;        /* --in-memory: hugepages without files, no shared config */
	int no_shconf;        /* --no-shconf: no shared config file */
};

/*
 * Split s into argv words: blanks separate, '...' is literal, "..." allows
 * \" and \\, a backslash outside quotes escapes the next character.
 * Returns the word count, or -EINVAL (open quote) / -E2BIG.
 */
static int split_args(const char *s, char *buf, size_t cap, char **argv, int max)
{
	size_t o = 0;
	int argc = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (*s == '\0')
			return argc;
		if (argc == max)
			return -E2BIG;
		argv[argc++] = buf + o;
		char quote = 0;
		for (; *s != '\0'; s++) {
			char c = *s;
			if (quote == '\'') {
				if (c == '\'') {
					quote = 0;
					continue;
				}
			} else if (quote == '"') {
				if (c == '"') {
					quote = 0;
					continue;
				}
				if (c == '\\' && (s[1] == '"' || s[1] == '\\'))
					c = *++s;
			} else if (c == '\'' || c == '"') {
				quote = c;
				continue;
			} else if (c == ' ' || c == '\t' || c == '\n') {
				break;
			} else if (c == '\\' && s[1] != '\0') {
				c = *++s;
			}
			if (o + 1 >= cap)
				return -E2BIG;
			buf[o++] = c;
		}
		if (quote != 0)
			return -EINVAL;
		buf[o++] = '\0';
	}
}

/* The value of "--name=v" or "--name v" at argv[*i], or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* Before rte_eal_init (getopt permutes argv): the --vdev specs, so a closed
 * vdev can be re-created, and what the diagnosis needs. */
static void scan_args(int argc, char **argv, struct eal_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->prefix = "rte";
	vdev_n = 0;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = opt_value(argc, argv, &i, "--vdev")) != NULL) {
			if (vdev_n < VDEV_MAX && strlen(v) < VDEV_STR_MAX)
				snprintf(vdev_spec[vdev_n++], VDEV_STR_MAX, "%s", v);
		} else if ((v = opt_value(argc, argv, &i, "--file-prefix")) != NULL) {
			o->prefix = v;
		} else if ((v = opt_value(argc, argv, &i, "--huge-dir")) != NULL) {
			o->huge_dir = v;
		} else if (strcmp(argv[i], "--no-huge") == 0) {
			o->no_huge = 1;
		} else if (strcmp(argv[i], "--in-memory") == 0) {
			o->in_memory = 1;
		} else if (strcmp(argv[i], "--no-shconf") == 0) {
			o->no_shconf = 1;
		}
	}
}

const char *dpdk_vdev_find(const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < vdev_n; i++)
		if (strncmp(vdev_spec[i], name, n) == 0 &&
		    (vdev_spec[i][n] == ',' || vdev_spec[i][n] == '\0'))
			return vdev_spec[i];
	return NULL;
}

const char *dpdk_vdev_first(void)
{
	return vdev_n != 0 ? vdev_spec[0] : NULL;
}

/* --- why rte_eal_init failed ---------------------------------------------------- */

/* The pid of another process holding the prefix's config lock, or 0. The
 * runtime directory is the EAL's: /var/run/dpdk/PREFIX for root, else
 * $XDG_RUNTIME_DIR/dpdk/PREFIX or /tmp/dpdk/PREFIX. */
static pid_t prefix_holder(const char *prefix, char *path, size_t len)
{
	const char *dir = "/var/run";
	if (getuid() != 0) {
		dir = getenv("XDG_RUNTIME_DIR");
		if (dir == NULL)
			dir = "/tmp";
	}
	snprintf(path, len, "%s/dpdk/%s/config", dir, prefix);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* The EAL holds a POSIX write lock on part of the file while it runs. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	pid_t pid = 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = fl.l_pid > 0 ? fl.l_pid : 1;
	close(fd);
	return pid;
}

/* The mount point of a hugetlbfs (dir itself if given and mounted), or 0. */
static int hugetlbfs_mount(const char *dir, char *out, size_t len)
{
	FILE *f = fopen("/proc/mounts", "re");
	char line[1024], mnt[512], type[64];
	int found = 0;
	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %511s %63s", mnt, type) == 2 && strcmp(type, "hugetlbfs") == 0 &&
		    (dir == NULL || strcmp(dir, mnt) == 0)) {
			snprintf(out, len, "%s", mnt);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static unsigned long read_ul(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long v = 0;
	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Hugepages reserved and free, over every page size the kernel offers. */
static void hugepages_count(unsigned long *reserved, unsigned long *free_pages)
{
	const char *base = "/sys/kernel/mm/hugepages";
	char path[512];
	struct dirent *e;
	DIR *dir = opendir(base);
	*reserved = *free_pages = 0;
	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, "hugepages-", 10) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s/nr_hugepages", base, e->d_name);
		*reserved += read_ul(path);
		snprintf(path, sizeof(path), "%s/%s/free_hugepages", base, e->d_name);
		*free_pages += read_ul(path);
	}
	closedir(dir);
}

/* Log why rte_eal_init failed and return the errno that fits. */
static int eal_explain(struct dpdk_drv *d, const struct eal_opts *o, const char *s, int rte_err)
{
	char path[600], mnt[512] = "";
	pid_t holder = 0;

	if (!o->in_memory && !o->no_shconf)
		holder = prefix_holder(o->prefix, path, sizeof(path));
	if (holder != 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: another DPDK process (pid %d) runs with --file-prefix %s (it "
			     "holds %s): give every DPDK process on this host its own --file-prefix",
			     (int)holder, o->prefix, path);
		return -EBUSY;
	}
	if (!o->no_huge) {
		unsigned long reserved, free_pages;
		hugepages_count(&reserved, &free_pages);
		if (!o->in_memory && !hugetlbfs_mount(o->huge_dir, mnt, sizeof(mnt))) {
			if (o->huge_dir != NULL)
				tern_drv_log(&d->base, TERN_LOG_ERR,
					     "dpdk: --huge-dir %s is not a mounted hugetlbfs: mount one "
					     "there, or " NO_HUGE_HINT,
					     o->huge_dir);
			else
				tern_drv_log(&d->base, TERN_LOG_ERR,
					     "dpdk: no hugepages mounted (no hugetlbfs in /proc/mounts): "
					     "run ci/hugepages as root (it reserves hugepages and mounts "
					     "/dev/hugepages), or " NO_HUGE_HINT);
			return -ENOMEM;
		}
		if (reserved == 0) {
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: no hugepages reserved (nr_hugepages is 0): run ci/hugepages "
				     "as root, or add --no-huge -m 512 to the EAL arguments, or use "
				     "--driver udp");
			return -ENOMEM;
		}
		if (free_pages == 0) {
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: all %lu hugepages are in use by other processes: stop "
				     "some, reserve more (ci/hugepages N, as root), or add --no-huge "
				     "-m 512 to the EAL arguments, or use --driver udp",
				     reserved);
			return -ENOMEM;
		}
		if (geteuid() != 0 && !o->in_memory && access(mnt, W_OK) != 0) {
			tern_drv_log(&d->base, TERN_LOG_ERR,
				     "dpdk: not running as root (uid %u) and the hugetlbfs %s is not "
				     "writable for this user: run as root, or " NO_HUGE_HINT,
				     (unsigned)geteuid(), mnt);
			return -EPERM;
		}
	}
	if (rte_err != 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: rte_eal_init(\"%s\") failed: %s (DPDK's own lines above say more)",
			     s, rte_strerror(rte_err));
		return -rte_err;
	}
	tern_drv_log(&d->base, TERN_LOG_ERR,
		     "dpdk: rte_eal_init(\"%s\") failed; DPDK's own lines above say why", s);
	return -EINVAL;
}

int dpdk_eal_ensure(struct dpdk_drv *d, const char *eal)
{
	const char *s = eal != NULL ? eal : "";
	struct eal_opts o;

	if (eal_ready) {
		if (strcmp(s, eal_str) != 0)
			tern_drv_log(&d->base, TERN_LOG_WARN,
				     "dpdk: EAL already initialised with \"%s\"; ignoring \"%s\"",
				     eal_str, s);
		return 0;
	}
	if (eal_err != 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR,
			     "dpdk: the EAL failed to start earlier in this process (%s), and DPDK "
			     "cannot start it again: restart the process",
			     strerror(-eal_err));
		return eal_err;
	}
	if (strlen(s) >= EAL_STR_MAX) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: EAL arguments too long");
		return -E2BIG;
	}
	eal_argv[0] = "tern";
	int n = split_args(s, eal_buf, sizeof(eal_buf), eal_argv + 1, EAL_ARGS_MAX - 1);
	if (n < 0) {
		tern_drv_log(&d->base, TERN_LOG_ERR, "dpdk: cannot split EAL arguments \"%s\"", s);
		return n;
	}
	int argc = n + 1;
	eal_argv[argc] = NULL;
	scan_args(argc, eal_argv, &o);
	if (rte_eal_init(argc, eal_argv) < 0) {
		int err = rte_errno;
		vdev_n = 0;
		if (err != EALREADY) {
			eal_err = eal_explain(d, &o, s, err);
			return eal_err;
		}
		/* The application initialised DPDK itself: use its EAL and ports. */
		tern_drv_log(&d->base, TERN_LOG_INFO, "dpdk: EAL already initialised; using it");
	}
	snprintf(eal_str, sizeof(eal_str), "%s", s);
	eal_ready = 1;
	return 0;
}
