package presence_test

import (
	"context"
	"fmt"

	"cpimgw/cpim"
	"cpimgw/presence"
	"cpimgw/store"
)

// printSides prints what the core asks of the sides.
type printSides struct{}

func (printSides) Subscribe(_ context.Context, w, t cpim.Address) error {
	fmt.Println("SIP SUBSCRIBE", w.String(), "→", t.String())
	return nil
}
func (printSides) Unsubscribe(context.Context, cpim.Address, cpim.Address) error { return nil }
func (printSides) Fetch(context.Context, cpim.Address, cpim.Address) error       { return nil }
func (printSides) Notify(_ context.Context, w, t cpim.Address, n cpim.Notification) error {
	body := "no body"
	if n.Presence != nil {
		body = fmt.Sprintf("%d tuple(s)", len(n.Presence.Tuples))
		for _, tu := range n.Presence.Tuples {
			body += fmt.Sprintf(" %s:%s/%s", tu.Resource, tu.Basic, tu.Show)
		}
	}
	fmt.Println("SIP NOTIFY to", w.String(), "of", t.String()+":", n.State, body)
	return nil
}
func (printSides) Publish(context.Context, cpim.Address, *cpim.Presence) error { return nil }
func (printSides) SendPresence(_ context.Context, p cpim.Presence) error {
	for _, tu := range p.Tuples {
		fmt.Println("XMPP presence from", p.Entity.String()+"/"+tu.Resource, "to", p.Watcher.String()+":", tu.Basic, tu.Show)
	}
	return nil
}
func (printSides) SendSubscription(_ context.Context, s cpim.Subscription) error {
	from, to := s.Watcher, s.Target
	if s.Op == cpim.Subscribed || s.Op == cpim.Unsubscribed {
		from, to = to, from
	}
	fmt.Println("XMPP", s.Op, "from", from.String(), "to", to.String())
	return nil
}

// A SIP user subscribes to an XMPP user, who approves and comes online;
// then the XMPP user subscribes to the SIP user, who approves.
func Example() {
	core, err := presence.New(presence.Config{Store: store.NewMemory(), NotifyInterval: -1})
	if err != nil {
		panic(err)
	}
	core.Connect(printSides{}, printSides{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- core.Run(ctx) }()

	juliet := cpim.Address{Local: "juliet", Domain: "example.com"} // XMPP
	romeo := cpim.Address{Local: "romeo", Domain: "example.net"}   // SIP
	sip, xmpp := core.SIPEvents(), core.XMPPEvents()

	// S2X: romeo's SUBSCRIBE; the 200 and this NOTIFY are sipside's.
	n, _ := sip.SubscribeRequest(ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: romeo, Target: juliet})
	fmt.Println("immediate NOTIFY:", n.State)
	xmpp.Subscription(ctx, cpim.Subscription{Op: cpim.Subscribed, Watcher: romeo, Target: juliet})
	xmpp.Presence(ctx, cpim.Presence{Entity: juliet, Watcher: romeo,
		Tuples: []cpim.Tuple{{Resource: "balcony", Basic: cpim.Open, Show: cpim.ShowAway}}})

	// X2S: juliet subscribes to romeo, whose presence server approves.
	xmpp.Subscription(ctx, cpim.Subscription{Op: cpim.Subscribe, Watcher: juliet, Target: romeo})
	sip.Notified(ctx, juliet, romeo, cpim.Notification{State: cpim.SubActive,
		Presence: &cpim.Presence{Tuples: []cpim.Tuple{{Resource: "phone", Basic: cpim.Open}}}})

	cancel()
	<-done
	// Output:
	// XMPP subscribe from romeo@example.net to juliet@example.com
	// immediate NOTIFY: pending
	// SIP NOTIFY to romeo@example.net of juliet@example.com: active no body
	// SIP NOTIFY to romeo@example.net of juliet@example.com: active 1 tuple(s) balcony:open/away
	// SIP SUBSCRIBE juliet@example.com → romeo@example.net
	// XMPP subscribed from romeo@example.net to juliet@example.com
	// XMPP presence from romeo@example.net/phone to juliet@example.com: open
}
