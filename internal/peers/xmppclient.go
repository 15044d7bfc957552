package peers

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Message is a message stanza an XMPP client received, flattened for
// assertions.
type Message struct {
	From, To, ID, Type, Lang string
	Body, BodyLang           string
	Subject, SubjectLang     string
	Thread                   string
	// ErrorType and ErrorCondition are set on type='error' messages;
	// ErrorText is the error's <text/>.
	ErrorType, ErrorCondition, ErrorText string
	// Received is when the client read the stanza.
	Received time.Time
}

// Presence is a presence stanza an XMPP client received, flattened.
type Presence struct {
	From, To, ID, Type, Lang string
	Show                     string
	Status, StatusLang       string // the first status
	Statuses                 map[string]string
	Priority                 string
	ErrorCondition           string
	Received                 time.Time
}

// Client is a logged-in c2s XMPP client: what a person's XMPP app does, on
// loopback, for tests and benchmarks.
type Client struct {
	JID       jid.JID
	st        *Stream
	in        chan Message
	presences chan Presence
}

// Login connects to a c2s port, authenticates with SASL PLAIN, binds the
// JID's resource and sends initial presence, so the server routes messages
// to this resource (Dial, then Online). The loopback stream is declared
// secure to mellium (whose SASL feature requires TLS); Prosody is
// configured to allow plain authentication on loopback.
func Login(ctx context.Context, addr, fullJID, password string) (*Client, error) {
	st, err := Dial(ctx, addr, fullJID, password)
	if err != nil {
		return nil, err
	}
	c := &Client{JID: st.JID, st: st, in: make(chan Message, 100000), presences: make(chan Presence, 10000)}
	if err := st.Online(ctx, xmpp.HandlerFunc(c.handle)); err != nil {
		return nil, err
	}
	return c, nil
}

// Stream is a c2s XMPP stream, authenticated and bound: what Client is
// built on, for clients of another shape (the gateway's scenario runner
// keeps every stanza as it came). Dial it, then call Online once.
type Stream struct {
	// JID is the bound full JID.
	JID   jid.JID
	login string // the JID given to Dial, for errors
	sess  *xmpp.Session
	conn  net.Conn
	done  chan struct{} // closed when the session stops serving
	// available is closed when the server echoes the initial presence.
	available chan struct{}
	availOnce sync.Once
	closeOnce sync.Once
}

// Dial connects to a c2s port, authenticates as login (a full JID, or a
// bare one to let the server choose the resource) with SASL PLAIN and
// binds a resource. The loopback stream is declared secure to mellium
// (whose SASL feature requires TLS). Nothing is read from the stream until
// Online.
func Dial(ctx context.Context, addr, login, password string) (*Stream, error) {
	j, err := jid.Parse(login)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	s, err := xmpp.NewSession(ctx, j.Domain(), j, conn, xmpp.Secure, xmpp.NewNegotiator(
		func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
				xmpp.SASL("", password, sasl.Plain),
				xmpp.BindResource(),
			}}
		}))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("xmpp login %s: %w", login, err)
	}
	conn.SetDeadline(time.Time{})
	return &Stream{JID: s.LocalAddr(), login: login, sess: s, conn: conn, available: make(chan struct{})}, nil
}

// Online serves the stream's stanzas to h and comes online as a real
// client does: it fetches the roster, which makes the resource an
// "interested resource" (RFC 6121 §2.1.6), the only kind the server
// delivers subscription stanzas and roster pushes to; sends initial
// presence; and waits for the server to send it back (RFC 6121 §4.2.2),
// after which messages to the bare JID are routed here rather than
// bounced. The echoes of the stream's own presence are not passed to h.
// When Online fails, the stream is closed.
func (s *Stream) Online(ctx context.Context, h xmpp.Handler) error {
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.sess.Serve(xmpp.HandlerFunc(func(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
			if start.Name.Local == "presence" {
				for _, a := range start.Attr {
					if a.Name.Local == "from" && a.Value == s.JID.String() {
						s.availOnce.Do(func() { close(s.available) })
						return nil // our own echo
					}
				}
			}
			return h.HandleXMPP(t, start)
		}))
	}()
	r, err := s.sess.SendIQ(ctx, xml.NewDecoder(strings.NewReader(`<iq type='get' id='roster-1'><query xmlns='jabber:iq:roster'/></iq>`)))
	if err != nil {
		s.Close()
		return fmt.Errorf("xmpp login %s: roster get: %w", s.login, err)
	}
	r.Close()
	if err := s.SendRaw(ctx, `<presence/>`); err != nil {
		s.Close()
		return err
	}
	select {
	case <-s.available:
	case <-ctx.Done():
		s.Close()
		return fmt.Errorf("xmpp login %s: no presence echo: %w", s.login, ctx.Err())
	case <-s.done:
		return fmt.Errorf("xmpp login %s: stream closed", s.login)
	}
	return nil
}

// SendRaw writes one stanza given as XML text.
func (s *Stream) SendRaw(ctx context.Context, stanza string) error {
	return s.sess.Send(ctx, xml.NewDecoder(strings.NewReader(stanza)))
}

// Done is closed when the stream has ended (after Online).
func (s *Stream) Done() <-chan struct{} { return s.done }

// Close ends the session and the connection.
func (s *Stream) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.sess.Close()
		s.conn.Close()
		if s.done != nil {
			<-s.done
		}
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (c *Client) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local == "presence" {
		var p struct {
			From     string `xml:"from,attr"`
			To       string `xml:"to,attr"`
			ID       string `xml:"id,attr"`
			Type     string `xml:"type,attr"`
			Lang     string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
			Show     string `xml:"show"`
			Status   []text `xml:"status"`
			Priority string `xml:"priority"`
			Error    *struct {
				Inner []struct{ XMLName xml.Name } `xml:",any"`
			} `xml:"error"`
		}
		if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&p); err != nil {
			return nil
		}
		pr := Presence{From: p.From, To: p.To, ID: p.ID, Type: p.Type, Lang: p.Lang, Show: p.Show,
			Priority: p.Priority, Statuses: map[string]string{}, Received: time.Now()}
		for i, st := range p.Status {
			if i == 0 {
				pr.Status, pr.StatusLang = st.Text, st.Lang
			}
			pr.Statuses[st.Lang] = st.Text
		}
		if p.Error != nil {
			for _, e := range p.Error.Inner {
				if e.XMLName.Local != "text" && pr.ErrorCondition == "" {
					pr.ErrorCondition = e.XMLName.Local
				}
			}
		}
		select {
		case c.presences <- pr:
		default:
		}
		return nil
	}
	if start.Name.Local != "message" {
		return nil
	}
	var m struct {
		From    string `xml:"from,attr"`
		To      string `xml:"to,attr"`
		ID      string `xml:"id,attr"`
		Type    string `xml:"type,attr"`
		Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Body    []text `xml:"body"`
		Subject []text `xml:"subject"`
		Thread  string `xml:"thread"`
		Error   *struct {
			Type  string `xml:"type,attr"`
			Inner []struct {
				XMLName xml.Name
				Text    string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"error"`
	}
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&m); err != nil {
		return nil // a test client: ignore what it cannot read
	}
	msg := Message{From: m.From, To: m.To, ID: m.ID, Type: m.Type, Lang: m.Lang, Thread: m.Thread, Received: time.Now()}
	if len(m.Body) > 0 {
		msg.Body, msg.BodyLang = m.Body[0].Text, m.Body[0].Lang
	}
	if len(m.Subject) > 0 {
		msg.Subject, msg.SubjectLang = m.Subject[0].Text, m.Subject[0].Lang
	}
	if m.Error != nil {
		msg.ErrorType = m.Error.Type
		for _, e := range m.Error.Inner {
			if e.XMLName.Local == "text" {
				msg.ErrorText = e.Text
			} else if msg.ErrorCondition == "" {
				msg.ErrorCondition = e.XMLName.Local
			}
		}
	}
	select {
	case c.in <- msg:
	default: // a test that reads nothing must not stall the stream
	}
	return nil
}

type text struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text string `xml:",chardata"`
}

// SendRaw writes one stanza given as XML text.
func (c *Client) SendRaw(ctx context.Context, stanza string) error {
	return c.st.SendRaw(ctx, stanza)
}

// SendMessage sends a chat-less (normal) message with a body; extra is
// raw XML appended inside the stanza (subject, thread…).
func (c *Client) SendMessage(ctx context.Context, to, id, lang, body, extra string) error {
	var b strings.Builder
	b.WriteString(`<message to='`)
	xml.EscapeText(&b, []byte(to))
	b.WriteString(`' id='`)
	xml.EscapeText(&b, []byte(id))
	b.WriteString(`'`)
	if lang != "" {
		b.WriteString(` xml:lang='`)
		xml.EscapeText(&b, []byte(lang))
		b.WriteString(`'`)
	}
	b.WriteString(`><body>`)
	xml.EscapeText(&b, []byte(body))
	b.WriteString(`</body>`)
	b.WriteString(extra)
	b.WriteString(`</message>`)
	return c.SendRaw(ctx, b.String())
}

// Next returns the next message received, or an error when ctx ends or the
// stream closes.
func (c *Client) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-c.in:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-c.st.done:
		select {
		case m := <-c.in:
			return m, nil
		default:
			return Message{}, io.EOF
		}
	}
}

// NextPresence returns the next presence stanza received from someone
// else (the client's own presence echo is not reported).
func (c *Client) NextPresence(ctx context.Context) (Presence, error) {
	select {
	case p := <-c.presences:
		return p, nil
	case <-ctx.Done():
		return Presence{}, ctx.Err()
	case <-c.st.done:
		return Presence{}, io.EOF
	}
}

// Messages is the channel of received messages (for benchmarks that count).
func (c *Client) Messages() <-chan Message { return c.in }

// Close ends the session and the connection.
func (c *Client) Close() error { return c.st.Close() }
