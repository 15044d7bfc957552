package sipside

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// serve runs one request through the endpoint's handler for its method,
// as sipgo's server would, and returns the responses it sent.
func serve(t *testing.T, e *Endpoint, req *sip.Request) []*sip.Response {
	t.Helper()
	rec := siptest.NewServerTxRecorder(req)
	t.Cleanup(rec.Terminate)
	switch req.Method {
	case sip.MESSAGE:
		e.onMessage(req, rec)
	case sip.OPTIONS:
		e.onOptions(req, rec)
	default:
		e.onOther(req, rec)
	}
	return rec.Result()
}

// TestIncomingMessage checks every S2X check of INTERWORKING.md §5.4 in
// the order of the brief, with the response a SIP user sees and the log
// line an operator sees.
func TestIncomingMessage(t *testing.T) {
	const src = "192.0.2.10:5060"
	base := defaultMessage()
	tests := map[string]struct {
		cfg        Config
		req        rawReq
		src        string
		handlerErr error
		status     int
		reason     string
		headers    map[string]string // lower-case name → value
		delivered  bool
		// missing names a mandatory header the request lacks: the
		// response and the log line cannot carry it.
		missing string
	}{
		"accepted with 202 (RFC 3428 §7, MSG-11)": {
			req: base, status: 202, reason: "Accepted", delivered: true,
		},
		"accepted with 200 when configured": {
			cfg: Config{AcceptStatus: 200}, req: base, status: 200, reason: "OK", delivered: true,
		},
		"trusted source": {
			cfg: Config{TrustedSources: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
			req: base, status: 202, reason: "Accepted", delivered: true,
		},
		"untrusted source → 403": {
			cfg: Config{TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			req: base, status: 403, reason: "Forbidden",
		},
		"no Call-ID → 400 (RFC 3261 §8.1.1)": {
			req: base.without("Call-ID"), status: 400, reason: "Bad Request", missing: "call_id",
		},
		"no To → 400 (RFC 3261 §8.1.1)": {
			req: base.without("To"), status: 400, reason: "Bad Request", missing: "to",
		},
		"Max-Forwards 0 → 483 (SEC-02)": {
			req: base.with("Max-Forwards", "0"), status: 483, reason: "Too Many Hops",
		},
		"Require → 420 + Unsupported (ERR-10)": {
			req: base.with("Require", "100rel, foo"), status: 420, reason: "Bad Extension",
			headers: map[string]string{"unsupported": "100rel, foo"},
		},
		"sips Request-URI → 480 + Warning 380 (ADR-23)": {
			req:    func() rawReq { r := base; r.ruri = "sips:juliet@xmpp.example"; return r }(),
			status: 480, reason: "Temporarily Unavailable",
			headers: map[string]string{"warning": `380 127.0.0.1 "SIPS Not Allowed"`},
		},
		"sips To → 480 + Warning 380 (ADR-23)": {
			req:    base.with("To", "<sips:juliet@xmpp.example>"),
			status: 480, reason: "Temporarily Unavailable",
			headers: map[string]string{"warning": `380 127.0.0.1 "SIPS Not Allowed"`},
		},
		"Max-Forwards is checked before sips": {
			req: func() rawReq {
				r := base.with("Max-Forwards", "0")
				r.ruri = "sips:juliet@xmpp.example"
				return r
			}(),
			status: 483, reason: "Too Many Hops",
		},
		"tel Request-URI → 416 (ADR-22)": {
			req:    func() rawReq { r := base; r.ruri = "tel:+15551234567"; return r }(),
			status: 416, reason: "Unsupported URI Scheme",
		},
		"tel From → 416": {
			req:    base.with("From", "<tel:+15551234567>;tag=1"),
			status: 416, reason: "Unsupported URI Scheme",
		},
		"im: Request-URI accepted (RFC 3428 §5)": {
			req:    func() rawReq { r := base; r.ruri = "im:juliet@xmpp.example"; return r }(),
			status: 202, reason: "Accepted", delivered: true,
		},
		"unmappable From → 400 (ADR-22)": {
			req:    base.with("From", "<sip:%20romeo@sip.example>;tag=1"),
			status: 400, reason: "Bad Request",
		},
		"From in a foreign SIP domain the mapper rejects → 403 (no open relay)": {
			req:    base.with("From", "<sip:carol@other.example>;tag=1"),
			status: 403, reason: "Forbidden",
		},
		"unmappable Request-URI and To → 400": {
			req: func() rawReq {
				r := base.with("To", "<sip:%E2%85%A3@xmpp.example>")
				r.ruri = "sip:%E2%85%A3@xmpp.example"
				return r
			}(),
			status: 400, reason: "Bad Request",
		},
		"Request-URI is the gateway's address, To names the XMPP user (§4.2 [D])": {
			req:    func() rawReq { r := base; r.ruri = "sip:juliet@127.0.0.1:5060"; return r }(),
			status: 202, reason: "Accepted", delivered: true,
		},
		"not an XMPP domain → 404": {
			req: func() rawReq {
				r := base.with("To", "<sip:bob@sip.example>")
				r.ruri = "sip:bob@sip.example"
				return r
			}(),
			status: 404, reason: "Not Found",
		},
		"body too large → 413 (§4.6)": {
			cfg: Config{MaxMessageSize: 10}, req: base, status: 413, reason: "Request Entity Too Large",
		},
		"unsupported content type → 415 + Accept (MSG-15)": {
			req:    base.with("Content-Type", "application/octet-stream"),
			status: 415, reason: "unsupported content type application/octet-stream",
			headers: map[string]string{"accept": strings.Join(mapping.AcceptedContentTypes, ", ")},
		},
		"compact c: content type → 415 + Accept": {
			req:    base.without("Content-Type").with("c", "application/octet-stream"),
			status: 415, reason: "unsupported content type application/octet-stream",
			headers: map[string]string{"accept": strings.Join(mapping.AcceptedContentTypes, ", ")},
		},
		"unknown charset → 415 + Accept (§4.5)": {
			req:    base.with("Content-Type", "text/plain;charset=x-klingon"),
			status: 415, reason: "*",
			headers: map[string]string{"accept": strings.Join(mapping.AcceptedContentTypes, ", ")},
		},
		"message/cpim with Require → 415 + Accept (MSG-20)": {
			req: func() rawReq {
				r := base.with("Content-Type", "message/cpim")
				r.body = "From: <im:romeo@sip.example>\r\nTo: <im:juliet@xmpp.example>\r\nNS: F <mid:f@x.example>\r\n" +
					"Require: F.Vital\r\nF.Vital: yes\r\n\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi"
				return r
			}(),
			status: 415, reason: "*",
			headers: map[string]string{"accept": strings.Join(mapping.AcceptedContentTypes, ", ")},
		},
		"message/cpim accepted (RFC 3922 §4.2)": {
			req: func() rawReq {
				r := base.with("Content-Type", "message/cpim")
				r.body = "From: <im:romeo@sip.example>\r\nTo: <im:juliet@xmpp.example>\r\n\r\n" +
					"Content-Type: text/plain; charset=utf-8\r\n\r\nhi"
				return r
			}(),
			status: 202, reason: "Accepted", delivered: true,
		},
		"empty body → 400": {
			req:    func() rawReq { r := base; r.body = ""; return r }(),
			status: 400, reason: "*",
		},
		"content encoding → 415 + Accept-Encoding": {
			req:    base.with("Content-Encoding", "gzip"),
			status: 415, reason: "Unsupported Media Type",
			headers: map[string]string{"accept-encoding": "identity"},
		},
		"XMPP link down → 503 + Retry-After (CMP-08)": {
			req:        base,
			handlerErr: &cpim.Error{Condition: cpim.InternalServerError, Status: 503, RetryAfter: 30 * time.Second},
			status:     503, reason: "Service Unavailable",
			headers: map[string]string{"retry-after": "30"},
		},
		"Retry-After rounds up to whole seconds": {
			req:        base,
			handlerErr: &cpim.Error{Condition: cpim.InternalServerError, Status: 503, RetryAfter: 1500 * time.Millisecond},
			status:     503, reason: "Service Unavailable",
			headers: map[string]string{"retry-after": "2"},
		},
		"handler item-not-found for a bare JID → 604 (RFC 7247 Table 2)": {
			req:        base,
			handlerErr: cpim.NewError(cpim.ItemNotFound, ""),
			status:     604, reason: "Does Not Exist Anywhere",
		},
		"handler error text becomes the reason phrase (ERR-12)": {
			req:        base,
			handlerErr: cpim.NewError(cpim.RecipientUnavailable, "Juliet is\r\naway"),
			status:     600, reason: "Juliet is  away",
		},
		"handler gone with a new JID → 301 + Contact (RFC 7247 §7.1 note 3)": {
			req:        base,
			handlerErr: &cpim.Error{Condition: cpim.Gone, Alternate: "juliet@xmpp.example"},
			status:     301, reason: "Moved Permanently",
			headers: map[string]string{"contact": "<sip:juliet@xmpp.example>"},
		},
		"handler failure that is not a cpim error → 500": {
			req: base, handlerErr: errors.New("boom"), status: 500, reason: "Server Internal Error",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := &recorder{err: tc.handlerErr}
			e, logs := newTestEndpoint(t, tc.cfg, h)
			s := tc.src
			if s == "" {
				s = src
			}
			res := serve(t, e, tc.req.parse(t, s))
			if len(res) != 1 {
				t.Fatalf("got %d responses, want 1", len(res))
			}
			r := res[0]
			if r.StatusCode != tc.status || (r.Reason != tc.reason && tc.reason != "*") {
				t.Errorf("response %d %q, want %d %q", r.StatusCode, r.Reason, tc.status, tc.reason)
			}
			hm := headerMap(r)
			for k, v := range tc.headers {
				if hm[k] != v {
					t.Errorf("header %s = %q, want %q", k, hm[k], v)
				}
			}
			// RFC 3428 §7, MSG-08: a 2xx has neither Contact nor body; no
			// response of the gateway to MESSAGE has a body.
			if _, ok := hm["contact"]; ok && r.StatusCode < 300 {
				t.Errorf("2xx carries Contact %q", hm["contact"])
			}
			if len(r.Body()) != 0 || hm["content-length"] != "0" {
				t.Errorf("response has a body: %q (Content-Length %q)", r.Body(), hm["content-length"])
			}
			if (r.To() == nil || !r.To().Params.Has("tag")) && tc.missing != "to" {
				t.Errorf("response To has no tag: %v", r.To())
			}
			got := h.messages()
			if tc.delivered && len(got) != 1 {
				t.Errorf("handler got %d messages, want 1", len(got))
			}
			if tc.handlerErr == nil && !tc.delivered && len(got) != 0 {
				t.Errorf("handler got %d messages, want none", len(got))
			}
			rec := logs.find(t, map[string]any{"side": "sip", "method": "MESSAGE", "status": tc.status})
			if rec == nil {
				t.Fatalf("no log line with status %d: %v", tc.status, logs.records(t))
			}
			for _, k := range []string{"call_id", "from", "to"} {
				if (rec[k] == nil || rec[k] == "") && k != tc.missing {
					t.Errorf("log line lacks %s: %v", k, rec)
				}
			}
		})
	}
}

// TestIncomingDelivered checks what the Handler receives for a MESSAGE
// (RFC 7572 §5 Table 2, through the mapping).
func TestIncomingDelivered(t *testing.T) {
	h := &recorder{}
	e, _ := newTestEndpoint(t, Config{}, h)
	req := defaultMessage().with("Subject", "Hi").with("Content-Language", "en").parse(t, "192.0.2.10:5060")
	res := serve(t, e, req)
	if len(res) != 1 || res[0].StatusCode != 202 {
		t.Fatalf("responses %v", res)
	}
	got := h.messages()
	if len(got) != 1 {
		t.Fatalf("handler got %d messages", len(got))
	}
	m := got[0]
	if m.From.Local != "romeo" || m.From.Domain != "sip.example" || m.To.Local != "juliet" || m.To.Domain != "xmpp.example" {
		t.Errorf("from %v to %v", m.From, m.To)
	}
	if m.Thread != "asd88asd77a@192.0.2.10" {
		t.Errorf("thread %q, want the Call-ID", m.Thread)
	}
	if m.ID == "" {
		t.Error("message has no id")
	}
	if len(m.Bodies) != 1 || m.Bodies[0].Text != "Watson, come here." {
		t.Errorf("bodies %v", m.Bodies)
	}
	if len(m.Subjects) != 1 || m.Subjects[0].Text != "Hi" {
		t.Errorf("subjects %v", m.Subjects)
	}
	if m.Lang != "en" {
		t.Errorf("lang %q", m.Lang)
	}
}

// TestReadMessage checks the reading of the Table 2 fields, compact forms
// included (RFC 3261 §7.3.3; LIBRARY-NOTES §1.8: GetHeader does not find
// "s" for Subject).
func TestReadMessage(t *testing.T) {
	full := defaultMessage().
		with("From", `"Romeo \"R\" M" <sip:romeo@sip.example;gr=phone>;tag=49583`).
		with("Subject", "Long form").
		with("Content-Language", "fr")
	compact := rawReq{
		method: "MESSAGE", ruri: "im:juliet@xmpp.example",
		headers: [][2]string{
			{"v", "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bKcompact1"},
			{"f", "<sip:romeo@sip.example>;tag=1"},
			{"t", "<sip:juliet@xmpp.example>"},
			{"i", "call-2"},
			{"CSeq", "7 MESSAGE"},
			{"s", "Short form"},
			{"c", "text/plain"},
		},
		body: "x",
	}
	rfc2543 := defaultMessage().with("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=old").with("CSeq", "9 MESSAGE").without("Max-Forwards")
	tests := map[string]struct {
		req  rawReq
		want mapping.SIPMessage
	}{
		"long forms, quoted display name": {full, mapping.SIPMessage{
			RequestURI: "sip:juliet@xmpp.example", From: "sip:romeo@sip.example;gr=phone", FromName: `Romeo "R" M`,
			To: "sip:juliet@xmpp.example", CallID: "asd88asd77a@192.0.2.10", MaxForwards: 70,
			Subject: "Long form", ContentType: "text/plain;charset=UTF-8", ContentLanguage: "fr",
			Body: []byte("Watson, come here."), TransactionID: "z9hG4bK776sgdkse",
		}},
		"compact forms": {compact, mapping.SIPMessage{
			RequestURI: "im:juliet@xmpp.example", From: "sip:romeo@sip.example", To: "sip:juliet@xmpp.example",
			CallID: "call-2", Subject: "Short form", ContentType: "text/plain", Body: []byte("x"),
			TransactionID: "z9hG4bKcompact1",
		}},
		"RFC 2543 branch: Call-ID and CSeq identify the transaction": {rfc2543, mapping.SIPMessage{
			RequestURI: "sip:juliet@xmpp.example", From: "sip:romeo@sip.example", FromName: "Romeo",
			To: "sip:juliet@xmpp.example", CallID: "asd88asd77a@192.0.2.10",
			ContentType: "text/plain;charset=UTF-8", Body: []byte("Watson, come here."),
			TransactionID: "asd88asd77a@192.0.2.10-9",
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := readMessage(tc.req.parse(t, "192.0.2.10:5060"))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestOtherMethods checks OPTIONS (RFC 3261 §11.2) and the 405 with Allow
// that replaces sipgo's default (RFC 3261 §8.2.1; ERR-10).
func TestOtherMethods(t *testing.T) {
	accept := strings.Join(mapping.AcceptedContentTypes, ", ")
	tests := map[string]struct {
		method  string
		status  int
		reason  string
		headers map[string]string
	}{
		"OPTIONS":                    {"OPTIONS", 200, "OK", map[string]string{"allow": "MESSAGE, OPTIONS", "accept": accept}},
		"INFO":                       {"INFO", 405, "Method Not Allowed", map[string]string{"allow": "MESSAGE, OPTIONS"}},
		"SUBSCRIBE":                  {"SUBSCRIBE", 405, "Method Not Allowed", map[string]string{"allow": "MESSAGE, OPTIONS"}},
		"INVITE":                     {"INVITE", 405, "Method Not Allowed", map[string]string{"allow": "MESSAGE, OPTIONS"}},
		"CANCEL without transaction": {"CANCEL", 481, "Call/Transaction Does Not Exist", nil},
		"ACK gets nothing":           {"ACK", 0, "", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := &recorder{}
			e, logs := newTestEndpoint(t, Config{}, h)
			r := defaultMessage().with("CSeq", "1 "+tc.method)
			r.method = tc.method
			res := serve(t, e, r.parse(t, "192.0.2.10:5060"))
			if tc.status == 0 {
				if len(res) != 0 {
					t.Fatalf("got responses %v, want none", res)
				}
				return
			}
			if len(res) != 1 || res[0].StatusCode != tc.status || res[0].Reason != tc.reason {
				t.Fatalf("responses %v, want %d %s", res, tc.status, tc.reason)
			}
			hm := headerMap(res[0])
			for k, v := range tc.headers {
				if hm[k] != v {
					t.Errorf("header %s = %q, want %q", k, hm[k], v)
				}
			}
			if len(h.messages()) != 0 {
				t.Error("handler called")
			}
			if logs.find(t, map[string]any{"side": "sip", "method": tc.method, "status": tc.status}) == nil {
				t.Errorf("no log line: %v", logs.records(t))
			}
		})
	}
}

// TestHandlerContract checks that the 2xx goes out only after the Handler
// returned nil, and that the Handler's ctx carries the transaction bound.
func TestHandlerContract(t *testing.T) {
	entered := make(chan context.Context)
	proceed := make(chan struct{})
	h := &recorder{hook: func(ctx context.Context) {
		entered <- ctx
		<-proceed
	}}
	e, _ := newTestEndpoint(t, Config{TransactionTimeout: time.Minute}, h)
	req := defaultMessage().parse(t, "192.0.2.10:5060")
	rec := siptest.NewServerTxRecorder(req)
	defer rec.Terminate()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.onMessage(req, rec)
	}()
	ctx := <-entered
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Minute {
		t.Errorf("handler ctx deadline %v, %v; want within TransactionTimeout", dl, ok)
	}
	if got := rec.Result(); len(got) != 0 {
		t.Fatalf("responded %v before the handler returned", got)
	}
	close(proceed)
	<-done
	got := rec.Result()
	if len(got) != 1 || got[0].StatusCode != 202 {
		t.Fatalf("responses %v, want one 202", got)
	}
}

// TestHandlerCtxEndsWithEndpoint checks that stopping the endpoint ends a
// Handler call in progress, which is then answered.
func TestHandlerCtxEndsWithEndpoint(t *testing.T) {
	entered := make(chan struct{})
	h := &recorder{hook: func(ctx context.Context) {
		close(entered)
		<-ctx.Done()
	}}
	h.err = &cpim.Error{Condition: cpim.InternalServerError, Status: 503, RetryAfter: 5 * time.Second}
	e, _ := newTestEndpoint(t, Config{}, h)
	req := defaultMessage().parse(t, "192.0.2.10:5060")
	rec := siptest.NewServerTxRecorder(req)
	defer rec.Terminate()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.onMessage(req, rec)
	}()
	<-entered
	e.stop()
	<-done
	if got := rec.Result(); len(got) != 1 || got[0].StatusCode != 503 {
		t.Fatalf("responses %v, want 503", got)
	}
}
