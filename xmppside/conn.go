package xmppside

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/component"
	"mellium.im/xmpp/jid"
)

// writeConn gives every write its own deadline, so a peer that stops
// reading cannot block a sender forever; the stuck write fails, and the
// link is torn down and re-established.
type writeConn struct {
	net.Conn
	timeout time.Duration
}

func (c writeConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// dial opens the transport to the XMPP server: TCP with keepalive, wrapped
// in TLS when configured.
func (c *Component) dial(ctx context.Context) (net.Conn, error) {
	if c.cfg.Dial != nil {
		return c.cfg.Dial(ctx)
	}
	d := net.Dialer{Timeout: c.cfg.HandshakeTimeout, KeepAlive: c.cfg.KeepAlive}
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Server)
	if err != nil {
		return nil, err
	}
	if c.cfg.TLS == nil {
		return conn, nil
	}
	tc := tls.Client(conn, c.cfg.TLS)
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tc, nil
}

// errHandshakeTimeout reports a server that accepted the connection but did
// not complete the XEP-0114 handshake in time.
var errHandshakeTimeout = errors.New("handshake timed out")

// handshake runs the XEP-0114 handshake on conn within HandshakeTimeout.
// mellium does not honour the context while negotiating
// (LIBRARY-NOTES.md §2.2), so the bound is a deadline on the connection.
func (c *Component) handshake(ctx context.Context, conn net.Conn) (*xmpp.Session, error) {
	domain, err := jid.Parse(c.cfg.Domain)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout)); err != nil {
		return nil, err
	}
	// Cancelling ctx (shutdown) aborts a handshake in progress.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s, err := component.NewSession(ctx, domain, []byte(c.cfg.Secret), writeConn{Conn: conn, timeout: c.cfg.WriteTimeout})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			err = errHandshakeTimeout
		}
		return nil, err
	}
	// Reads block until the peer speaks; dead peers are found by pings.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return s, nil
}
