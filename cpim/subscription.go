package cpim

import "time"

// SubscriptionOp is a presence subscription operation. XMPP has five
// (RFC 6121 §3); the CPP subscribe operation (RFC 3859 §3) maps onto them as
// INTERWORKING.md §1.2 lays out.
type SubscriptionOp string

// The subscription operations.
const (
	// Subscribe asks for authorization to see the target's presence (CPP
	// subscribe with a duration).
	Subscribe SubscriptionOp = "subscribe"
	// Unsubscribe withdraws the watcher's subscription (CPP subscribe with
	// duration 0 in the same subscription).
	Unsubscribe SubscriptionOp = "unsubscribe"
	// Subscribed grants a pending request (the target's approval).
	Subscribed SubscriptionOp = "subscribed"
	// Unsubscribed denies a request or revokes an authorization.
	Unsubscribed SubscriptionOp = "unsubscribed"
	// Probe asks for the current state once (CPP subscribe with duration 0
	// in a new subscription, a "fetch").
	Probe SubscriptionOp = "probe"
)

// Subscription is one subscription operation between a watcher and a
// presentity (the target). Both addresses are bare (RFC 6121 §3.1.1, SUB-29).
type Subscription struct {
	Op      SubscriptionOp
	Watcher Address
	Target  Address
	// Duration is the requested lifetime of a SIP subscription; zero when
	// the source protocol has none (XMPP authorizations are permanent).
	Duration time.Duration
	// ID identifies the operation for correlating its response (the CPP
	// TransID, an XMPP stanza id, a SIP dialog id).
	ID string
	// Renewal marks a subscribe that refreshes an existing SIP
	// subscription (a refresh SUBSCRIBE) rather than asking anew.
	Renewal bool
}

// SubscriptionStatus is the outcome of a subscription operation.
type SubscriptionStatus string

// The outcomes of RFC 3859 §3 responses, plus Pending for an accepted
// request still awaiting the presentity's decision (RFC 6665 §4.1.3 pending
// state).
const (
	SubscriptionAccepted SubscriptionStatus = "accepted"
	SubscriptionPending  SubscriptionStatus = "pending"
	SubscriptionFailed   SubscriptionStatus = "failed"
)

// SubscriptionResponse answers a [Subscription].
type SubscriptionResponse struct {
	Op      SubscriptionOp // the operation answered
	Watcher Address
	Target  Address
	ID      string
	Status  SubscriptionStatus
	// Duration is the granted lifetime, if any.
	Duration time.Duration
	// Err says why the operation failed; set when Status is
	// SubscriptionFailed.
	Err *Error
}

// SubState is the state of a SIP event subscription (RFC 6665 §4.1.3,
// Subscription-State header), which the CPP notify operation carries.
type SubState string

// The subscription states.
const (
	SubPending    SubState = "pending"
	SubActive     SubState = "active"
	SubTerminated SubState = "terminated"
)

// The reasons of a terminated subscription (RFC 6665 §4.1.3, §8.2.2).
const (
	ReasonDeactivated = "deactivated"
	ReasonProbation   = "probation"
	ReasonRejected    = "rejected"
	ReasonTimeout     = "timeout"
	ReasonGiveUp      = "giveup"
	ReasonNoResource  = "noresource"
	ReasonInvariant   = "invariant"
)

// Notification is one notification of a subscription's state (a NOTIFY):
// the state, for a terminated one its reason and an optional retry time,
// the remaining lifetime of an active or pending one, and the presence it
// carries. Presence is nil for a notification without a body (RFC 8048
// §5.2.1: the state is then unknown).
type Notification struct {
	State      SubState
	Reason     string
	RetryAfter time.Duration
	Expires    time.Duration
	Presence   *Presence
}
