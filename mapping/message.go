package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"cpimgw/cpim"

	"golang.org/x/text/encoding/ianaindex"
	"mellium.im/xmpp/jid"
)

// This file maps page-mode instant messages (INTERWORKING.md §4.1–4.7):
// XMPP <message/> fields ⇄ cpim.Message ⇄ SIP MESSAGE fields, after
// RFC 7572 §4–8 (Tables 1 and 2) and, for message/cpim bodies, RFC 3922 §4.
//
// Decisions where the specifications are silent ([D] in INTERWORKING.md):
//
//   - X2S body and subject: the one whose language is the stanza's default
//     (no xml:lang, or xml:lang equal to the stanza's); else the first one.
//     The others are dropped; no multipart/alternative (§4.1).
//   - Language tags are checked against the RFC 5646 §2.1 syntax; an
//     invalid tag is ignored, never emitted (RFC 6120 §8.1.5 wants valid
//     tags). Content-Language with several tags gives the first (§4.2).
//   - Characters XML 1.0 forbids (C0 controls other than TAB, LF, CR;
//     U+FFFE, U+FFFF) are removed from every text S2X rather than refusing
//     the message (MSG-23): a stray control character should not cost the
//     user the message. Invalid UTF-8 is refused (415): there the text
//     itself is in doubt.
//   - A SIP text/plain body without charset is UTF-8 (RFC 3261 §7.4.1,
//     MSG-14); the text/plain entity inside message/cpim has the MIME
//     default us-ascii (RFC 2045 §5.2) and is read as UTF-8, of which
//     us-ascii is a subset. Other IANA charsets are decoded S2X; an unknown
//     one is refused with 415.
//   - CPIM From and To (RFC 3922 §4.2.1–4.2.2) replace the SIP identities
//     only within the same domain: CPIM From when its domain is the SIP
//     From's, CPIM To when its domain is that of the SIP target. Comparing
//     To with the From domain, as INTERWORKING.md §4.4 might be read, could
//     never match, because a domain is either SIP or XMPP (§1.1). A CPIM
//     address that does not parse or map is ignored; the SIP one stands.
//   - S2X subjects: the CPIM Subject headers when the body is
//     message/cpim and has any, else the SIP Subject header.
//   - A thread is used as the Call-ID as is when it is a valid RFC 3261
//     callid (word ["@" word]) of at most 128 octets, so a Call-ID mapped to
//     a thread comes back unchanged; else a hash of it (MSG-27).

// AcceptedContentTypes are the SIP MESSAGE body types the gateway maps to
// XMPP, for the Accept header of a 415 response (RFC 3261 §8.2.3, MSG-15).
var AcceptedContentTypes = []string{"text/plain", "message/cpim"}

// ErrNoBody is the cause of the error for a message without a body. Such
// a message has nothing for the other side to show: the X2S caller drops
// it (chat states and receipts are mapped elsewhere; INTERWORKING.md §4.3),
// the S2X caller answers the request. Test with errors.Is.
var ErrNoBody = errors.New("mapping: message has no body")

// ErrErrorStanza is returned for an XMPP message of type 'error'. It is
// not a *cpim.Error on purpose: an error stanza is never forwarded as a
// request and never answered with another error (RFC 6120 §8.3.1 rule 8,
// ERR-08, INTERWORKING.md §4.3); the caller correlates it by id instead.
var ErrErrorStanza = errors.New("mapping: message of type 'error' is not forwarded")

// SIP status codes of the message checks (cpim.Error.Status).
const (
	statusRequestEntityTooLarge = 413 // a message/cpim body beyond cpim.MaxDocumentSize
	statusUnsupportedMediaType  = 415 // RFC 3261 §8.2.3, MSG-15
)

// maxForwardsX2S is the Max-Forwards of MESSAGE requests the gateway
// originates (RFC 3261 §8.1.1.6; INTERWORKING.md §1.2).
const maxForwardsX2S = 70

// maxCallIDLen is the longest thread used as a Call-ID unchanged [D].
const maxCallIDLen = 128

// maxLangLen is the longest language tag accepted [D]; RFC 5646 §4.4.1
// shows that useful tags are far shorter.
const maxLangLen = 64

// XMPPMessage holds the fields of an XMPP <message/> stanza the gateway
// maps (RFC 6121 §5).
type XMPPMessage struct {
	From, To jid.JID
	ID       string
	// Type is the stanza type as on the wire; "" means normal.
	Type string
	// Lang is the stanza's xml:lang.
	Lang string
	// Bodies and Subjects: a Text with Lang "" is in the stanza's language.
	Bodies   []cpim.Text
	Subjects []cpim.Text
	Thread   string
	// Extensions are the other child elements, carried opaquely.
	Extensions []cpim.Extension
}

// SIPMessage holds the fields of a SIP MESSAGE request the gateway maps
// (RFC 3428, RFC 7572 §4–5).
type SIPMessage struct {
	RequestURI string
	// From is the URI inside the From header's <…>, without the tag.
	From string
	// FromName is From's display name, unquoted. It is not mapped.
	FromName string
	To       string
	CallID   string
	// MaxForwards is the request's hop count. S2X the SIP side answers 483
	// to a request arriving with 0 before mapping it (RFC 3860 §3.4.2).
	MaxForwards int
	Subject     string
	// ContentType is the full Content-Type value with its parameters.
	ContentType     string
	ContentLanguage string
	Body            []byte
	// TransactionID identifies the request's transaction. S2X it is what
	// the SIP side derived from the transaction (e.g. the Via branch) and
	// becomes the stanza id. X2S MessageToSIP sets it to the stanza id
	// (RFC 7572 Table 1: id → transaction identifier): the SIP side keeps
	// it against the transaction it creates, to mirror the id in an error
	// stanza (ERR-07); it is not a branch.
	TransactionID string
}

// SIPOptions tunes [Mapper.MessageToSIP].
type SIPOptions struct {
	// WrapCPIM sends the body as message/cpim (RFC 3922 §4.1) instead of
	// text/plain.
	WrapCPIM bool
	// MaxSize is the largest body allowed, in bytes: what the SIP side has
	// left of the 1300-byte budget of a MESSAGE (RFC 3428 §8). 0 means no
	// limit.
	MaxSize int
	// Now gives the CPIM DateTime; nil means time.Now.
	Now func() time.Time
}

// msgError returns a *cpim.Error with a short reason in Text.
func msgError(c cpim.Condition, status int, text string, cause error) *cpim.Error {
	return &cpim.Error{Condition: c, Status: status, Text: text, Cause: cause}
}

// unsupported returns the 415 error of RFC 3261 §8.2.3 (MSG-15); the SIP
// side adds Accept: AcceptedContentTypes. RFC 7247 Table 3 maps 415 to
// not-acceptable.
func unsupported(text string, cause error) *cpim.Error {
	return msgError(cpim.NotAcceptable, statusUnsupportedMediaType, text, cause)
}

func noBody() *cpim.Error {
	return msgError(cpim.BadRequest, statusBadRequest, "message has no body", ErrNoBody)
}

// MessageFromXMPP maps an XMPP message stanza to the model
// (INTERWORKING.md §4.1, §4.3; RFC 7572 §4):
//
//   - Type: normal, chat and headline keep their meaning; an absent or
//     unknown type is normal (MSG-25); groupchat is refused with
//     service-unavailable because the SIP side has only one-to-one users
//     (MSG-26, RFC 6121 §8.5.2.1.1); type error yields [ErrErrorStanza].
//   - From and To are mapped with [Mapper.Address]; From keeps its
//     resource (ADR-17), an unmappable JID gives the Mapper's error.
//   - Lang is the stanza xml:lang when it is a valid language tag, else ""
//     (MSG-06). Texts keep their own xml:lang (an invalid one counts as
//     the stanza's); of two texts in one language the first is kept
//     (MSG-24).
//   - A stanza without a body yields an error wrapping [ErrNoBody].
//   - ID, Thread and Extensions are copied.
func (m *Mapper) MessageFromXMPP(x XMPPMessage) (cpim.Message, error) {
	var t cpim.MessageType
	switch x.Type {
	case "error":
		return cpim.Message{}, ErrErrorStanza
	case "groupchat":
		return cpim.Message{}, msgError(cpim.ServiceUnavailable, 0,
			"groupchat messages cannot be sent to a SIP user", nil)
	case "chat":
		t = cpim.Chat
	case "headline":
		t = cpim.Headline
	default:
		t = cpim.Normal
	}
	if len(x.Bodies) == 0 {
		return cpim.Message{}, noBody()
	}
	from, err := m.Address(x.From)
	if err != nil {
		return cpim.Message{}, err
	}
	to, err := m.Address(x.To)
	if err != nil {
		return cpim.Message{}, err
	}
	lang := validLang(x.Lang)
	return cpim.Message{
		From:       from,
		To:         to,
		ID:         x.ID,
		Type:       t,
		Thread:     x.Thread,
		Lang:       lang,
		Bodies:     cleanTexts(x.Bodies, lang),
		Subjects:   cleanTexts(x.Subjects, lang),
		Extensions: x.Extensions,
	}, nil
}

// MessageToSIP maps a message to the fields of a SIP MESSAGE
// (INTERWORKING.md §4.1, §4.4, §4.6; RFC 7572 §4 Table 1, §6, §8;
// RFC 3922 §4.1):
//
//   - RequestURI and To: msg.To by [Mapper.URI] (ForMessage).
//   - From: msg.From by [Mapper.URI]: the bare address with the resource as
//     gr (ADR-17, RFC 7572 §4 note 1). A domain configured for im: gets a
//     bare im: URI, im: having no gr.
//   - CallID: [CallIDForThread] of the thread; MaxForwards 70 (or the
//     message's own hop count when it has one); TransactionID: the id.
//   - Body: the text of the body in the default language, else of the
//     first body; Subject the same way, with control characters turned
//     into spaces (a header is one line). ContentLanguage: that body's
//     language when it is a valid tag (MSG-06).
//   - ContentType text/plain;charset=UTF-8, or with o.WrapCPIM message/cpim
//     holding From and To as bare im: URIs (ADR-19), DateTime (msg.DateTime
//     or o.Now), a Subject header per subject with ;lang= (MSG-19), and the
//     body as text/plain; charset=utf-8 (MSG-18). Extensions are dropped
//     (RFC 3922 §4.1.8).
//   - A body longer than o.MaxSize gives policy-violation (RFC 7572 §6,
//     MSG-07); groupchat gives service-unavailable (MSG-26); no body an
//     error wrapping [ErrNoBody].
func (m *Mapper) MessageToSIP(msg cpim.Message, o SIPOptions) (SIPMessage, error) {
	if msg.Type == cpim.Groupchat {
		return SIPMessage{}, msgError(cpim.ServiceUnavailable, 0,
			"groupchat messages cannot be sent to a SIP user", nil)
	}
	body, ok := pickText(msg.Bodies, msg.Lang)
	if !ok {
		return SIPMessage{}, noBody()
	}
	to, err := m.URI(msg.To, ForMessage)
	if err != nil {
		return SIPMessage{}, err
	}
	from, err := m.URI(msg.From, ForMessage)
	if err != nil {
		return SIPMessage{}, err
	}
	s := SIPMessage{
		RequestURI:      to,
		From:            from,
		To:              to,
		CallID:          CallIDForThread(msg.Thread),
		MaxForwards:     maxForwardsX2S,
		ContentLanguage: validLang(textLang(body, msg.Lang)),
		TransactionID:   msg.ID,
	}
	if msg.MaxForwards > 0 {
		s.MaxForwards = msg.MaxForwards
	}
	if subj, ok := pickText(msg.Subjects, msg.Lang); ok {
		s.Subject = oneLine(subj.Text)
	}
	if !o.WrapCPIM {
		s.ContentType = "text/plain;charset=UTF-8"
		s.Body = []byte(body.Text)
	} else {
		env, err := wrapCPIM(msg, body, o)
		if err != nil {
			return SIPMessage{}, err
		}
		s.ContentType = "message/cpim"
		s.Body = env.Marshal()
	}
	if o.MaxSize > 0 && len(s.Body) > o.MaxSize {
		return SIPMessage{}, msgError(cpim.PolicyViolation, 0,
			fmt.Sprintf("message too large for SIP (%d bytes, %d allowed)", len(s.Body), o.MaxSize), nil)
	}
	return s, nil
}

// wrapCPIM builds the message/cpim body of RFC 3922 §4.1.
func wrapCPIM(msg cpim.Message, body cpim.Text, o SIPOptions) (*cpim.Envelope, error) {
	from, err := AddressToURI(msg.From.Bare(), SchemeIM)
	if err != nil {
		return nil, err
	}
	to, err := AddressToURI(msg.To.Bare(), SchemeIM)
	if err != nil {
		return nil, err
	}
	when := msg.DateTime
	if when.IsZero() {
		if o.Now != nil {
			when = o.Now()
		} else {
			when = time.Now()
		}
	}
	env := &cpim.Envelope{Headers: make([]cpim.Header, 0, 3+len(msg.Subjects))}
	env.Headers = append(env.Headers,
		cpim.NewHeader("From", cpim.FormatNameAddr("", from)),
		cpim.NewHeader("To", cpim.FormatNameAddr("", to)),
		cpim.NewHeader("DateTime", when.Format(time.RFC3339)))
	for _, t := range msg.Subjects {
		var params []cpim.Param
		if l := validLang(textLang(t, msg.Lang)); l != "" {
			params = []cpim.Param{{Name: "lang", Value: l}}
		}
		env.Headers = append(env.Headers, cpim.NewHeader("Subject", t.Text, params...))
	}
	env.Content.Header = []cpim.Field{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}}
	env.Content.Body = []byte(body.Text)
	return env, nil
}

// MessageFromSIP maps the fields of a SIP MESSAGE to the model
// (INTERWORKING.md §4.2, §4.4, §4.5, §4.7; RFC 7572 §5 Table 2, §7, §8;
// RFC 3922 §4.2):
//
//   - From: the From URI by [Mapper.URIToJID]; a valued gr becomes the
//     resource (ADR-18); Original keeps the URI (ADR-25).
//   - To: the Request-URI when its domain is an XMPP domain of the
//     Mapper, else the To URI (§4.2 [D]). A sips: Request-URI or To is
//     refused (480, ADR-23), as is an address the Mapper cannot map.
//   - Thread: the Call-ID; ID: TransactionID; Type: normal (MSG-03);
//     MaxForwards: copied; Lang: the first Content-Language tag when valid.
//   - Subject: the Subject header, in the default language.
//   - Body: text/plain → one body, decoded from its charset (none means
//     UTF-8, MSG-14); message/cpim → unwrapped (see below); any other type
//     → 415 (MSG-15) with [AcceptedContentTypes] for the Accept header. A
//     body without Content-Type is refused (400, RFC 3261 §20.15), an empty
//     one with an error wrapping [ErrNoBody] (400).
//
// A message/cpim body (RFC 3922 §4.2) that does not parse is refused with
// 400 (413 when too large); one with a Require header with 415 (§4.2.7,
// MSG-20 [D]); one whose entity is not text/plain with 415 (§4.2.9,
// MSG-16), or text/plain in a charset other than us-ascii or utf-8 with 415
// (MSG-17). Its Subject headers become the subjects, lang becoming the
// text's language (MSG-19); its DateTime goes to DateTime (not shown on
// the XMPP side, MSG-21); its From and To replace the SIP ones within the
// same domain (see the file comment); NS, cc and all other headers are not
// passed (MSG-20, MSG-21). An entity Content-Language gives Lang.
//
// Invalid UTF-8 in the text is refused (415); characters illegal in XML
// 1.0 are removed from every text (MSG-23). Every error is a *cpim.Error
// with a SIP Status.
func (m *Mapper) MessageFromSIP(s SIPMessage) (cpim.Message, error) {
	_, from, err := m.URIToJID(s.From)
	if err != nil {
		return cpim.Message{}, err
	}
	to, err := m.sipTarget(s)
	if err != nil {
		return cpim.Message{}, err
	}
	msg := cpim.Message{
		From:        from,
		To:          to,
		ID:          xmlText(s.TransactionID),
		Type:        cpim.Normal,
		Thread:      xmlText(s.CallID),
		Lang:        firstLang(s.ContentLanguage),
		MaxForwards: s.MaxForwards,
	}
	if subj := xmlText(s.Subject); subj != "" {
		msg.Subjects = []cpim.Text{{Text: subj}}
	}
	if len(s.Body) == 0 {
		return cpim.Message{}, noBody()
	}
	if strings.TrimSpace(s.ContentType) == "" {
		return cpim.Message{}, msgError(cpim.BadRequest, statusBadRequest,
			"body without Content-Type", nil)
	}
	mt, params, err := mime.ParseMediaType(s.ContentType)
	if err != nil {
		return cpim.Message{}, unsupported("unreadable Content-Type", err)
	}
	switch mt {
	case "text/plain":
		text, err := decodeText(s.Body, params["charset"], true)
		if err != nil {
			return cpim.Message{}, err
		}
		msg.Bodies = []cpim.Text{{Text: text}}
		return msg, nil
	case "message/cpim":
		if err := m.unwrapCPIM(&msg, s.Body); err != nil {
			return cpim.Message{}, err
		}
		return msg, nil
	}
	return cpim.Message{}, unsupported("unsupported content type "+mt, nil)
}

// sipTarget picks the recipient of a MESSAGE: the Request-URI when its
// domain is an XMPP domain, else To (INTERWORKING.md §4.2 [D]); sips: in
// either is refused (ADR-23).
func (m *Mapper) sipTarget(s SIPMessage) (cpim.Address, error) {
	r, rerr := URIToAddress(s.RequestURI)
	_, terr := URIToAddress(s.To)
	for _, err := range []error{rerr, terr} {
		var e *cpim.Error
		if errors.As(err, &e) && e.Status == statusTemporarilyUnavail {
			return cpim.Address{}, err
		}
	}
	uri := s.To
	if rerr == nil && m.IsXMPPDomain(r.Domain) || terr != nil {
		uri = s.RequestURI
	}
	_, a, err := m.URIToJID(uri)
	return a, err
}

// unwrapCPIM maps a message/cpim body into msg (RFC 3922 §4.2).
func (m *Mapper) unwrapCPIM(msg *cpim.Message, body []byte) error {
	env, err := cpim.ParseEnvelope(body)
	if err != nil {
		if errors.Is(err, cpim.ErrTooLarge) {
			return msgError(cpim.PolicyViolation, statusRequestEntityTooLarge, "message/cpim body too large", err)
		}
		return msgError(cpim.BadRequest, statusBadRequest, "malformed message/cpim body", err)
	}
	if req := env.Require(); len(req) > 0 {
		return unsupported("message/cpim Require not supported: "+strings.Join(req, ","), nil)
	}
	mt, params, err := mime.ParseMediaType(env.Content.ContentType())
	if err != nil {
		return unsupported("unreadable Content-Type in message/cpim", err)
	}
	if mt != "text/plain" {
		return unsupported("unsupported content type in message/cpim: "+mt, nil)
	}
	text, err := decodeText(env.Content.Body, params["charset"], false)
	if err != nil {
		return err
	}
	msg.Bodies = []cpim.Text{{Text: text}}
	if l := firstLang(env.Content.Get("Content-Language")); l != "" {
		msg.Lang = l
	}

	var subjects []cpim.Text
	for _, h := range env.All(cpim.DefaultNamespace, "Subject") {
		subjects = append(subjects, cpim.Text{Lang: validLang(h.Lang()), Text: xmlText(h.Value)})
	}
	if subjects != nil {
		msg.Subjects = cleanTexts(subjects, msg.Lang)
	}
	if h, ok := env.Get(cpim.DefaultNamespace, "DateTime"); ok {
		if t, err := time.Parse(time.RFC3339, h.Value); err == nil {
			msg.DateTime = t
		}
	}
	if a, ok := m.cpimAddress(env, "From"); ok && a.Domain == msg.From.Domain && !a.Equal(msg.From.Bare()) {
		msg.From = a
	}
	if a, ok := m.cpimAddress(env, "To"); ok && a.Domain == msg.To.Domain && !a.Equal(msg.To.Bare()) {
		msg.To = a
	}
	return nil
}

// cpimAddress returns the address of a CPIM From or To header, with the
// Formal-name and scheme stripped (RFC 3922 §4.2.1–4.2.2, ADR-20); ok is
// false when there is none or it does not map.
func (m *Mapper) cpimAddress(env *cpim.Envelope, name string) (cpim.Address, bool) {
	h, ok := env.Get(cpim.DefaultNamespace, name)
	if !ok {
		return cpim.Address{}, false
	}
	_, uri, err := cpim.ParseNameAddr(h.Value)
	if err != nil {
		return cpim.Address{}, false
	}
	_, a, err := m.URIToJID(uri)
	if err != nil {
		return cpim.Address{}, false
	}
	return a, true
}

// decodeText turns a text/plain body in the given charset into UTF-8
// without characters illegal in XML. An absent charset is UTF-8 for a SIP
// body (RFC 3261 §7.4.1) and us-ascii for a CPIM entity (RFC 2045 §5.2),
// read as UTF-8 either way. Inside message/cpim only us-ascii and utf-8
// are mapped (RFC 3922 §4.2.9, MSG-17).
func decodeText(b []byte, charset string, sipBody bool) (string, error) {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "", "utf-8", "us-ascii":
	default:
		if !sipBody {
			return "", unsupported("charset "+charset+" not supported in message/cpim", nil)
		}
		enc, err := ianaindex.MIME.Encoding(charset)
		if err != nil || enc == nil {
			return "", unsupported("unknown charset "+charset, err)
		}
		d, err := enc.NewDecoder().Bytes(b)
		if err != nil {
			return "", unsupported("body does not decode as "+charset, err)
		}
		b = d
	}
	if !utf8.Valid(b) {
		return "", unsupported("body is not valid UTF-8", nil)
	}
	return xmlText(string(b)), nil
}

// MessageToXMPP maps a message to the fields of an XMPP message stanza
// (INTERWORKING.md §4.2; RFC 7572 §5 Table 2):
//
//   - From and To by [Mapper.JID]: From is a full JID when the address has
//     a resource (the GRUU, ADR-18), To as the address says.
//   - Type: normal becomes "" (no type attribute, MSG-03); chat, headline
//     and groupchat are kept.
//   - Lang is msg.Lang when it is a valid language tag, else "". Texts keep
//     their language (an invalid one counts as the default); of two texts
//     in one language the first is kept (MSG-24).
//   - Every text (bodies, subjects, thread, id) loses invalid UTF-8 and the
//     characters XML 1.0 forbids (MSG-23). DateTime, Parts and MaxForwards
//     are not mapped.
//   - A message without a body yields an error wrapping [ErrNoBody] (400).
func (m *Mapper) MessageToXMPP(msg cpim.Message) (XMPPMessage, error) {
	if len(msg.Bodies) == 0 {
		return XMPPMessage{}, noBody()
	}
	from, err := m.JID(msg.From)
	if err != nil {
		return XMPPMessage{}, err
	}
	to, err := m.JID(msg.To)
	if err != nil {
		return XMPPMessage{}, err
	}
	t := string(msg.Type)
	if msg.Type == cpim.Normal {
		t = ""
	}
	lang := validLang(msg.Lang)
	return XMPPMessage{
		From:       from,
		To:         to,
		ID:         xmlText(msg.ID),
		Type:       t,
		Lang:       lang,
		Bodies:     cleanTexts(msg.Bodies, lang),
		Subjects:   cleanTexts(msg.Subjects, lang),
		Thread:     xmlText(msg.Thread),
		Extensions: msg.Extensions,
	}, nil
}

// CallIDForThread returns the SIP Call-ID for an XMPP thread (RFC 7572 §4
// Table 1; MSG-27 [D]): the thread itself when it is a valid RFC 3261 §25
// callid (word ["@" word]) of at most 128 octets, else "t" followed by the
// first 128 bits of its SHA-256 in hex, the same for the same thread. An
// empty thread gives "": the SIP side then makes a fresh random Call-ID.
func CallIDForThread(thread string) string {
	if thread == "" {
		return ""
	}
	if len(thread) <= maxCallIDLen && validCallID(thread) {
		return thread
	}
	sum := sha256.Sum256([]byte(thread))
	return "t" + hex.EncodeToString(sum[:16])
}

// validCallID reports whether s is an RFC 3261 §25 callid.
func validCallID(s string) bool {
	w, rest, found := strings.Cut(s, "@")
	return sipWord(w) && (!found || sipWord(rest))
}

// sipWord reports whether s is an RFC 3261 §25 word.
func sipWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("-.!%*_+`'~()<>:\\\"/[]?{}", rune(c)) {
			return false
		}
	}
	return s != ""
}

// pickText returns the text in the default language def (Lang "" or equal
// to def), else the first one (INTERWORKING.md §4.1 [D]).
func pickText(texts []cpim.Text, def string) (cpim.Text, bool) {
	if len(texts) == 0 {
		return cpim.Text{}, false
	}
	for _, t := range texts {
		if t.Lang == "" || strings.EqualFold(t.Lang, def) {
			return t, true
		}
	}
	return texts[0], true
}

// textLang returns the language a text is in.
func textLang(t cpim.Text, def string) string {
	if t.Lang != "" {
		return t.Lang
	}
	return def
}

// cleanTexts returns texts with invalid language tags cleared, a Lang
// equal to def cleared too (the text inherits it, as xml:lang does),
// XML-illegal characters removed, and only the first text of each language
// (RFC 6121 §5.2.3–5.2.4, MSG-24). It returns nil for no texts.
func cleanTexts(texts []cpim.Text, def string) []cpim.Text {
	if len(texts) == 0 {
		return nil
	}
	out := make([]cpim.Text, 0, len(texts))
next:
	for _, t := range texts {
		t.Lang = validLang(t.Lang)
		if strings.EqualFold(t.Lang, def) {
			t.Lang = ""
		}
		t.Text = xmlText(t.Text)
		for _, o := range out {
			if strings.EqualFold(textLang(o, def), textLang(t, def)) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// firstLang returns the first tag of a Content-Language value
// (RFC 3261 §20.13: a comma-separated list) when it is valid, else "".
func firstLang(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return validLang(strings.TrimSpace(first))
}

// validLang returns tag when it is a well-formed RFC 5646 §2.1 language
// tag, else "".
func validLang(tag string) string {
	if len(tag) > maxLangLen || !wellFormedLang(tag) {
		return ""
	}
	return tag
}

// grandfathered lists the RFC 5646 §2.1 irregular and regular
// grandfathered tags, in lower case.
var grandfathered = map[string]bool{
	"en-gb-oed": true, "i-ami": true, "i-bnn": true, "i-default": true,
	"i-enochian": true, "i-hak": true, "i-klingon": true, "i-lux": true,
	"i-mingo": true, "i-navajo": true, "i-pwn": true, "i-tao": true,
	"i-tay": true, "i-tsu": true, "sgn-be-fr": true, "sgn-be-nl": true,
	"sgn-ch-de": true, "art-lojban": true, "cel-gaulish": true,
	"no-bok": true, "no-nyn": true, "zh-guoyu": true, "zh-hakka": true,
	"zh-min": true, "zh-min-nan": true, "zh-xiang": true,
}

// wellFormedLang reports whether s matches the Language-Tag production of
// RFC 5646 §2.1 (well-formed; subtags are not checked against the
// registry).
func wellFormedLang(s string) bool {
	if s == "" {
		return false
	}
	if grandfathered[strings.ToLower(s)] {
		return true
	}
	sub := strings.Split(s, "-")
	for _, p := range sub {
		if len(p) == 0 || len(p) > 8 || !langAlnum(p) {
			return false
		}
	}
	i := 0
	if strings.EqualFold(sub[0], "x") {
		return len(sub) > 1 // privateuse = "x" 1*("-" 1*8alphanum)
	}
	// language = 2*3ALPHA ["-" extlang] / 4ALPHA / 5*8ALPHA
	if !langAlpha(sub[0]) || len(sub[0]) < 2 {
		return false
	}
	i++
	if len(sub[0]) <= 3 {
		// extlang = 3ALPHA *2("-" 3ALPHA)
		for n := 0; n < 3 && i < len(sub) && len(sub[i]) == 3 && langAlpha(sub[i]); n++ {
			i++
		}
	}
	if i < len(sub) && len(sub[i]) == 4 && langAlpha(sub[i]) { // script
		i++
	}
	if i < len(sub) && (len(sub[i]) == 2 && langAlpha(sub[i]) || len(sub[i]) == 3 && langDigits(sub[i])) { // region
		i++
	}
	// variant = 5*8alphanum / (DIGIT 3alphanum)
	for i < len(sub) && (len(sub[i]) >= 5 || len(sub[i]) == 4 && sub[i][0] >= '0' && sub[i][0] <= '9') {
		i++
	}
	// extension = singleton 1*("-" (2*8alphanum))
	for i < len(sub) && len(sub[i]) == 1 && !strings.EqualFold(sub[i], "x") {
		i++
		n := 0
		for i < len(sub) && len(sub[i]) >= 2 {
			i++
			n++
		}
		if n == 0 {
			return false
		}
	}
	// privateuse = "x" 1*("-" (1*8alphanum))
	if i < len(sub) && strings.EqualFold(sub[i], "x") {
		return i+1 < len(sub)
	}
	return i == len(sub)
}

func langAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func langDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func langAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !langAlpha(s[i:i+1]) {
			return false
		}
	}
	return true
}

// xmlText returns s without invalid UTF-8 and without the characters XML
// 1.0 §2.2 does not allow (C0 controls other than TAB, LF and CR; U+FFFE;
// U+FFFF) (RFC 6120 §11, MSG-23 [D]: removed rather than refused).
func xmlText(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !xmlChar(r) || r == utf8.RuneError && n == 1 {
			return stripXML(s)
		}
		i += n
	}
	return s
}

func stripXML(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if xmlChar(r) && !(r == utf8.RuneError && n == 1) {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func xmlChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r':
		return true
	case r < 0x20, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return true
}

// oneLine returns s fit for a SIP header value: CR, LF and the other
// control characters replaced by spaces, then XML-legal.
func oneLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, s)
	}
	return xmlText(s)
}
