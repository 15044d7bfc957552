package sipside

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestSIPGoLogFilter checks the filter on sipgo's records
// (LIBRARY-NOTES §1.10.6): no packet dumps, bounded Warn/Error volume,
// shutdown noise lowered.
func TestSIPGoLogFilter(t *testing.T) {
	sink := &logSink{}
	base := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := slog.New(NewSIPGoLogHandler(base.Handler())).With("caller", "Transport<UDP>")

	packet := "MESSAGE sip:x SIP/2.0\r\nX-Evil: " + strings.Repeat("A", 5000)
	log.Error("failed to parse", "data", packet, "error", "bad")
	log.Warn("UDP ref went negative on try close", "ref", -1)
	for range 3 * sipgoLogLimit {
		log.Error("Read connection error")
	}

	recs := sink.records(t)
	first := recs[0]
	if first["data"] != nil || first["data_len"] != float64(len(packet)) {
		t.Errorf("packet not replaced by its length: %v", first)
	}
	if first["side"] != "sip" || first["lib"] != "sipgo" || first["caller"] != "Transport<UDP>" {
		t.Errorf("attributes %v", first)
	}
	for _, r := range recs {
		if strings.Contains(r["msg"].(string), "ref went negative") {
			t.Errorf("shutdown noise logged at %v", r["level"])
		}
	}
	if n := len(recs); n != sipgoLogLimit {
		t.Errorf("%d records passed in one second, want %d", n, sipgoLogLimit)
	}
	if strings.Contains(sink.buf.String(), "X-Evil") {
		t.Error("packet content reached the log")
	}
}

func testTime(sec int) time.Time { return time.Unix(1_700_000_000+int64(sec), 0) }

// TestSIPGoLogFilterReportsSuppressed checks that dropped records are
// counted on the next one that passes.
func TestSIPGoLogFilterReportsSuppressed(t *testing.T) {
	r := &rateLimit{limit: 2}
	now := testTime(0)
	for i, want := range []bool{true, true, false, false} {
		if ok, _ := r.allow(now); ok != want {
			t.Fatalf("event %d: allowed %v", i, ok)
		}
	}
	ok, dropped := r.allow(testTime(1))
	if !ok || dropped != 2 {
		t.Errorf("next window: allowed %v, dropped %d; want true, 2", ok, dropped)
	}
}
