package sipside

import (
	"context"
	"log/slog"
	"testing"

	"cpimgw/cpim"
	"cpimgw/mapping"

	"github.com/emiago/sipgo/siptest"
)

// benchEndpoint is an endpoint that logs nothing, for benchmarks.
func benchEndpoint(b *testing.B) *Endpoint {
	b.Helper()
	e, err := New(Config{Listen: []string{"udp:127.0.0.1:0"}}, testMapper(b), &recorder{}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.stop(); e.ua.Close() })
	return e
}

// BenchmarkS2XServe measures the S2X path of one MESSAGE without the
// transaction: the checks, reading the fields, the mapping and the Handler.
func BenchmarkS2XServe(b *testing.B) {
	e := benchEndpoint(b)
	e.h = HandlerFunc(func(context.Context, cpim.Message) error { return nil })
	req := defaultMessage().with("Subject", "Hi").parse(b, "192.0.2.10:5060")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := e.serveMessage(ctx, req); r.status != 202 {
			b.Fatal(r.status)
		}
	}
}

// BenchmarkS2XHandler measures the whole sipgo handler: a server
// transaction (siptest recorder), serveMessage, the 202 and its log line.
func BenchmarkS2XHandler(b *testing.B) {
	e := benchEndpoint(b)
	e.h = HandlerFunc(func(context.Context, cpim.Message) error { return nil })
	req := defaultMessage().with("Subject", "Hi").parse(b, "192.0.2.10:5060")
	b.ReportAllocs()
	for b.Loop() {
		rec := siptest.NewServerTxRecorder(req)
		e.onMessage(req, rec)
		rec.Terminate()
	}
}

// BenchmarkX2SBuildRequest measures building the MESSAGE request from the
// mapped fields, sanitising included.
func BenchmarkX2SBuildRequest(b *testing.B) {
	e := benchEndpoint(b)
	s, err := e.mapper.MessageToSIP(outMessage(), mapping.SIPOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.buildRequest(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkX2SMessageToWire measures the X2S path up to the bytes on the
// wire: mapping, request construction and the size check's serialisation.
func BenchmarkX2SMessageToWire(b *testing.B) {
	e := benchEndpoint(b)
	m := outMessage()
	b.ReportAllocs()
	for b.Loop() {
		s, err := e.mapper.MessageToSIP(m, mapping.SIPOptions{})
		if err != nil {
			b.Fatal(err)
		}
		req, _, err := e.buildRequest(s)
		if err != nil {
			b.Fatal(err)
		}
		if wireSize(req) == 0 {
			b.Fatal("empty request")
		}
	}
}
