package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/tools/txtar"
)

// Loading of the transcripts in testdata/scenarios (the format is
// described in testdata/scenarios/README.md).

// stepKind is what a section does.
type stepKind int

const (
	xmppSend   stepKind = iota // xmpp> USER
	xmppExpect                 // <xmpp USER [exact]
	xmppNone                   // <xmpp USER none
	sipSend                    // sip>
	sipExpect                  // <sip
	sipNone                    // <sip none
)

// scenarioUsers are the XMPP users of the scenario stack.
var scenarioUsers = []string{"alice", "dave"}

// step is one section of a transcript.
type step struct {
	kind   stepKind
	marker string // the section name, as written
	line   int    // line of the marker in the file
	user   string // XMPP sections
	exact  bool   // <xmpp … exact
	data   string
}

func (s step) where() string { return fmt.Sprintf("line %d (-- %s --)", s.line, s.marker) }

// scenario is one transcript file.
type scenario struct {
	path    string
	comment string
	// knownBug is the text of a "# known bug:" line of the comment.
	knownBug string
	steps    []step
}

// loadScenario reads and checks a transcript.
func loadScenario(path string) (*scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseScenario(path, data)
}

var knownBugLine = regexp.MustCompile(`(?m)^#\s*known bug:\s*(.*)$`)

func parseScenario(path string, data []byte) (*scenario, error) {
	ar := txtar.Parse(data)
	sc := &scenario{path: path, comment: string(ar.Comment)}
	if m := knownBugLine.FindStringSubmatch(sc.comment); m != nil {
		sc.knownBug = strings.TrimSpace(m[1])
		if sc.knownBug == "" {
			return nil, fmt.Errorf("%s: '# known bug:' needs a description", path)
		}
	}
	if strings.TrimSpace(sc.comment) == "" {
		return nil, fmt.Errorf("%s: no comment header saying what the scenario proves", path)
	}
	lines := markerLines(data)
	if len(lines) != len(ar.Files) {
		return nil, fmt.Errorf("%s: found %d section markers but txtar read %d sections", path, len(lines), len(ar.Files))
	}
	if len(ar.Files) == 0 {
		return nil, fmt.Errorf("%s: no sections", path)
	}
	for i, f := range ar.Files {
		st, err := parseStep(f.Name, string(f.Data))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lines[i], err)
		}
		st.line = lines[i]
		sc.steps = append(sc.steps, st)
	}
	return sc, nil
}

// markerLines returns the line numbers of the section markers, in order
// (txtar does not keep them).
func markerLines(data []byte) []int {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(l, "-- ") && strings.HasSuffix(l, " --") && len(l) > 6 {
			out = append(out, n)
		}
	}
	return out
}

// parseStep reads a section name (the words between "-- " and " --") and
// checks the section's content.
func parseStep(name, data string) (step, error) {
	st := step{marker: name, data: data}
	words := strings.Fields(name)
	if len(words) == 0 {
		return st, fmt.Errorf("empty section name")
	}
	isUser := func(u string) bool {
		for _, k := range scenarioUsers {
			if u == k {
				return true
			}
		}
		return false
	}
	switch words[0] {
	case "xmpp>", "<xmpp":
		if len(words) < 2 || !isUser(words[1]) {
			return st, fmt.Errorf("-- %s --: name the XMPP user (one of %v)", name, scenarioUsers)
		}
		st.user = words[1]
		st.kind = xmppSend
		if words[0] == "<xmpp" {
			st.kind = xmppExpect
		}
		for _, w := range words[2:] {
			switch {
			case w == "none" && st.kind == xmppExpect:
				st.kind = xmppNone
			case w == "exact" && st.kind == xmppExpect:
				st.exact = true
			default:
				return st, fmt.Errorf("-- %s --: unknown word %q", name, w)
			}
		}
		if st.kind == xmppNone && st.exact {
			return st, fmt.Errorf("-- %s --: none and exact exclude each other", name)
		}
	case "sip>", "<sip":
		st.kind = sipSend
		if words[0] == "<sip" {
			st.kind = sipExpect
		}
		for _, w := range words[1:] {
			if w == "none" && st.kind == sipExpect {
				st.kind = sipNone
				continue
			}
			return st, fmt.Errorf("-- %s --: unknown word %q", name, w)
		}
	default:
		return st, fmt.Errorf("-- %s --: a section is xmpp> USER, <xmpp USER [none|exact], sip> or <sip [none]", name)
	}
	empty := strings.TrimSpace(data) == ""
	switch {
	case (st.kind == xmppNone || st.kind == sipNone) && !empty:
		return st, fmt.Errorf("-- %s --: a none section must be empty", name)
	case st.kind != xmppNone && st.kind != sipNone && empty:
		return st, fmt.Errorf("-- %s --: empty section", name)
	}
	if st.kind == sipSend || st.kind == sipExpect {
		if first, _, _ := strings.Cut(data, "\n"); strings.TrimSpace(first) != first || first == "" {
			return st, fmt.Errorf("-- %s --: the first line must be the start line, without leading or trailing space", name)
		}
	}
	return st, nil
}

// placeholder matches {{name}}.
var placeholder = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// expand replaces the placeholders of s with their values; \xHH is the
// byte with that hexadecimal value. An unknown name is an error, so a typo
// cannot pass silently.
func expand(s string, vars map[string]string) (string, error) {
	var bad []string
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-2])
		if hex, ok := strings.CutPrefix(name, `\x`); ok && len(hex) == 2 {
			if b, err := strconv.ParseUint(hex, 16, 8); err == nil {
				return string([]byte{byte(b)})
			}
		}
		if v, ok := vars[name]; ok {
			return v
		}
		bad = append(bad, m)
		return m
	})
	if bad != nil {
		return "", fmt.Errorf("unknown placeholder %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// sectionLines returns the lines of a SIP section with placeholders
// expanded line by line (so that {{\x0a}} stays inside its line). The
// section's last line break is not part of it.
func sectionLines(data string, vars map[string]string) ([]string, error) {
	data = strings.TrimSuffix(data, "\n")
	lines := strings.Split(data, "\n")
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		v, err := expand(l, vars)
		if err != nil {
			return nil, err
		}
		lines[i] = v
	}
	return lines, nil
}
