/*
 * registry.c — the driver registry. Each driver built into the library
 * registers itself at load time (TERN_DRIVER_REGISTER in its control file:
 * meson decides which are built); tests and applications may add their own
 * at run time. The registry also composes the faults decorator over the
 * driver an endpoint asks for, so the endpoint never names a driver.
 */
#include <pthread.h>
#include <string.h>

#include <errno.h>

#include "driver.h"

#define REG_MAX 16
static struct {
	const struct tern_drv_ops *ops;
	int builtin;
} reg[REG_MAX];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static int reg_add(const struct tern_drv_ops *ops, int builtin)
{
	int rc = -ENOSPC;
	if (ops == NULL || ops->name == NULL || ops->open == NULL || ops->close == NULL ||
	    ops->rx_burst == NULL || ops->rx_done == NULL || ops->tx_burst == NULL ||
	    (ops->tx_lend == NULL) != (ops->tx_unlend == NULL))
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < REG_MAX; i++) {
		if (reg[i].ops == ops || reg[i].ops == NULL) {
			reg[i].ops = ops;
			reg[i].builtin |= builtin;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

int tern_drv_register(const struct tern_drv_ops *ops)
{
	return reg_add(ops, 0);
}

int tern_drv_register_builtin(const struct tern_drv_ops *ops)
{
	return reg_add(ops, 1);
}

const struct tern_drv_ops *tern_drv_find(const char *name)
{
	const struct tern_drv_ops *found = NULL;
	if (name == NULL)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < REG_MAX && reg[i].ops != NULL && found == NULL; i++)
		if (strcmp(reg[i].ops->name, name) == 0)
			found = reg[i].ops;
	pthread_mutex_unlock(&reg_lock);
	return found;
}

int tern_drv_open(const struct tern_drv_config *cfg, struct tern_drv **out)
{
	struct tern_drv_config c = *cfg;
	if (c.name == NULL)
		c.name = "udp";
	const struct tern_drv_ops *ops = tern_drv_find(c.name);
	if (ops == NULL)
		return -ENOENT;
	if (c.faults != NULL && c.faults[0] != '\0') {
		ops = tern_drv_find("faults"); /* it opens c.name inside itself */
		if (ops == NULL)
			return -ENOENT;
	}
	int rc = ops->open(&c, out);
	if (rc == 0)
		(*out)->ops = ops; /* whatever the driver set: these are the ops that opened it */
	return rc;
}

/* Built-in drivers register before main() runs: the list is fixed by the
 * first call. */
static char builtin_names[REG_MAX * 16];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_init(void)
{
	size_t len = 0;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < REG_MAX && reg[i].ops != NULL; i++) {
		size_t n = strlen(reg[i].ops->name);
		if (!reg[i].builtin || len + n + 2 > sizeof(builtin_names))
			continue;
		if (len != 0)
			builtin_names[len++] = ',';
		memcpy(builtin_names + len, reg[i].ops->name, n + 1);
		len += n;
	}
	pthread_mutex_unlock(&reg_lock);
}

const char *tern_drivers(void)
{
	pthread_once(&names_once, names_init);
	return builtin_names;
}
