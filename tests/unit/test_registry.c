/*
 * test_registry.c — lib/registry.c, the driver registry: an endpoint over a
 * driver nobody registered (alone or under the faults decorator) fails with
 * -ENOENT; lookups, the list of names, and registration (idempotent for
 * the same ops, checked: a driver lends transmit buffers with both ops or
 * neither).
 */
#include "check.h"
#include "inject.h"

static void drv_open__unknown_driver_enoent(void)
{
	struct tern_ep_config c;
	inj_config(&c);
	struct tern_ep *ep = (void *)1;
	c.driver = "no-such-driver";
	CHECK_EQ(tern_ep_create(&c, &ep), -ENOENT);
	CHECK(ep == NULL);
	/* The faults decorator over a driver that does not exist. */
	inj_config(&c);
	c.faults = "loss=0.1";
	c.driver = "no-such-driver";
	CHECK_EQ(tern_ep_create(&c, &ep), -ENOENT);
}

static void drv_find__by_name(void)
{
	REQUIRE(inj_register() == 0);
	CHECK(tern_drv_find(NULL) == NULL);
	CHECK(tern_drv_find(INJ_DRIVER) != NULL);
	CHECK(tern_drivers() != NULL);
	CHECK(strstr(tern_drivers(), ",,") == NULL);
}

/* Registering is idempotent and checked. */
static void drv_register__idempotent_and_checked(void)
{
	CHECK_EQ(inj_register(), 0);
	CHECK_EQ(tern_drv_register(NULL), -EINVAL);
	struct tern_drv_ops bad = {.name = "bad"};
	CHECK_EQ(tern_drv_register(&bad), -EINVAL);
	/* tx_lend and tx_unlend come together or not at all. */
	struct tern_drv_ops half = *tern_drv_find(INJ_DRIVER);
	half.name = "half";
	half.tx_unlend = NULL;
	CHECK_EQ(tern_drv_register(&half), -EINVAL);
	CHECK(tern_drv_find("half") == NULL);
}

int main(void)
{
	RUN(drv_open__unknown_driver_enoent);
	RUN(drv_find__by_name);
	RUN(drv_register__idempotent_and_checked);
	return check_exit();
}
