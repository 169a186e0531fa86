/*
 * rx.h — the receive path (rx.c).
 */
#ifndef TERN_RX_H
#define TERN_RX_H

#include "tern_internal.h"

/* Receive and dispatch one burst; returns the packets received. */
int tern_rx_poll(struct tern_ep *ep);
/* Answer a packet that names a session we do not have. */
void tern_send_reset(struct tern_ep *ep, const struct tern_addr *to, const struct tern_hdr *h);

#endif /* TERN_RX_H */
