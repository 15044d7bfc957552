package sipside

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"cpimgw/cpim"
)

// testCert returns a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gateway test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestTLS sends a MESSAGE from one endpoint to another over TLS (SEC-01):
// the first listens on a tls listener, the second reaches it through an
// outbound proxy URI with transport=tls and verifies its certificate.
func TestTLS(t *testing.T) {
	cert, pool := testCert(t)
	h := &recorder{}
	server, _ := newRunning(t, Config{
		Listen: []string{"tls:127.0.0.1:0"},
		TLS:    &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}, h)
	client, _ := newRunning(t, Config{
		Listen:        []string{"udp:127.0.0.1:0"},
		TLS:           &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		OutboundProxy: "sip:" + addrOf(t, server, "tls") + ";transport=tls",
	}, &recorder{})
	// An XMPP user's message to another XMPP user's URI goes out and
	// comes back in: the far endpoint accepts it for its XMPP domain.
	m := outMessage()
	m.To.Local, m.To.Domain = "romeo", "xmpp.example"
	if err := client.SendMessage(context.Background(), m); err != nil {
		t.Fatalf("SendMessage over TLS: %v", err)
	}
	got := h.messages()
	if len(got) != 1 || got[0].Bodies[0].Text != "Art thou not Romeo?" {
		t.Fatalf("far end got %v", got)
	}
	if got[0].From.Resource != "balcony" {
		t.Errorf("from %v: the gr resource was lost (ADR-17/ADR-18)", got[0].From)
	}
}

// TestTLSUntrusted checks that an unverified certificate fails the message
// (remote-server-timeout: the transport failed).
func TestTLSUntrusted(t *testing.T) {
	cert, _ := testCert(t)
	server, _ := newRunning(t, Config{
		Listen: []string{"tls:127.0.0.1:0"},
		TLS:    &tls.Config{Certificates: []tls.Certificate{cert}},
	}, &recorder{})
	client, _ := newRunning(t, Config{
		Listen:        []string{"udp:127.0.0.1:0"},
		TLS:           &tls.Config{RootCAs: x509.NewCertPool()},
		OutboundProxy: "sip:" + addrOf(t, server, "tls") + ";transport=tls",
	}, &recorder{})
	m := outMessage()
	m.To.Domain = "xmpp.example"
	err := client.SendMessage(context.Background(), m)
	if cpim.ConditionOf(err) != cpim.RemoteServerTimeout {
		t.Fatalf("got %v, want remote-server-timeout", err)
	}
}
