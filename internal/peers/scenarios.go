package peers

import (
	"bytes"
	"embed"
	"text/template"
)

//go:embed scenarios/*.tmpl
var scenarioFS embed.FS

var scenarios = template.Must(template.ParseFS(scenarioFS, "scenarios/*.tmpl"))

// renderScenario executes the scenario template name with data: the Render
// methods fill in their defaults, check their fields and call it.
func renderScenario(name string, data any) (string, error) {
	var b bytes.Buffer
	err := scenarios.ExecuteTemplate(&b, name, data)
	return b.String(), err
}

// MessageUAC describes a sipp scenario that sends one MESSAGE per call and
// expects one final response.
type MessageUAC struct {
	RequestURI  string   // e.g. sip:alice@xmpp.example.test
	From        string   // name-addr without tag, e.g. "Bob" <sip:bob@sip.example.test>
	To          string   // URI
	CallID      string   // default: sipp's [call_id] (sipp matches responses to calls by it)
	MaxForwards string   // default "70" (a string, so "0" can be sent)
	Headers     []string // extra header lines (Subject, Content-Language…)
	ContentType string   // default text/plain;charset=UTF-8
	Body        string
	Expect      int // the final status expected (default 202)
}

// Render returns the scenario XML.
func (m MessageUAC) Render() (string, error) {
	if m.CallID == "" {
		m.CallID = "[call_id]"
	}
	if m.MaxForwards == "" {
		m.MaxForwards = "70"
	}
	if m.ContentType == "" {
		m.ContentType = "text/plain;charset=UTF-8"
	}
	if m.Expect == 0 {
		m.Expect = 202
	}
	return renderScenario("uac_message.xml.tmpl", m)
}

// MessageUAS describes a sipp scenario that receives one MESSAGE per call
// and answers it with Status, or stays silent for SilenceMS when Status is 0.
type MessageUAS struct {
	Status    int
	Reason    string
	Headers   []string // extra header lines of the response (Retry-After…)
	SilenceMS int
}

// Render returns the scenario XML.
func (m MessageUAS) Render() (string, error) {
	if m.Reason == "" {
		m.Reason = "Reason"
	}
	if m.Status == 0 && m.SilenceMS == 0 {
		m.SilenceMS = 60000
	}
	return renderScenario("uas_answer.xml.tmpl", m)
}
