package peers

import (
	"context"
	"os"
	"testing"
	"time"
)

// requireBinary fails when CI=true and the binary is missing, skips
// otherwise (the house rule for tests that need a real peer).
func requireBinary(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", path, err)
		}
		t.Skipf("%s not installed: %v", path, err)
	}
}

// TestProsodyHarness checks the harness itself: a rendered Prosody starts
// on loopback, two users log in over c2s and exchange a message.
func TestProsodyHarness(t *testing.T) {
	requireBinary(t, ProsodyBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := NewProsody(ProsodyOptions{
		Dir: t.TempDir(), Domain: "xmpp.example.test",
		Components: map[string]string{"sip.example.test": "s3cret"},
		Users:      map[string]string{"alice": "pw-a", "bob": "pw-b"},
		Logf:       t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	alice, err := Login(ctx, p.C2SAddr(), "alice@xmpp.example.test/a", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, err := Login(ctx, p.C2SAddr(), "bob@xmpp.example.test/b", "pw-b")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if err := alice.SendMessage(ctx, "bob@xmpp.example.test", "h1", "en", "hello", ""); err != nil {
		t.Fatal(err)
	}
	m, err := bob.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != "hello" || m.From != alice.JID.String() || m.ID != "h1" {
		t.Fatalf("bob got %+v", m)
	}
	if _, err := Login(ctx, p.C2SAddr(), "alice@xmpp.example.test/c", "wrong"); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
}
