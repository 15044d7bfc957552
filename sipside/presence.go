package sipside

import (
	"context"

	"cpimgw/cpim"
)

// PresenceHandler receives the presence events of the SIP side (the
// presence core implements it). Calls for one (watcher, target) pair are
// made one at a time, in the order the events happened.
type PresenceHandler interface {
	// SubscribeRequest is called for a SUBSCRIBE the endpoint accepted as
	// well-formed (Event presence, Accept, Expires within bounds,
	// addresses mapped), as a cpim.Subscription from the SIP watcher to the
	// XMPP target with ID = the dialog id: Op Subscribe with Duration = the
	// granted expiry (Renewal set for a refresh), Op Unsubscribe for
	// Expires: 0 in a dialog, Op Probe for Expires: 0 outside one (a fetch).
	// The returned notification is sent at once after the 200 (RFC 6665
	// §4.2.1.2); its Expires is filled in by the endpoint. An error refuses
	// the SUBSCRIBE with its mapped status (403/603 by policy, 503 with
	// Retry-After over a limit).
	SubscribeRequest(ctx context.Context, s cpim.Subscription) (cpim.Notification, error)
	// SubscriptionEnded reports a notifier dialog that ended without the
	// watcher unsubscribing: it expired unrefreshed (the endpoint sent
	// terminated;reason=timeout, RFC 6665 §4.2.1.4) or a NOTIFY failed
	// (RFC 6665 §4.2.2); reason says which ("timeout", "notify-failed").
	SubscriptionEnded(ctx context.Context, watcher, target cpim.Address, reason string) error
	// Notified reports a NOTIFY received in a subscriber dialog (already
	// answered 200), including the first one, which may precede the 2xx of
	// the SUBSCRIBE (RFC 6665 §4.1.2.4).
	Notified(ctx context.Context, watcher, target cpim.Address, n cpim.Notification) error
	// SubscribeFailed reports a SUBSCRIBE the endpoint could not get
	// through: a final response ≥ 300 it does not handle itself (it retries
	// 423 with Min-Expires and answers 401/407 with credentials), no final
	// response, or Timer N expiring without a NOTIFY (RFC 6665 §4.1.2.4).
	// e.Status is the SIP status (408 for timeouts); initial says whether
	// it was the dialog's first SUBSCRIBE (RFC 3922 §6.1 vs RFC 6665
	// §4.1.2.2).
	SubscribeFailed(ctx context.Context, watcher, target cpim.Address, e *cpim.Error, initial bool) error
	// RefreshDue reports a subscriber dialog close to expiry; the core
	// refreshes it (Subscribe) or lets it lapse (RFC 8048 §5.2.2).
	RefreshDue(ctx context.Context, watcher, target cpim.Address) error
}
