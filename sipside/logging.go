package sipside

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// SetGlobals sets sipgo's process-wide state once, from main or TestMain,
// never from [New]: sipgo's default logger becomes log behind the filter of
// [NewSIPGoLogHandler]. sipgo's timers keep their RFC 3261 defaults
// (T1 = 500 ms, so Timer F = 32 s); Config.TransactionTimeout bounds each
// transaction of an Endpoint without touching them.
func SetGlobals(log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	sip.SetDefaultLogger(slog.New(NewSIPGoLogHandler(log.Handler())))
}

// sipgoLogLimit is how many Warn-or-above records per second the filter
// lets through from sipgo; the rest are counted and reported in the next
// record that passes.
const sipgoLogLimit = 20

// NewSIPGoLogHandler wraps next for sipgo's own log records, which are not
// written for an operator (LIBRARY-NOTES §1.10.6):
//
//   - the "data" attribute, which carries a whole packet when parsing fails
//     (a log-flood and log-injection vector on UDP), is replaced by its
//     length, "data_len";
//   - records of Warn level and above are limited to sipgoLogLimit per
//     second; the number dropped is reported as "suppressed" on the next
//     one that passes;
//   - the harmless "ref went negative" warnings of connection shutdown are
//     lowered to Debug;
//   - every record gets side=sip, lib=sipgo.
func NewSIPGoLogHandler(next slog.Handler) slog.Handler {
	return &sipgoHandler{
		next: next.WithAttrs([]slog.Attr{slog.String("side", "sip"), slog.String("lib", "sipgo")}),
		rate: &rateLimit{limit: sipgoLogLimit},
	}
}

type sipgoHandler struct {
	next slog.Handler
	rate *rateLimit
}

func (h *sipgoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	if level >= slog.LevelWarn && containsFold(r.Message, "ref went negative") {
		level = slog.LevelDebug
	}
	if !h.next.Enabled(ctx, level) {
		return nil
	}
	var suppressed int
	if level >= slog.LevelWarn {
		var ok bool
		if ok, suppressed = h.rate.allow(r.Time); !ok {
			return nil
		}
	}
	out := slog.NewRecord(r.Time, level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(filterAttr(a))
		return true
	})
	if suppressed > 0 {
		out.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, out)
}

func (h *sipgoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	f := make([]slog.Attr, len(as))
	for i, a := range as {
		f[i] = filterAttr(a)
	}
	return &sipgoHandler{next: h.next.WithAttrs(f), rate: h.rate}
}

func (h *sipgoHandler) WithGroup(name string) slog.Handler {
	return &sipgoHandler{next: h.next.WithGroup(name), rate: h.rate}
}

// filterAttr replaces a packet dump by its length.
func filterAttr(a slog.Attr) slog.Attr {
	if a.Key == "data" {
		v := a.Value.Resolve()
		switch v.Kind() {
		case slog.KindString:
			return slog.Int("data_len", len(v.String()))
		case slog.KindAny:
			if b, ok := v.Any().([]byte); ok {
				return slog.Int("data_len", len(b))
			}
		}
		return slog.String("data", "(dropped)")
	}
	return a
}

// rateLimit lets limit events through per one-second window.
type rateLimit struct {
	mu         sync.Mutex
	limit      int
	window     time.Time
	n, dropped int
}

// allow reports whether an event at t may pass and, if so, how many were
// dropped since the last one that passed.
func (r *rateLimit) allow(t time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.Sub(r.window) >= time.Second || t.Before(r.window) {
		r.window, r.n = t, 0
	}
	if r.n >= r.limit {
		r.dropped++
		return false, 0
	}
	r.n++
	d := r.dropped
	r.dropped = 0
	return true, d
}

// containsFold reports whether s contains sub, ASCII case-insensitively.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		match := true
		for j := 0; j < len(sub); j++ {
			a, b := s[i+j], sub[j]
			if 'A' <= a && a <= 'Z' {
				a += 'a' - 'A'
			}
			if a != b {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
