// Package xmppside is the gateway's XMPP side: an external component of an
// XMPP server (XEP-0114, jabber:component:accept) that owns the gateway's
// domain and turns stanzas into cpim values and back.
//
// It owns the component link and its health: dialling (optionally over TLS
// to a TLS component port), the handshake under a deadline (mellium ignores
// the context there), reconnection with capped exponential backoff and
// jitter, dead-peer detection by TCP keepalive and XEP-0199 pings, and an
// orderly goodbye on shutdown. While the link is down, senders get an error
// carrying a retry time, so the SIP side can answer 503 + Retry-After
// (INTERWORKING.md §5.4, CMP-08).
//
// Incoming stanzas are read on mellium's single Serve goroutine. The handler
// there never blocks and never calls Session.Send: it answers what it can at
// once through the response writer (disco#info, pings, unknown IQs,
// malformed stanzas) and hands every message to a bounded worker pool
// sharded by conversation, so messages of one conversation keep their
// order. A full queue is answered with a wait/resource-constraint error,
// never dropped. No handler ever returns an error: mellium would close the
// whole stream, cutting off every user (LIBRARY-NOTES.md §2.3).
//
// Every stanza the component sends carries a from address in its domain
// and a to address (XEP-0114 §3, CMP-04).
package xmppside
