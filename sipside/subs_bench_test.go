package sipside

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"cpimgw/cpim"
	"cpimgw/store"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// benchPresence is a PresenceHandler that signals every Notified call.
type benchPresence struct {
	fakePresence
	notified chan struct{}
}

func (b *benchPresence) Notified(ctx context.Context, w, t cpim.Address, n cpim.Notification) error {
	if n.Presence == nil {
		panic("no presence")
	}
	b.notified <- struct{}{}
	return nil
}

// benchPresenceEndpoint is a presence endpoint that logs nothing and is
// not running; its client transactions are answered 200 at once, without
// a network.
func benchPresenceEndpoint(b *testing.B, h PresenceHandler) *Endpoint {
	b.Helper()
	e, err := New(Config{Listen: []string{"udp:127.0.0.1:0"}, Presence: h}, testMapper(b), &recorder{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	e.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	}}
	b.Cleanup(func() { e.subs.shutdown(); e.stop(); e.ua.Close() })
	return e
}

// benchNotifier is the notifier dialog of romeo watching juliet, through
// one proxy.
func benchNotifier() *dialog {
	d := &dialog{role: store.Notifier, pair: pairKey(store.S2X, romeo, juliet), watcher: romeo, target: juliet,
		callID: "bench@192.0.2.10", localTag: "gw1", remoteTag: "r1", established: true,
		expires: time.Now().Add(time.Hour)}
	sip.ParseUri("sip:juliet@xmpp.example", &d.localURI)
	sip.ParseUri("sip:romeo@sip.example", &d.remoteURI)
	sip.ParseUri("sip:romeo@192.0.2.10:5060", &d.remoteTarget)
	var rr sip.Uri
	sip.ParseUri("sip:192.0.2.1;lr", &rr)
	d.routes = []sip.Uri{rr}
	return d
}

// BenchmarkNotifySend measures the S2X notification path of one dialog:
// the PIDF rendering of the presence (mapping.PresenceToPIDF, Marshal),
// the NOTIFY's construction in the dialog, the UDP size check and a
// client transaction answered 200 (no network).
func BenchmarkNotifySend(b *testing.B) {
	e := benchPresenceEndpoint(b, newFakePresence())
	d := benchNotifier()
	n := cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}
	b.ReportAllocs()
	for b.Loop() {
		job := e.jobOf(n, juliet)
		e.sendNotify(d, job, time.Hour)
	}
}

// BenchmarkNotifyRequest measures building one NOTIFY request in a dialog
// and serialising it (the size check), with a rendered body.
func BenchmarkNotifyRequest(b *testing.B) {
	e := benchPresenceEndpoint(b, newFakePresence())
	d := benchNotifier()
	job := e.jobOf(cpim.Notification{State: cpim.SubActive, Presence: julietPresence()}, juliet)
	v := d.view()
	b.ReportAllocs()
	for b.Loop() {
		req := e.newDialogRequest(sip.NOTIFY, &v, 7, false)
		req.AppendHeader(sip.NewHeader("Subscription-State", subStateValue(job.state, "", 0, time.Hour)))
		ct := sip.ContentTypeHeader(pidfType)
		req.AppendHeader(&ct)
		req.SetBody(job.body)
		if wireSize(req) == 0 {
			b.Fatal("empty")
		}
	}
}

// BenchmarkNotifyReceive measures the X2S path of one NOTIFY with a PIDF
// body: parsing the message, the checks and dialog matching, the 200, and
// the Notified call with the body parsed (cpim.ParsePIDF) and mapped
// (mapping.PresenceFromPIDF) on the pair's worker.
func BenchmarkNotifyReceive(b *testing.B) {
	h := &benchPresence{notified: make(chan struct{}, 1)}
	e := benchPresenceEndpoint(b, h)
	d := &dialog{role: store.Subscriber, pair: pairKey(store.X2S, juliet, romeo), watcher: juliet, target: romeo,
		callID: "c1", localTag: "gw1", remoteTag: "pres1", established: true, routeFromNotify: true}
	e.subs.subscribers["c1"] = d
	raw := rawReq{
		method: "NOTIFY", ruri: "sip:127.0.0.1:5060",
		headers: [][2]string{
			{"Via", "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1"},
			{"Max-Forwards", "70"},
			{"From", "<sip:romeo@sip.example>;tag=pres1"},
			{"To", "<sip:juliet@xmpp.example>;tag=gw1"},
			{"Call-ID", "c1"},
			{"CSeq", "5 NOTIFY"},
			{"Contact", "<sip:presence@192.0.2.20>"},
			{"Event", "presence"},
			{"Subscription-State", "active;expires=300"},
			{"Content-Type", "application/pidf+xml"},
			{"Content-Language", "de"},
		},
		body: romeoPIDF,
	}
	msg := []byte(raw.String())
	b.ReportAllocs()
	for b.Loop() {
		e.subs.mu.Lock()
		d.remoteCSeqSet = false
		e.subs.mu.Unlock()
		m, err := sip.ParseMessage(msg)
		if err != nil {
			b.Fatal(err)
		}
		req := m.(*sip.Request)
		req.SetSource("192.0.2.20:5060")
		rec := siptest.NewServerTxRecorder(req)
		e.onNotify(req, rec)
		<-h.notified
		rec.Terminate()
	}
}
