/*
 * pacer.c — the pacer: spaces the packets of a session whose congestion
 * window (cc.c) is below one packet, one per gap_ns, on the endpoint's
 * timing wheel. It owns struct tern_cc's next_ns and timer.
 *
 * It sits in the transmit path behind the credits: credits.h lets a packet
 * go at once while the session's credits are above credits_floor; a paced
 * session's floor is all of them, so each of its packets asks here. A
 * packet may leave when the previous one left gap_ns ago (late polls do not
 * bunch packets: the schedule moves on from when the last one was due, or
 * from now after an idle spell). When one may not, the session's calls
 * wait in want_tx (credits.c) and the pacer's timer, armed for next_ns,
 * resumes them. A session not paced never comes here.
 */
#include "call.h"
#include "cc.h"

int tern_pacer_ready(const struct tern_session *s)
{
	return s->cc.paced && s->credits != 0 && s->ep->now >= s->cc.next_ns;
}

int tern_pacer_admit(struct tern_session *s)
{
	struct tern_cc *cc = &s->cc;
	if (!cc->paced)
		return 0; /* the window is full: a credit coming back resumes it */
	struct tern_ep *ep = s->ep;
	uint64_t now = ep->now;
	if (now < cc->next_ns) {
		/* Armed even without credits: a credit coming back before
		 * next_ns finds the pacer not ready, and only the timer
		 * resumes the call then. */
		tern_wheel_arm_by(&ep->wheel, &cc->timer, cc->next_ns);
		return 0;
	}
	if (s->credits == 0)
		return 0; /* a credit coming back finds it ready */
	uint64_t from = cc->next_ns + cc->gap_ns > now ? cc->next_ns : now;
	cc->next_ns = from + cc->gap_ns;
	return 1;
}

void tern_pacer_timer(struct tern_ep *ep, struct tern_session *s)
{
	if (ep->now < s->cc.next_ns) { /* armed for an earlier time: set it right */
		tern_wheel_arm(&ep->wheel, &s->cc.timer, s->cc.next_ns);
		return;
	}
	if (s->want_tx != 0 && s->state == SESS_CONNECTED && !s->tearing)
		tern_calls_kick(s);
}

void tern_pacer_stop(struct tern_session *s)
{
	tern_wheel_cancel(&s->ep->wheel, &s->cc.timer);
}
