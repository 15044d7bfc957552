package peers

import (
	"errors"
	"fmt"
	"strings"
)

// Renderers for the presence scenarios (RFC 3856, RFC 3903, RFC 6665) of
// scenarios/uac_publish, uac_subscribe and uas_notifier. They use the same
// template set as the MESSAGE scenarios. Bodies are placed in CDATA and
// scanned by sipp for keywords: they must not contain "[" or "]]>".

// PublishStep is one PUBLISH of a PublishUAC (RFC 3903 §4: initial with a
// body, refresh without, modify with, remove with Expires 0).
type PublishStep struct {
	Expires int
	Body    string // "" sends no body and no Content-Type
	// IfMatch overrides SIP-If-Match (e.g. an unknown entity-tag). Without
	// it the first step sends none and later ones the previous SIP-ETag.
	IfMatch string
	Expect  int // the final status expected (default 200)
	PauseMS int // pause after the response
}

// PublishUAC describes a sipp scenario publishing presence for one
// entity: every step is one PUBLISH in the same call.
type PublishUAC struct {
	RequestURI  string // the presentity, e.g. sip:bob@sip.example.test
	From        string // name-addr without tag (default <RequestURI>)
	To          string // URI (default RequestURI)
	Event       string // default "presence"
	ContentType string // default application/pidf+xml
	Headers     []string
	Steps       []PublishStep
}

// Render returns the scenario XML.
func (p PublishUAC) Render() (string, error) {
	if p.RequestURI == "" || len(p.Steps) == 0 {
		return "", errors.New("peers: PublishUAC needs a RequestURI and steps")
	}
	if p.From == "" {
		p.From = "<" + p.RequestURI + ">"
	}
	if p.To == "" {
		p.To = p.RequestURI
	}
	if p.Event == "" {
		p.Event = "presence"
	}
	if p.ContentType == "" {
		p.ContentType = "application/pidf+xml"
	}
	steps := make([]PublishStep, len(p.Steps))
	for i, s := range p.Steps {
		if s.Expect == 0 {
			s.Expect = 200
		}
		if err := checkBody(s.Body); err != nil {
			return "", err
		}
		steps[i] = s
	}
	p.Steps = steps
	return renderScenario("uac_publish.xml.tmpl", p)
}

// SubscribeUAC describes a sipp watcher: one SUBSCRIBE per call; on a 2xx
// it answers 1+Notifies NOTIFYs with 200 and, with Unsubscribe, then sends
// SUBSCRIBE Expires: 0 in the dialog and answers the final NOTIFY.
type SubscribeUAC struct {
	RequestURI  string   // e.g. sip:bob@sip.example.test
	From        string   // name-addr without tag, e.g. <sip:carol@sip.example.test>
	To          string   // URI (default RequestURI)
	ContactUser string   // user part of the Contact (default "watcher")
	Event       string   // default "presence"
	Accept      string   // default application/pidf+xml
	Expires     int      // default 60
	Headers     []string // extra header lines of the SUBSCRIBE
	Expect      int      // final status expected (default 200); ≥300 ends the call there
	// Notifies is the number of NOTIFYs expected after the first one, while
	// subscribed (changes, or the final one of an expiry).
	Notifies int
	// UntilTerminated, after those, answers NOTIFYs until one whose
	// Subscription-State is terminated (however many there are: a
	// notifier may merge or split state changes).
	UntilTerminated bool
	// Unsubscribe ends the subscription after those NOTIFYs, after
	// UnsubscribePauseMS.
	Unsubscribe        bool
	UnsubscribePauseMS int
}

// Render returns the scenario XML.
func (s SubscribeUAC) Render() (string, error) {
	if s.RequestURI == "" || s.From == "" {
		return "", errors.New("peers: SubscribeUAC needs a RequestURI and From")
	}
	if s.To == "" {
		s.To = s.RequestURI
	}
	if s.ContactUser == "" {
		s.ContactUser = "watcher"
	}
	if s.Event == "" {
		s.Event = "presence"
	}
	if s.Accept == "" {
		s.Accept = "application/pidf+xml"
	}
	if s.Expires == 0 {
		s.Expires = 60
	}
	if s.Expect == 0 {
		s.Expect = 200
	}
	return renderScenario("uac_subscribe.xml.tmpl", struct {
		SubscribeUAC
		More []struct{}
	}{s, make([]struct{}, s.Notifies)})
}

// NotifyStep is one NOTIFY a NotifierUAS sends, after PauseMS.
type NotifyStep struct {
	State       string // Subscription-State value, e.g. "active;expires=60"
	ContentType string // default application/pidf+xml (when Body is set)
	Body        string
	PauseMS     int
}

// NotifierUAS describes a sipp notifier (a stand-in for the gateway as
// presence agent): it answers one SUBSCRIBE with Status and, on a 2xx,
// sends Notifies in the dialog; with Unsubscribe it then takes the
// watcher's SUBSCRIBE Expires: 0, answers 200 and sends a final NOTIFY
// `terminated;reason=timeout`.
type NotifierUAS struct {
	Status      int    // default 200
	Reason      string // default "OK"
	Expires     int    // Expires of the 2xx (default 60)
	ContactUser string // default "notifier"
	Headers     []string
	Notifies    []NotifyStep
	Unsubscribe bool
}

// Render returns the scenario XML.
func (n NotifierUAS) Render() (string, error) {
	if n.Status == 0 {
		n.Status = 200
	}
	if n.Reason == "" {
		n.Reason = "OK"
	}
	if n.Expires == 0 {
		n.Expires = 60
	}
	if n.ContactUser == "" {
		n.ContactUser = "notifier"
	}
	type step struct {
		NotifyStep
		CSeq int
	}
	steps := make([]step, len(n.Notifies))
	for i, s := range n.Notifies {
		if s.State == "" {
			return "", fmt.Errorf("peers: NOTIFY %d has no Subscription-State", i)
		}
		if s.ContentType == "" {
			s.ContentType = "application/pidf+xml"
		}
		if err := checkBody(s.Body); err != nil {
			return "", err
		}
		steps[i] = step{s, i + 1}
	}
	return renderScenario("uas_notifier.xml.tmpl", struct {
		NotifierUAS
		Notifies  []step
		FinalCSeq int
	}{n, steps, len(steps) + 1})
}

// checkBody refuses what would break the scenario: sipp keywords and the
// end of the CDATA section.
func checkBody(body string) error {
	if strings.Contains(body, "[") || strings.Contains(body, "]]>") {
		return errors.New(`peers: a scenario body must not contain "[" or "]]>"`)
	}
	return nil
}
