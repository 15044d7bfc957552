package sipside_test

import (
	"context"
	"fmt"
	"log/slog"

	"cpimgw/cpim"
	"cpimgw/mapping"
	"cpimgw/sipside"
)

// Two endpoints on loopback: the first stands for a gateway receiving
// MESSAGEs for its XMPP users (S2X), the second sends one to it through its
// outbound proxy setting (X2S). A program calls sipside.SetGlobals once in
// main before creating endpoints.
func Example() {
	mapper, err := mapping.NewMapper(mapping.Domains{
		Component: "gw.example",
		XMPP:      []string{"xmpp.example"},
		SIP:       []string{"sip.example"},
	})
	if err != nil {
		panic(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	var running []chan error
	defer func() {
		cancel() // Run closes the listeners and returns
		for _, done := range running {
			<-done
		}
	}()
	start := func(cfg sipside.Config, h sipside.Handler) *sipside.Endpoint {
		ep, err := sipside.New(cfg, mapper, h, quiet)
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

	// The Handler writes the message to the XMPP stream; here it prints it.
	toXMPP := sipside.HandlerFunc(func(_ context.Context, m cpim.Message) error {
		fmt.Printf("to XMPP: from %s to %s: %q (thread %s)\n", m.From, m.To, m.Bodies[0].Text, m.Thread)
		return nil
	})
	gw := start(sipside.Config{Listen: []string{"udp:127.0.0.1:0"}}, toXMPP)

	proxy := "sip:" + gw.Addrs()[0][len("udp:"):]
	sender := start(sipside.Config{Listen: []string{"udp:127.0.0.1:0"}, OutboundProxy: proxy},
		sipside.HandlerFunc(func(context.Context, cpim.Message) error { return nil }))

	err = sender.SendMessage(ctx, cpim.Message{
		From:   cpim.Address{Local: "juliet", Domain: "xmpp.example", Resource: "balcony"},
		To:     cpim.Address{Local: "romeo", Domain: "xmpp.example"},
		Thread: "act2",
		Bodies: []cpim.Text{{Text: "Wherefore art thou?"}},
	})
	fmt.Println("SendMessage:", err)
	// Output:
	// to XMPP: from juliet@xmpp.example/balcony to romeo@xmpp.example: "Wherefore art thou?" (thread act2)
	// SendMessage: <nil>
}
