// Package mapping holds the pure translation rules of the gateway between
// the neutral model of package cpim and each protocol's fields:
//
//   - addresses: SIP/im/pres URIs ⇄ cpim.Address ⇄ JIDs (RFC 7247 §6,
//     XEP-0106, RFC 7622), in the same-domain and gateway-subdomain modes
//     chosen per domain by a [Mapper];
//   - messages: XMPP <message/> fields ⇄ cpim.Message ⇄ SIP MESSAGE fields
//     (RFC 7572 §4–8, RFC 3922 §4 for Message/CPIM bodies);
//   - presence: XMPP show/status/priority ⇄ cpim.Presence ⇄ PIDF/RPID
//     (RFC 8048 §6, RFC 3922 §5, RFC 4480);
//   - errors: SIP status codes ⇄ cpim.Error ⇄ XMPP stanza errors
//     (RFC 7247 §7 Tables 2 and 3, RFC 6120 §8.3).
//
// Rules are cited by their section or by their checklist id in the
// project's standards digest (INTERWORKING.md, e.g. ADR-05).
//
// The package imports cpim and, for JID parsing and PRECIS, mellium's jid
// package. It performs no I/O and does not log: every function is a pure
// function of its arguments, so every rule is table-testable.
package mapping
