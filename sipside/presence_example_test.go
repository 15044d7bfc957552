package sipside_test

import (
	"context"
	"fmt"
	"log/slog"

	"cpimgw/cpim"
	"cpimgw/mapping"
	"cpimgw/sipside"
)

// presenceLog is a PresenceHandler that prints what it gets. As notifier
// it answers every subscription with state, the presence of the target.
type presenceLog struct {
	name  string
	state *cpim.Presence
	seen  chan struct{}
}

func (p presenceLog) SubscribeRequest(_ context.Context, s cpim.Subscription) (cpim.Notification, error) {
	fmt.Printf("%s: %s from %s to %s (%v)\n", p.name, s.Op, s.Watcher, s.Target, s.Duration)
	defer func() { p.seen <- struct{}{} }()
	return cpim.Notification{State: cpim.SubActive, Presence: p.state}, nil
}

func (p presenceLog) Notified(_ context.Context, w, t cpim.Address, n cpim.Notification) error {
	for _, tu := range n.Presence.Tuples {
		fmt.Printf("%s: %s sees %s/%s %s %s %q (%s)\n", p.name, w, t, tu.Resource, tu.Basic, tu.Show, tu.Notes[0].Text, n.State)
	}
	p.seen <- struct{}{}
	return nil
}

func (p presenceLog) SubscriptionEnded(context.Context, cpim.Address, cpim.Address, string) error {
	return nil
}
func (p presenceLog) SubscribeFailed(_ context.Context, w, t cpim.Address, e *cpim.Error, _ bool) error {
	fmt.Printf("%s: subscription of %s to %s failed: %v\n", p.name, w, t, e)
	return nil
}
func (p presenceLog) RefreshDue(context.Context, cpim.Address, cpim.Address) error { return nil }

// Two endpoints on loopback, each the gateway of the other's users: the
// first subscribes for its XMPP user juliet to romeo (X2S, the subscriber
// role), the second answers as romeo's presence agent (S2X, the notifier
// role) with his presence, then juliet unsubscribes.
func Example_presence() {
	quiet := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	var running []chan error
	defer func() {
		cancel()
		for _, done := range running {
			<-done
		}
	}()
	start := func(d mapping.Domains, cfg sipside.Config) *sipside.Endpoint {
		m, err := mapping.NewMapper(d)
		if err != nil {
			panic(err)
		}
		cfg.Listen = []string{"udp:127.0.0.1:0"}
		noMessages := sipside.HandlerFunc(func(context.Context, cpim.Message) error { return nil })
		ep, err := sipside.New(cfg, m, noMessages, quiet)
		if err != nil {
			panic(err)
		}
		done := make(chan error, 1)
		running = append(running, done)
		go func() { done <- ep.Run(ctx) }()
		if err := ep.WaitReady(ctx); err != nil {
			panic(err)
		}
		return ep
	}
	romeo := cpim.Address{Local: "romeo", Domain: "sip.example"}
	juliet := cpim.Address{Local: "juliet", Domain: "xmpp.example"}

	// The notifier serves romeo, whose presence it knows.
	notifierSeen := make(chan struct{}, 4)
	notifier := start(mapping.Domains{Component: "gw.sip.example", XMPP: []string{"sip.example"}, SIP: []string{"xmpp.example"}},
		sipside.Config{Presence: presenceLog{name: "notifier", seen: notifierSeen, state: &cpim.Presence{
			Entity: romeo,
			Tuples: []cpim.Tuple{{Resource: "phone", Basic: cpim.Open, Show: cpim.ShowAway, Notes: []cpim.Text{{Text: "in the garden"}}}},
		}}})

	// The subscriber serves juliet and sends its requests to the notifier.
	subscriberSeen := make(chan struct{}, 4)
	subscriber := start(mapping.Domains{Component: "gw.xmpp.example", XMPP: []string{"xmpp.example"}, SIP: []string{"sip.example"}},
		sipside.Config{Presence: presenceLog{name: "subscriber", seen: subscriberSeen},
			OutboundProxy: "sip:" + notifier.Addrs()[0][len("udp:"):]})

	if err := subscriber.Subscribe(ctx, juliet, romeo); err != nil {
		panic(err)
	}
	<-notifierSeen
	<-subscriberSeen
	if err := subscriber.Unsubscribe(ctx, juliet, romeo); err != nil {
		panic(err)
	}
	<-notifierSeen
	// Output:
	// notifier: subscribe from juliet@xmpp.example to romeo@sip.example (1h0m0s)
	// subscriber: juliet@xmpp.example sees romeo@sip.example/phone open away "in the garden" (active)
	// notifier: unsubscribe from juliet@xmpp.example to romeo@sip.example (0s)
}
