package peers

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// The scenarios of the presence benchmark (cmd/cpimgw-bench -presence):
// a NOTIFY sink standing in for many SIP watchers, and a NOTIFY sender
// standing in for many SIP presentities, both on dialogs the benchmark
// wrote into the gateway's state store beforehand.

// NotifySink describes the sipp scenario at the receiving end of the
// presence→NOTIFY path: it answers every NOTIFY with 200 and, when sipp
// runs with TraceLogs, logs one line per NOTIFY to LogFile:
//
//	<date>\t<time>\t<epoch.micro>|<Marker> TAG SEQ <the rest up to a '<'>
//
// where the second part is the first such text of the body, the PIDF note
// the benchmark's status became (a NOTIFY without one logs an empty
// part). Run sipp with
// "-deadcall_wait 0": each NOTIFY is a call of its own, and a later NOTIFY
// of the same dialog (same Call-ID) would otherwise meet the dead call and
// go unanswered.
type NotifySink struct {
	// Marker starts the logged text (default "bench").
	Marker string
}

// Render returns the scenario XML.
func (s NotifySink) Render() (string, error) {
	if s.Marker == "" {
		s.Marker = "bench"
	}
	if !benchMarker.MatchString(s.Marker) {
		return "", errors.New("peers: NotifySink.Marker must be letters, digits, '-' or '_'")
	}
	return renderScenario("bench_notify_sink.xml.tmpl", s)
}

// NotifyUAC describes the sipp scenario at the sending end of the
// NOTIFY→presence path: one in-dialog NOTIFY per call (Subscription-State
// active with the remaining seconds, a one-tuple PIDF whose note is
// "Marker Tag SEQ SENT", SEQ being sipp's call number and SENT its
// [timestamp]), expecting 200.
//
// Call N (sipp's call number, from 1) sends on the dialog Dialog(N): sipp
// matches responses to calls by the Call-ID it makes itself, so a UAC
// cannot take Call-IDs from an injection file (their 200s are discarded
// as unknown calls); instead the dialogs are made to have the Call-IDs
// sipp makes under the -cid_str of Args. Run sipp with Args.
type NotifyUAC struct {
	// RequestURI is the gateway's remote target (its Contact).
	RequestURI string
	// WatcherURI is the To URI: the gateway's local URI in the dialogs.
	WatcherURI string
	// Domain is the presentities' domain and UserPrefix their user part
	// before the call number (default "c"): call N is from
	// sip:<UserPrefix>N@Domain.
	Domain     string
	UserPrefix string
	// Prefix starts the Call-IDs and tags of the dialogs (default "pb").
	Prefix string
	// TupleID is the PIDF tuple id (default "t").
	TupleID string
	// Marker starts the note (default "bench"); Tag is the step tag.
	Marker string
	Tag    int
}

// NotifyDialog is the dialog one call of a NotifyUAC sends on, as the
// gateway must hold it (store.Dialog of role subscriber).
type NotifyDialog struct {
	CallID string
	// NotifierTag is the From tag of the NOTIFYs, the dialog's remote tag
	// at the gateway; SubscriberTag the To tag, the gateway's local tag.
	NotifierTag, SubscriberTag string
	// User is the presentity's user part.
	User string
}

// notifyURI keeps the URIs of a NotifyUAC inside what the scenario's
// message text can hold: no sipp keyword brackets, no line breaks, no
// angle brackets.
var notifyURI = regexp.MustCompile(`^[A-Za-z0-9:@._;=+-]+$`)

func (u NotifyUAC) defaults() NotifyUAC {
	if u.UserPrefix == "" {
		u.UserPrefix = "c"
	}
	if u.Prefix == "" {
		u.Prefix = "pb"
	}
	if u.TupleID == "" {
		u.TupleID = "t"
	}
	if u.Marker == "" {
		u.Marker = "bench"
	}
	return u
}

// Render returns the scenario XML.
func (u NotifyUAC) Render() (string, error) {
	u = u.defaults()
	for _, s := range []string{u.Marker, u.TupleID, u.UserPrefix, u.Prefix} {
		if !benchMarker.MatchString(s) {
			return "", fmt.Errorf("peers: NotifyUAC: %q: want letters, digits, '-' or '_'", s)
		}
	}
	for _, s := range []string{u.RequestURI, u.WatcherURI, u.Domain} {
		if !notifyURI.MatchString(s) {
			return "", fmt.Errorf("peers: NotifyUAC: %q is not a plain URI or domain", s)
		}
	}
	return renderScenario("bench_notify_uac.xml.tmpl", u)
}

// Dialog returns the dialog call n (from 1) of a run sends on.
func (u NotifyUAC) Dialog(n int) NotifyDialog {
	u = u.defaults()
	return NotifyDialog{
		CallID:        fmt.Sprintf("%s-%d@bench", u.Prefix, n),
		NotifierTag:   fmt.Sprintf("%sn%d", u.Prefix, n),
		SubscriberTag: fmt.Sprintf("%sg%d", u.Prefix, n),
		User:          fmt.Sprintf("%s%d", u.UserPrefix, n),
	}
}

// Args are the sipp arguments a run needs: the Call-ID format of Dialog,
// the CSeq of its NOTIFYs (above every earlier one of the dialogs, RFC
// 3261 §12.2.2) and the subscriptions' expiry.
func (u NotifyUAC) Args(cseq uint32, expiry time.Time) []string {
	u = u.defaults()
	return []string{"-cid_str", u.Prefix + "-%u@bench",
		"-key", "notify_cseq", strconv.FormatUint(uint64(cseq), 10),
		"-key", "expiry", strconv.FormatInt(expiry.Unix(), 10)}
}
