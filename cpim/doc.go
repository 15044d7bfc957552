// Package cpim is the neutral model both protocol sides of the gateway speak:
// the Common Profile for Instant Messaging (RFC 3860) and for Presence
// (RFC 3859), as RFC 3922 uses them between SIP/SIMPLE and XMPP.
//
// It owns:
//   - [Address], the canonical identity of a user (Unicode localpart, U-label
//     domain, optional resource), plus the original SIP URI kept verbatim
//     because the mapping to XMPP is lossy (RFC 3261 §19.1.4 compares user
//     parts case-sensitively; RFC 7622 case-maps localparts);
//   - [Message], a page-mode instant message with the fields the direct
//     mappings of RFC 7572 need beyond CPIM (thread, type, per-language
//     bodies and subjects, content parts, opaque extensions);
//   - [Presence], per-resource presence tuples (RFC 3863 basic status, the
//     XMPP show sub-state, per-language notes, priority, timestamp);
//   - [Subscription] operations and their responses (RFC 3859 §3, RFC 6121 §3);
//   - [Error], a closed set of error conditions that is a real Go error;
//   - the codecs for Message/CPIM (RFC 3862, [ParseEnvelope]) and PIDF
//     (RFC 3863) with RPID activities (RFC 4480) and the jabber:client show
//     extension (RFC 8048 §6.2 note 7) ([ParsePIDF]).
//
// The package imports nothing of the gateway's own, performs no I/O and does
// not log. Translation rules between the model and each protocol live in
// package mapping; the wire work lives in the sides.
package cpim
