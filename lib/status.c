/*
 * status.c — status codes and their messages: the errno <-> code table,
 * the message a handler answers with (checked, cut to fit, kept in a
 * msgbuf for the response cache), and the message a caller receives
 * (checked, handed to the continuation NUL-terminated).
 *
 * The wire form is wire.h's: an error response with TERN_WF_STATUS carries
 * the code in status and the message as its body. serve.c caches and sends
 * it like any error response; call.c ends the call with it.
 */
#include <string.h>

#include "status.h"

/*
 * errno <-> code, one table. A code's first row is its own errno (what a
 * caller's status holds for it); the others only map to the code. tern.h
 * lists the same rows in enum tern_status_code: keep the two together.
 */
static const struct {
	uint8_t err, code;
} errno_codes[] = {
	{ECANCELED, TERN_STATUS_CANCELLED},
	{EREMOTEIO, TERN_STATUS_UNKNOWN},
	{EINVAL, TERN_STATUS_INVALID_ARGUMENT},
	{EDOM, TERN_STATUS_INVALID_ARGUMENT},
	{E2BIG, TERN_STATUS_INVALID_ARGUMENT},
	{ENAMETOOLONG, TERN_STATUS_INVALID_ARGUMENT},
	{EILSEQ, TERN_STATUS_INVALID_ARGUMENT},
	{ETIMEDOUT, TERN_STATUS_DEADLINE_EXCEEDED},
	{ETIME, TERN_STATUS_DEADLINE_EXCEEDED},
	{ENOENT, TERN_STATUS_NOT_FOUND},
	{ENXIO, TERN_STATUS_NOT_FOUND},
	{ENODEV, TERN_STATUS_NOT_FOUND},
	{ESRCH, TERN_STATUS_NOT_FOUND},
	{EEXIST, TERN_STATUS_ALREADY_EXISTS},
	{EACCES, TERN_STATUS_PERMISSION_DENIED},
	{EPERM, TERN_STATUS_PERMISSION_DENIED},
	{EROFS, TERN_STATUS_PERMISSION_DENIED},
	{ENOSPC, TERN_STATUS_RESOURCE_EXHAUSTED},
	{ENOMEM, TERN_STATUS_RESOURCE_EXHAUSTED},
	{EDQUOT, TERN_STATUS_RESOURCE_EXHAUSTED},
	{ENOBUFS, TERN_STATUS_RESOURCE_EXHAUSTED},
	{EMFILE, TERN_STATUS_RESOURCE_EXHAUSTED},
	{ENFILE, TERN_STATUS_RESOURCE_EXHAUSTED},
	{EMSGSIZE, TERN_STATUS_RESOURCE_EXHAUSTED},
	{EBADFD, TERN_STATUS_FAILED_PRECONDITION},
	{ENOTEMPTY, TERN_STATUS_FAILED_PRECONDITION},
	{EISDIR, TERN_STATUS_FAILED_PRECONDITION},
	{ENOTDIR, TERN_STATUS_FAILED_PRECONDITION},
	{ETXTBSY, TERN_STATUS_FAILED_PRECONDITION},
	{EDEADLK, TERN_STATUS_ABORTED},
	{ERANGE, TERN_STATUS_OUT_OF_RANGE},
	{EFBIG, TERN_STATUS_OUT_OF_RANGE},
	{EOVERFLOW, TERN_STATUS_OUT_OF_RANGE},
	{EOPNOTSUPP, TERN_STATUS_UNIMPLEMENTED},
	{ENOSYS, TERN_STATUS_UNIMPLEMENTED},
	{EPROTONOSUPPORT, TERN_STATUS_UNIMPLEMENTED},
	{EAFNOSUPPORT, TERN_STATUS_UNIMPLEMENTED},
	{EIO, TERN_STATUS_INTERNAL},
	{EPROTO, TERN_STATUS_INTERNAL},
	{EBADMSG, TERN_STATUS_INTERNAL},
	{EAGAIN, TERN_STATUS_UNAVAILABLE},
	{EBUSY, TERN_STATUS_UNAVAILABLE},
	{ECONNREFUSED, TERN_STATUS_UNAVAILABLE},
	{ECONNRESET, TERN_STATUS_UNAVAILABLE},
	{ECONNABORTED, TERN_STATUS_UNAVAILABLE},
	{ENOTCONN, TERN_STATUS_UNAVAILABLE},
	{EHOSTUNREACH, TERN_STATUS_UNAVAILABLE},
	{ENETUNREACH, TERN_STATUS_UNAVAILABLE},
	{ENETDOWN, TERN_STATUS_UNAVAILABLE},
	{EHOSTDOWN, TERN_STATUS_UNAVAILABLE},
	{EPIPE, TERN_STATUS_UNAVAILABLE},
	{ESHUTDOWN, TERN_STATUS_UNAVAILABLE},
	{EUCLEAN, TERN_STATUS_DATA_LOSS},
	{ENOKEY, TERN_STATUS_UNAUTHENTICATED},
	{EKEYREJECTED, TERN_STATUS_UNAUTHENTICATED},
	{EKEYEXPIRED, TERN_STATUS_UNAUTHENTICATED},
};
#define NROWS (sizeof(errno_codes) / sizeof(errno_codes[0]))

static_assert(TERN_STATUS_MAX == TERN_WIRE_CODE_MAX, "tern.h and wire.h agree on the codes");
static_assert(TERN_STATUS_MSG_MAX == TERN_WIRE_STATUS_MSG_MAX,
	      "tern.h and wire.h agree on the message limit");

static const char *const names[TERN_STATUS_MAX + 1] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *tern_status_name(int code)
{
	return code >= 0 && code <= TERN_STATUS_MAX ? names[code] : "?";
}

int tern_status_from_errno(int err)
{
	if (err == 0)
		return TERN_STATUS_OK;
	for (size_t i = 0; i < NROWS; i++)
		if (-err == errno_codes[i].err)
			return errno_codes[i].code;
	return TERN_STATUS_UNKNOWN;
}

int tern_status_to_errno(int code)
{
	if (code == TERN_STATUS_OK)
		return 0;
	for (size_t i = 0; i < NROWS; i++)
		if (code == errno_codes[i].code)
			return -(int)errno_codes[i].err;
	return -EREMOTEIO;
}

/* --- messages ------------------------------------------------------------------ */

/*
 * Is p[0..n) well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) without NUL? Messages reach C strings and
 * terminals: a NUL would cut one short without a trace.
 */
int tern_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			if (c == 0)
				return 0;
			i++;
			continue;
		}
		size_t k;
		uint8_t lo = 0x80, hi = 0xbf; /* range of the byte after the lead */
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			else if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			else if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return 0; /* a continuation byte, 0xc0, 0xc1, 0xf5..0xff */
		}
		if (n - i <= k)
			return 0; /* cut short */
		if (p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

size_t tern_utf8_cut(const char *msg, size_t n, size_t limit)
{
	if (n <= limit)
		return n;
	n = limit;
	/* msg[n] is the first byte left out: if it continues a character, that
	 * character straddles the limit and goes too. */
	while (n > 0 && ((uint8_t)msg[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int tern_status_msg(struct tern_ep *ep, const char *msg, size_t limit, struct tern_msg **out)
{
	*out = NULL;
	if (msg == NULL)
		return 0;
	size_t full = strlen(msg);
	if (!tern_utf8_valid((const uint8_t *)msg, full)) {
		tern_log(ep, TERN_LOG_ERR, "tern_respond_status: the message is not valid UTF-8");
		return -EINVAL;
	}
	size_t n = tern_utf8_cut(msg, full, limit);
	if (n != full)
		tern_log(ep, TERN_LOG_DEBUG, "status message cut from %zu to %zu bytes", full, n);
	if (n == 0)
		return 0;
	struct tern_msg *m = tern_msg_alloc(ep, n);
	if (m == NULL) {
		tern_log(ep, TERN_LOG_WARN, "no memory for a status message: the code goes alone");
		return 0;
	}
	memcpy(m->data, msg, n);
	*out = m;
	return 0;
}

void tern_call_error(struct tern_ep *ep, struct call_slot *c, const struct tern_hdr *h,
		     const uint8_t *payload, uint32_t len)
{
	char text[TERN_STATUS_MSG_MAX + 1];
	int err = h->status; /* plain: an errno value, and no body (tern_wire_check_error) */
	if (h->flags & TERN_WF_STATUS) {
		/* Code and length were checked with the header; the text is checked here,
		 * before anything of it is used. */
		if (!tern_utf8_valid(payload, len)) {
			tern_rx_drop(ep, TERN_DROP_STATUS);
			return;
		}
		err = -tern_status_to_errno(h->status);
		memcpy(text, payload, len);
	} else {
		len = 0;
	}
	text[len] = '\0';
	/* An error answer ends the call at once, whatever was still being sent. */
	c->resp_npkts = 1;
	tern_call_complete(c, -err, text, len);
}

void tern_result_failed(struct tern_result *r)
{
	r->code = tern_status_from_errno(r->status);
	r->message = r->data != NULL ? r->data : "";
	r->message_len = r->data != NULL ? r->len : 0;
	r->data = NULL;
	r->len = 0;
}
