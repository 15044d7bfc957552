package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/roster"
	"mellium.im/xmpp/stanza"

	"cpimgw/internal/peers"
)

// The XMPP half of the scenario runner: a c2s client that hands every
// stanza it receives to the test as an element tree (peers.Client flattens
// messages, and a transcript must see everything), and the tree matching
// of `<xmpp` sections.

// nsXMLLang is the namespace Go's decoder gives the xml: prefix.
const nsXMLLang = "http://www.w3.org/XML/1998/namespace"

// xnode is an XML element: its name, attributes (namespace declarations
// left out), child elements and the character data directly inside it.
type xnode struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []*xnode
	Text     string
}

// buildTree reads one element from r, whose start tag is start (when not
// nil) or the first start element r yields.
func buildTree(r xml.TokenReader, start *xml.StartElement) (*xnode, error) {
	var stack []*xnode
	push := func(se xml.StartElement) {
		n := &xnode{Name: se.Name}
		for _, a := range se.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				continue
			}
			n.Attr = append(n.Attr, a)
		}
		if len(stack) > 0 {
			p := stack[len(stack)-1]
			p.Children = append(p.Children, n)
		}
		stack = append(stack, n)
	}
	var root *xnode
	if start != nil {
		push(*start)
		root = stack[0]
	}
	for {
		tok, err := r.Token()
		if errors.Is(err, io.EOF) && root != nil {
			return root, nil // the reader ended with the element
		}
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no element")
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			push(t)
			if root == nil {
				root = stack[0]
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return root, nil
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, nil
			}
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			}
		}
	}
}

// parseXML parses one element from text.
func parseXML(text string) (*xnode, error) {
	d := xml.NewDecoder(strings.NewReader(text))
	n, err := buildTree(d, nil)
	if err != nil {
		return nil, err
	}
	// Nothing but white space may follow the element.
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return nil, err
		}
		if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
			return nil, fmt.Errorf("more than one element")
		}
	}
}

func (n *xnode) attr(space, local string) (string, bool) {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.Name.Space == space {
			return a.Value, true
		}
	}
	return "", false
}

// String renders the element indented, one child element per line, with
// xml:lang for the XML namespace and an xmlns where the namespace changes
// (jabber:client, the stanzas' own, is left out at the top).
func (n *xnode) String() string {
	var b strings.Builder
	n.write(&b, "jabber:client", "")
	return b.String()
}

func (n *xnode) write(b *strings.Builder, parentSpace, indent string) {
	b.WriteString(indent)
	b.WriteString("<")
	b.WriteString(n.Name.Local)
	if n.Name.Space != parentSpace && n.Name.Space != "" {
		fmt.Fprintf(b, " xmlns='%s'", escapeAttr(n.Name.Space))
	}
	for _, a := range n.Attr {
		fmt.Fprintf(b, " %s='%s'", attrName(a.Name), escapeAttr(a.Value))
	}
	if len(n.Children) == 0 && n.Text == "" {
		b.WriteString("/>\n")
		return
	}
	b.WriteString(">")
	if len(n.Children) == 0 {
		b.WriteString(escapeText(n.Text))
	} else {
		b.WriteString("\n")
		if t := strings.TrimSpace(n.Text); t != "" {
			b.WriteString(indent + "  " + escapeText(t) + "\n")
		}
		for _, c := range n.Children {
			c.write(b, n.Name.Space, indent+"  ")
		}
		b.WriteString(indent)
	}
	fmt.Fprintf(b, "</%s>\n", n.Name.Local)
}

// escapeText shows character data as XML text would carry it; characters
// XML cannot carry at all are shown as {{\xHH}}, the transcript notation.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '\r':
			b.WriteString("&#13;")
		case (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f:
			fmt.Fprintf(&b, `{{\x%02x}}`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// attrName shows an attribute name: xml:lang for the XML namespace,
// {space}local for other namespaced ones.
func attrName(n xml.Name) string {
	switch n.Space {
	case "":
		return n.Local
	case nsXMLLang, "xml":
		return "xml:" + n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

func escapeAttr(s string) string {
	return strings.NewReplacer("'", "&apos;", "\n", "&#10;", "\t", "&#9;").Replace(escapeText(s))
}

// matchXML compares a received element with an expected one (the rules of
// testdata/scenarios/README.md) and returns every difference found, each
// with the path of the element it is about. exact forbids attributes and
// child elements the expected tree does not list, at every depth.
func matchXML(exp, got *xnode, exact bool) []string {
	d, _ := matchXMLCaptures(exp, got, exact)
	return d
}

// matchXMLCaptures is matchXML that also returns, when the elements
// match, what the captures of the expected tree recorded.
func matchXMLCaptures(exp, got *xnode, exact bool) ([]string, map[string]string) {
	caps := map[string]string{}
	if d := matchNode(exp, got, exact, "/"+exp.Name.Local, caps); len(d) > 0 {
		return d, nil
	}
	return nil, caps
}

// hasXMLPrefixAttr reports whether n has the attribute xml:local with the
// prefix left untranslated.
func hasXMLPrefixAttr(n *xnode, local string) bool {
	_, ok := n.attr("xml", local)
	return ok
}

func sameName(exp, got xml.Name) bool {
	return exp.Local == got.Local && (exp.Space == "" || exp.Space == got.Space)
}

// matchNode compares exp with got below path; what the captures of a
// matching comparison record goes into caps.
func matchNode(exp, got *xnode, exact bool, path string, caps map[string]string) []string {
	if !sameName(exp.Name, got.Name) {
		return []string{fmt.Sprintf("%s: element is <%s xmlns='%s'>, want <%s xmlns='%s'>",
			path, got.Name.Local, got.Name.Space, exp.Name.Local, exp.Name.Space)}
	}
	var diffs []string
	keep := func(c map[string]string) {
		for k, v := range c {
			caps[k] = v
		}
	}
	for _, a := range exp.Attr {
		space := a.Name.Space
		if space == "xml" {
			space = nsXMLLang
		}
		name := attrName(a.Name)
		v, ok := got.attr(space, a.Name.Local)
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: attribute %s missing, want %q", path, name, showPattern(a.Value)))
			continue
		}
		// * is any run of characters (alone: any value).
		c, m := compilePattern(a.Value, true).match(v)
		if !m {
			diffs = append(diffs, fmt.Sprintf("%s: attribute %s = %q, want %q", path, name, v, showPattern(a.Value)))
			continue
		}
		keep(c)
	}
	if exact {
		for _, a := range got.Attr {
			if _, ok := exp.attr(a.Name.Space, a.Name.Local); !ok && !(a.Name.Space == nsXMLLang && hasXMLPrefixAttr(exp, a.Name.Local)) {
				diffs = append(diffs, fmt.Sprintf("%s: unexpected attribute %s=%q (exact)", path, attrName(a.Name), a.Value))
			}
		}
	}
	if len(exp.Children) == 0 {
		if exp.Text != "" {
			// Text is exact; only captures stand for something.
			if c, m := compilePattern(exp.Text, false).match(got.Text); m {
				keep(c)
			} else {
				diffs = append(diffs, fmt.Sprintf("%s: text %q, want %q", path, got.Text, showPattern(exp.Text)))
			}
		}
		if exact && len(got.Children) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected child <%s/> (exact)", path, got.Children[0].Name.Local))
		}
		return diffs
	}
	if exact {
		// Child for child, in order.
		for i, ec := range exp.Children {
			cpath := path + "/" + ec.Name.Local
			if i >= len(got.Children) {
				diffs = append(diffs, fmt.Sprintf("%s: missing", cpath))
				continue
			}
			diffs = append(diffs, matchNode(ec, got.Children[i], exact, cpath, caps)...)
		}
		for _, extra := range got.Children[min(len(exp.Children), len(got.Children)):] {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected child <%s/> (exact)", path, extra.Name.Local))
		}
		return diffs
	}
	// Each expected child matches the first later received child that
	// matches it entirely; one that matches none is reported with the
	// differences of the nearest candidate (the first with its local name).
	// A candidate's captures count only when it matches.
	next := 0
	for _, ec := range exp.Children {
		cpath := path + "/" + ec.Name.Local
		found := -1
		var nearest []string
		for i := next; i < len(got.Children); i++ {
			trial := map[string]string{}
			d := matchNode(ec, got.Children[i], exact, cpath, trial)
			if len(d) == 0 {
				found = i
				keep(trial)
				break
			}
			if nearest == nil && ec.Name.Local == got.Children[i].Name.Local {
				nearest = d
			}
		}
		switch {
		case found >= 0:
			next = found + 1
		case nearest != nil:
			diffs = append(diffs, nearest...)
		default:
			diffs = append(diffs, fmt.Sprintf("%s: missing", cpath))
		}
	}
	return diffs
}

// xmppUser is a logged-in c2s client of the scenario stack that queues
// every stanza it receives, except the echoes of its own presence (which
// peers.Stream keeps) and the roster pushes of its server, which it
// answers itself (RFC 6121 §2.1.6) and only logs: both come from the
// user's server, not the gateway.
type xmppUser struct {
	name string
	JID  jid.JID
	st   *peers.Stream
	in   chan *xnode
	// logf shows what the client handles itself (roster pushes); set
	// before the session serves, read by its handler.
	logf func(format string, args ...any)
}

// loginUser connects to the c2s port, authenticates as the bare JID user
// with SASL PLAIN, binds a resource the server chooses, fetches the roster,
// sends initial presence and waits for its echo (RFC 6121 §4.2.2): see
// peers.Stream.Online. The roster get makes the session an "interested
// resource" (RFC 6121 §2.1.6), to which the server delivers the
// subscription stanzas subscribed, unsubscribed and unsubscribe (RFC 6121
// §3.1.6, §3.2.3, §3.3.3); without it a transcript could not see them.
func loginUser(ctx context.Context, name, addr, user, password string, logf func(format string, args ...any)) (*xmppUser, error) {
	st, err := peers.Dial(ctx, addr, user, password)
	if err != nil {
		return nil, err
	}
	u := &xmppUser{name: name, JID: st.JID, st: st, in: make(chan *xnode, 1024), logf: logf}
	if err := st.Online(ctx, xmpp.HandlerFunc(u.handle)); err != nil {
		return nil, err
	}
	return u, nil
}

func (u *xmppUser) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	n, err := buildTree(t, start)
	if err != nil {
		return nil // unreadable: the stanza never reaches the transcript
	}
	from, _ := n.attr("", "from")
	if u.isRosterPush(n, from) {
		id, _ := n.attr("", "id")
		u.logf("%s's server pushes a roster change (answered, not part of the transcript):\n%s", u.name, n)
		_, err := xmlstream.Copy(t, stanza.IQ{ID: id, Type: stanza.ResultIQ}.Wrap(nil))
		return err
	}
	select {
	case u.in <- n:
	default: // a scenario that reads nothing must not stall the stream
	}
	return nil
}

// isRosterPush reports whether n is a roster push (RFC 6121 §2.1.6): an
// iq set with a jabber:iq:roster query from the user's own server (no
// from, or the user's bare JID).
func (u *xmppUser) isRosterPush(n *xnode, from string) bool {
	if typ, _ := n.attr("", "type"); n.Name.Local != "iq" || typ != "set" || len(n.Children) != 1 {
		return false
	}
	if q := n.Children[0]; q.Name.Local != "query" || q.Name.Space != roster.NS {
		return false
	}
	return from == "" || from == u.JID.Bare().String()
}

// send writes one stanza given as XML text.
func (u *xmppUser) send(ctx context.Context, stanza string) error {
	return u.st.SendRaw(ctx, stanza)
}

// next returns the next stanza received, or an error when ctx ends or the
// stream closes.
func (u *xmppUser) next(ctx context.Context) (*xnode, error) {
	select {
	case n := <-u.in:
		return n, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-u.st.Done():
		select {
		case n := <-u.in:
			return n, nil
		default:
			return nil, io.EOF
		}
	}
}

// Close ends the session and the connection.
func (u *xmppUser) Close() error { return u.st.Close() }
