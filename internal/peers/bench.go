package peers

import (
	"errors"
	"regexp"
)

// BenchUAS describes the sipp scenario at the receiving end of the
// end-to-end benchmark: it answers every MESSAGE with Status and, when sipp
// runs with TraceLogs, logs one line per MESSAGE received to LogFile:
//
//	<date>\t<time>\t<epoch.micro>|<body text from Marker to end of line>
//
// The first part is sipp's [timestamp] when it handled the request, so a
// body that carries its send time gives the one-way latency.
type BenchUAS struct {
	Status int    // default 200
	Reason string // default "OK"
	// Marker starts the logged part of the body (default "bench"); a body
	// without it logs an empty part.
	Marker string
}

// benchMarker keeps the marker inside what the scenario's regular
// expression and XML attribute can hold unescaped.
var benchMarker = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Render returns the scenario XML.
func (u BenchUAS) Render() (string, error) {
	if u.Status == 0 {
		u.Status, u.Reason = 200, "OK"
	}
	if u.Reason == "" {
		u.Reason = "Reason"
	}
	if u.Marker == "" {
		u.Marker = "bench"
	}
	if !benchMarker.MatchString(u.Marker) {
		return "", errors.New("peers: BenchUAS.Marker must be letters, digits, '-' or '_'")
	}
	return renderScenario("bench_uas.xml.tmpl", u)
}
