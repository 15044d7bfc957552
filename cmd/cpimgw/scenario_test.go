package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenarios runs every transcript of testdata/scenarios (format:
// testdata/scenarios/README.md) against the gateway in-process between a
// real Prosody, with alice and dave logged in over c2s, and a raw SIP peer
// that is the gateway's outbound proxy. One stack serves the files in turn;
// after each file the runner checks that nobody received anything the
// transcript did not expect, so no file sees another's traffic, and a file
// that fails gets the stack replaced.
func TestScenarios(t *testing.T) {
	files := scenarioFiles(t)
	var scenarios []*scenario
	for _, f := range files {
		sc, err := loadScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		scenarios = append(scenarios, sc)
	}
	requirePeers(t)

	sink := &logSink{t: t}
	var st *scenStack
	t.Cleanup(func() {
		if st != nil {
			st.close()
		}
	})
	for _, sc := range scenarios {
		name := strings.TrimSuffix(filepath.Base(sc.path), ".txtar")
		t.Run(name, func(t *testing.T) {
			if sc.knownBug != "" && !*runKnownBugs {
				t.Skipf("known bug: %s (run with -scenario.known-bugs to see it fail)", sc.knownBug)
			}
			sink.set(t)
			defer sink.set(nil)
			if st == nil {
				var err error
				if st, err = newScenStack(sink); err != nil {
					t.Fatal(err)
				}
			}
			newRun(t, st, sc).run()
			if t.Failed() {
				t.Log("replacing the gateway stack after a failure")
				st.close()
				st = nil
			}
		})
	}
	sink.set(nil)
}

// TestScenarioFiles checks the syntax of every transcript (sections,
// users, placeholders in SIP sections, XML in XMPP sections) without
// running any peer, so a broken file is reported even where Prosody is
// missing.
func TestScenarioFiles(t *testing.T) {
	for _, f := range scenarioFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := loadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			vars := newRun(t, &scenStack{gw: "127.0.0.1:5060", peerAddr: "127.0.0.1:5070"}, sc).vars
			for _, u := range scenarioUsers {
				vars[u], vars[u+".bare"], vars[u+".resource"] = u+"@"+xmppDomain+"/r", u+"@"+xmppDomain, "r"
			}
			vars["branch"] = "z9hG4bK-x"
			vars["totag"] = "totag-x"
			for _, s := range sc.steps {
				var captured string
				switch s.kind {
				case xmppSend, xmppExpect:
					text, err := expandWith(s.data, vars, s.kind == xmppExpect)
					if err == nil {
						_, err = parseXML(text)
					}
					if err != nil {
						t.Errorf("%s: %v", s.where(), err)
					}
					captured = text
				case sipSend, sipExpect:
					lines, err := sectionLines(s.data, vars, s.kind == sipExpect)
					if err != nil {
						t.Errorf("%s: %v", s.where(), err)
					}
					if err == nil && s.xml {
						if _, body, ok := splitSection(lines); !ok {
							t.Errorf("%s: a <sip xml section needs a body", s.where())
						} else if _, err := parseXML(body); err != nil {
							t.Errorf("%s: body: %v", s.where(), err)
						}
					}
					captured = strings.Join(lines, "\n")
				}
				// What a section captures is known to the sections after it.
				for _, name := range capturesIn(captured) {
					vars[name] = "captured-" + name
				}
			}
		})
	}
}

var runKnownBugs = flag.Bool("scenario.known-bugs", false, "run the scenario files marked '# known bug:' instead of skipping them")

func scenarioFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "scenarios", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario in testdata/scenarios")
	}
	return files
}

// TestScenarioRunnerReports runs transcripts that are wrong on purpose and
// checks that the runner reports each mistake, so that a passing
// transcript means something: a stanza or SIP message nobody expected
// (after a none section and after the last section), a wrong text, a
// missing header, a header that must be absent, a body that is not the
// XML a `<sip xml` section expects (shown with its capture as written).
func TestScenarioRunnerReports(t *testing.T) {
	requirePeers(t)
	const toAlice = `-- sip> --
MESSAGE sip:alice@xmpp.example.test SIP/2.0
Max-Forwards: 70
From: <sip:bob@sip.example.test>;tag={{tag}}
To: <sip:alice@xmpp.example.test>
Call-ID: {{callid}}
CSeq: 1 MESSAGE
Content-Type: text/plain

hello alice
`
	const toBob = `-- xmpp> alice --
<message to='bob@sip.example.test' id='m1'><body>hello bob</body></message>
`
	tests := map[string]struct {
		transcript string
		want       []string // in the one error reported
	}{
		"a stanza where none is expected": {
			toAlice + "-- <sip --\nSIP/2.0 202 Accepted\n-- <xmpp alice none --\n",
			[]string{"(-- <xmpp alice none --): alice received a stanza, want none", "<body>hello alice</body>"},
		},
		"a stanza after the last section": {
			toAlice + "-- <sip --\nSIP/2.0 202 Accepted\n",
			[]string{"after the last section: alice received a stanza, want none", "<body>hello alice</body>"},
		},
		"a SIP message where none is expected": {
			toBob + "-- <sip none --\n",
			[]string{"(-- <sip none --): the SIP peer received a message, want none", "MESSAGE sip:bob@sip.example.test SIP/2.0", "hello bob"},
		},
		"another text": {
			toAlice + "-- <sip --\nSIP/2.0 202 Accepted\n-- <xmpp alice --\n<message><body>hello bob</body></message>\n",
			[]string{`/message/body: text "hello alice", want "hello bob"`, "--- expected (<xmpp alice)", "+++ got"},
		},
		"a body that is not XML in a <sip xml section": {
			toBob + "-- <sip xml --\nMESSAGE sip:bob@sip.example.test SIP/2.0\nCall-ID: {{=c}}\n\n<message/>\n",
			[]string{"(-- <sip xml --): the SIP peer received another message", "body is not one XML element", "--- expected (<sip xml)\nMESSAGE sip:bob@sip.example.test SIP/2.0\nCall-ID: {{=c}}"},
		},
		"another status, a missing header, a header that must be absent": {
			toAlice + "-- <sip --\nSIP/2.0 200 OK\nContact: *\n!Server\n",
			[]string{
				`start line "SIP/2.0 202 Accepted", want "SIP/2.0 200 OK"`,
				`header Contact missing, want "*"`,
				"header Server: cpimgw/dev present, want none",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			sc, err := parseScenario(name, []byte("# "+name+"\n"+tt.transcript))
			if err != nil {
				t.Fatal(err)
			}
			sink := &logSink{t: t}
			defer sink.set(nil)
			st, err := newScenStack(sink)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			rec := &recorder{t: t}
			newRun(rec, st, sc).run()
			if len(rec.errs) != 1 {
				t.Fatalf("the runner reported %d errors, want 1:\n%s", len(rec.errs), strings.Join(rec.errs, "\n"))
			}
			for _, w := range tt.want {
				if !strings.Contains(rec.errs[0], w) {
					t.Errorf("the report lacks %q:\n%s", w, rec.errs[0])
				}
			}
		})
	}
}

// recorder collects the errors of a run instead of failing the test.
type recorder struct {
	t    *testing.T
	errs []string
}

func (r *recorder) Helper()                         {}
func (r *recorder) Logf(format string, args ...any) { r.t.Logf(format, args...) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
