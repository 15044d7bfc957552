// Package sipside is the SIMPLE endpoint of the gateway for page-mode
// instant messaging: it listens for SIP MESSAGE requests from SIP users and
// sends MESSAGE requests on behalf of XMPP users, on top of sipgo's
// transaction and transport layers.
//
// It owns:
//
//   - the listeners (UDP, TCP, TLS) and the sipgo user agent, server and
//     client of one [Endpoint], and their shutdown;
//   - S2X ([Handler]): the checks a UAS makes before it accepts a MESSAGE
//     into XMPP and the responses the gateway itself generates
//     (INTERWORKING.md §5.4: 403 for untrusted sources, 483 for
//     Max-Forwards 0 (SEC-02), 420 + Unsupported (RFC 3261 §8.2.2.3, ERR-10),
//     480 + Warning 380 for sips (RFC 7247 §8, RFC 5630, ADR-23), 416
//     (RFC 3261 §8.2.2.1, ADR-22), 400 and 404 for addresses (§2.3), 413
//     (§4.6), 415 + Accept (RFC 3261 §8.2.3, MSG-15), 405 + Allow
//     (RFC 3261 §8.2.1, ERR-10), 503 + Retry-After while the XMPP side is
//     down (CMP-08)), the reading of a MESSAGE into the fields of RFC 7572
//     §5 Table 2 (compact header forms included, RFC 3261 §7.3.3) and the
//     final 2xx without body or Contact (RFC 3428 §7, MSG-08, MSG-11);
//   - X2S ([Endpoint.SendMessage]): building a fresh MESSAGE request per
//     transaction from the fields of RFC 7572 §4 Table 1 (From with the
//     resource as gr, ADR-17; CSeq increasing per Call-ID, RFC 3261
//     §8.1.1.5, MSG-27; Max-Forwards 70; no Contact, RFC 3428 §4), with
//     every XMPP-derived header value sanitised; one outstanding MESSAGE per
//     destination URI (RFC 3428 §8, MSG-09); requests over the UDP size
//     limit sent over TCP to the same next hop (RFC 3261 §18.1.1) or refused
//     with policy-violation (RFC 7572 §6, MSG-07); digest authentication
//     (RFC 3261 §22.2); the final response mapped to a cpim error
//     (RFC 7247 §7.2).
//
// The address and message rules themselves live in package mapping; this
// package only moves their results between sipgo values and cpim values.
// It never imports the XMPP side.
//
// sipgo keeps timers and its logger in package globals: set them once per
// process with [SetGlobals].
package sipside
