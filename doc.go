// Package cpimgw is a SIP/SIMPLE ⇄ XMPP interworking gateway.
//
// The module is laid out so that data flows one way per direction:
//
//	wire → side decoder → cpim value → mapping → other side encoder → wire
//
// The packages:
//
//   - cpim: the neutral model (RFC 3860/3859/3922) and its codecs;
//   - mapping: the pure translation rules (addresses, messages, presence,
//     errors) between cpim and each protocol;
//   - xmppside: the XEP-0114 component towards an XMPP server;
//   - sipside: the SIMPLE endpoint towards a SIP proxy or presence server;
//   - gateway: the router between the sides;
//   - cmd/cpimgw: configuration, logging, wiring and signals.
//
// The root package holds no code; its test enforces the dependency
// direction above.
package cpimgw
