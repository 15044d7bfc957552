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
	exact  bool   // <xmpp … exact, <sip xml exact
	xml    bool   // <sip xml: the body is compared as XML
	// eventually (<sip eventually): earlier requests of the same method
	// in the same dialog are answered 200 and skipped.
	eventually bool
	data       string
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
			switch {
			case w == "none" && st.kind == sipExpect && !st.xml:
				st.kind = sipNone
			case w == "eventually" && st.kind == sipExpect:
				st.eventually = true
			case w == "xml" && st.kind == sipExpect:
				st.xml = true
			case w == "exact" && st.kind == sipExpect && st.xml:
				st.exact = true
			default:
				return st, fmt.Errorf("-- %s --: unknown word %q (<sip takes none, or eventually, xml, xml exact)", name, w)
			}
		}
		if st.kind == sipNone && (st.xml || st.eventually) {
			return st, fmt.Errorf("-- %s --: none takes no other word", name)
		}
	default:
		return st, fmt.Errorf("-- %s --: a section is xmpp> USER, <xmpp USER [none|exact], sip> or <sip [none|eventually|xml [exact]]", name)
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
	if st.eventually {
		head, _, _ := splitSection(strings.Split(strings.TrimSuffix(data, "\n"), "\n"))
		hasCallID := false
		for _, f := range parseFields(head[1:]) {
			hasCallID = hasCallID || (canonicalName(f.Name) == "call-id" && !f.Absent)
		}
		if strings.HasPrefix(head[0], "SIP/2.0 ") || !hasCallID {
			return st, fmt.Errorf("-- %s --: eventually expects a request and names its dialog with a Call-ID header", name)
		}
	}
	return st, nil
}

// placeholder matches {{name}}.
var placeholder = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// Capture markers: in a section that receives, {{=name}} expands to
// capOpen+name+capClose, which the matchers read as "record what is here
// under name" (testdata/scenarios/README.md, "Captures"). The two
// characters are from the Private Use Area: valid in XML, not white
// space, not a SIP separator, and never sent by the gateway.
const (
	capOpen  = "\uE000"
	capClose = "\uE001"
)

// captureName is the syntax of a capture's name.
var captureName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// builtinPlaceholder reports whether name is one the runner defines
// itself, which a capture may not redefine.
func builtinPlaceholder(name string) bool {
	switch name {
	case "gw", "peer", "callid", "tag", "totag", "branch", "content-length":
		return true
	}
	for _, u := range scenarioUsers {
		if name == u || name == u+".bare" || name == u+".resource" {
			return true
		}
	}
	return false
}

// expand replaces the placeholders of s with their values; \xHH is the
// byte with that hexadecimal value. An unknown name is an error, so a typo
// cannot pass silently; so is a capture ({{=name}}), which only a section
// that receives may hold (expandExpected).
func expand(s string, vars map[string]string) (string, error) {
	return expandWith(s, vars, false)
}

// expandExpected is expand for a section that receives: {{=name}} becomes
// a capture marker.
func expandExpected(s string, vars map[string]string) (string, error) {
	return expandWith(s, vars, true)
}

func expandWith(s string, vars map[string]string, captures bool) (string, error) {
	var bad []string
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-2])
		if hex, ok := strings.CutPrefix(name, `\x`); ok && len(hex) == 2 {
			if b, err := strconv.ParseUint(hex, 16, 8); err == nil {
				return string([]byte{byte(b)})
			}
		}
		if c, ok := strings.CutPrefix(name, "="); ok {
			c = strings.TrimSpace(c)
			switch {
			case !captures:
				bad = append(bad, m+" (a capture belongs in a section that receives)")
			case !captureName.MatchString(c):
				bad = append(bad, m+" (a capture name is letters, digits, _ . -)")
			case builtinPlaceholder(c):
				bad = append(bad, m+" (the runner defines "+c+" itself)")
			default:
				return capOpen + c + capClose
			}
			return m
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

// capturesIn returns the names of the capture markers in an expanded
// text, in order.
func capturesIn(s string) []string {
	var out []string
	for {
		_, rest, ok := strings.Cut(s, capOpen)
		if !ok {
			return out
		}
		name, after, _ := strings.Cut(rest, capClose)
		out = append(out, name)
		s = after
	}
}

// sectionLines returns the lines of a SIP section with placeholders
// expanded line by line (so that {{\x0a}} stays inside its line); with
// captures (a section that receives), {{=name}} becomes a capture marker.
// The section's last line break is not part of it.
func sectionLines(data string, vars map[string]string, captures bool) ([]string, error) {
	data = strings.TrimSuffix(data, "\n")
	lines := strings.Split(data, "\n")
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		v, err := expandWith(l, vars, captures)
		if err != nil {
			return nil, err
		}
		lines[i] = v
	}
	return lines, nil
}

// pattern is a value of an expected message: literal text with capture
// markers, each standing for a non-empty run of characters recorded under
// its name (the shortest that lets the rest match), and, where wildcards
// are allowed, * for any run of characters.
type pattern struct {
	literal string         // the whole pattern when it has neither
	re      *regexp.Regexp // otherwise
	names   []string       // capture names, by group
}

// compilePattern reads p; star says whether * is a wildcard.
func compilePattern(p string, star bool) pattern {
	if !strings.Contains(p, capOpen) && (!star || !strings.Contains(p, "*")) {
		return pattern{literal: p}
	}
	var b strings.Builder
	var names []string
	b.WriteString(`(?s)\A`)
	lit := func(s string) {
		if !star {
			b.WriteString(regexp.QuoteMeta(s))
			return
		}
		parts := strings.Split(s, "*")
		for i, part := range parts {
			if i > 0 {
				b.WriteString(".*")
			}
			b.WriteString(regexp.QuoteMeta(part))
		}
	}
	for {
		before, rest, ok := strings.Cut(p, capOpen)
		lit(before)
		if !ok {
			break
		}
		name, after, _ := strings.Cut(rest, capClose)
		names = append(names, name)
		b.WriteString("(.+?)")
		p = after
	}
	b.WriteString(`\z`)
	return pattern{re: regexp.MustCompile(b.String()), names: names}
}

// match reports whether s matches, with what the captures recorded.
func (p pattern) match(s string) (map[string]string, bool) {
	if p.re == nil {
		return nil, s == p.literal
	}
	m := p.re.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	var caps map[string]string
	for i, name := range p.names {
		if caps == nil {
			caps = map[string]string{}
		}
		caps[name] = m[i+1]
	}
	return caps, true
}

// showPattern writes a pattern back in the notation of the transcripts,
// {{=name}} for a capture, for reports.
func showPattern(s string) string {
	return strings.NewReplacer(capOpen, "{{=", capClose, "}}").Replace(s)
}
