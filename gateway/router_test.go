package gateway

import (
	"context"
	"errors"
	"testing"

	"cpimgw/cpim"
)

// domains marks XMPP domains true and same-domain SIP domains false.
type domains map[string]bool

func (d domains) IsXMPPDomain(s string) bool { return d[s] }
func (d domains) IsSIPDomain(s string) bool {
	x, ok := d[s]
	return ok && !x
}

type sink struct {
	got []cpim.Message
	err error
}

func (s *sink) SendMessage(_ context.Context, m cpim.Message) error {
	s.got = append(s.got, m)
	return s.err
}

func addr(local, domain string) cpim.Address { return cpim.Address{Local: local, Domain: domain} }

// TestNoOpenRelay pins the routing policy (RFC 8048 §8.1, SEC-03).
func TestNoOpenRelay(t *testing.T) {
	xmppDomain, sipDomain := "xmpp.example.test", "sip.example.test"
	cases := []struct {
		name       string
		foreign    bool // routes.foreign_sip: escape
		fromXMPP   bool
		from, to   cpim.Address
		wantCond   cpim.Condition // "" = delivered
		wantStatus int
	}{
		{"XMPP user to SIP user", true, true, addr("alice", xmppDomain), addr("bob", sipDomain), "", 0},
		{"XMPP user to foreign SIP user", true, true, addr("alice", xmppDomain), addr("carol", "other.example"), "", 0},
		{"foreign XMPP domain", true, true, addr("eve", "evil.example"), addr("bob", sipDomain), cpim.Forbidden, 0},
		{"XMPP to XMPP through the gateway", true, true, addr("alice", xmppDomain), addr("dave", xmppDomain), cpim.ItemNotFound, 0},
		{"SIP user to XMPP user", true, false, addr("bob", sipDomain), addr("alice", xmppDomain), "", 0},
		{"foreign SIP user to XMPP user", true, false, addr("carol", "other.example"), addr("alice", xmppDomain), "", 0},
		{"foreign SIP user when rejected", false, false, addr("carol", "other.example"), addr("alice", xmppDomain), cpim.Forbidden, 403},
		{"SIP user to an unserved domain", true, false, addr("bob", sipDomain), addr("x", "elsewhere.example"), cpim.ItemNotFound, 404},
		{"SIP user posing as XMPP user", true, false, addr("alice", xmppDomain), addr("dave", xmppDomain), cpim.Forbidden, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := New(domains{xmppDomain: true, sipDomain: false}, tc.foreign, nil)
			sipOut, xmppOut := &sink{}, &sink{}
			r.Connect(sipOut, xmppOut)
			m := cpim.Message{From: tc.from, To: tc.to, Bodies: []cpim.Text{{Text: "hi"}}}
			var err error
			out := xmppOut
			if tc.fromXMPP {
				err, out = r.FromXMPP().Message(context.Background(), m), sipOut
			} else {
				err = r.FromSIP().Message(context.Background(), m)
			}
			if tc.wantCond == "" {
				if err != nil || len(out.got) != 1 || !out.got[0].To.Equal(tc.to) {
					t.Fatalf("err %v, delivered %v", err, out.got)
				}
				return
			}
			var e *cpim.Error
			if !errors.As(err, &e) || e.Condition != tc.wantCond || e.Status != tc.wantStatus {
				t.Fatalf("got %v, want %s/%d", err, tc.wantCond, tc.wantStatus)
			}
			if len(sipOut.got)+len(xmppOut.got) != 0 {
				t.Fatal("a refused message was delivered")
			}
		})
	}
}

// TestSenderErrorPassesThrough: the other side's error reaches the sender
// unchanged (it carries the mapped condition and status).
func TestSenderErrorPassesThrough(t *testing.T) {
	r := New(domains{"xmpp.example.test": true}, true, nil)
	busy := &cpim.Error{Condition: cpim.RecipientUnavailable, Status: 486}
	r.Connect(&sink{err: busy}, &sink{})
	err := r.FromXMPP().Message(context.Background(), cpim.Message{From: addr("a", "xmpp.example.test"), To: addr("b", "sip.example.test")})
	if err != busy {
		t.Fatalf("got %v", err)
	}
}

func TestNotConnected(t *testing.T) {
	r := New(domains{"xmpp.example.test": true}, true, nil)
	err := r.FromSIP().Message(context.Background(), cpim.Message{From: addr("b", "sip.example.test"), To: addr("a", "xmpp.example.test")})
	if cpim.ConditionOf(err) != cpim.ServiceUnavailable {
		t.Fatalf("got %v", err)
	}
}
