package cpimgw

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "cpimgw"

// TestDependencyDirection enforces the layering of the developers' brief and
// STYLE.md §1: cpim imports nothing of ours; mapping imports only cpim; a
// side never imports the other side; only cmd wires the sides together.
// It also keeps the pure packages free of I/O-heavy third-party code:
// mapping may use mellium's jid (parsing, PRECIS) and x/text, x/net/idna;
// cpim only the standard library and x/text.
func TestDependencyDirection(t *testing.T) {
	pkgs := modulePackages(t)
	if len(pkgs) < 3 {
		t.Fatalf("found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		top, _, _ := strings.Cut(rel, "/")
		check := func(imports []string, kind string) {
			for _, imp := range imports {
				if err := allowed(top, imp); err != "" {
					t.Errorf("%s (%s) imports %s: %s", p.ImportPath, kind, imp, err)
				}
			}
		}
		check(p.Imports, "code")
		// Tests may use sipgo or mellium to verify what mapping produces,
		// but the sides' tests must not reach into each other either.
		if top == "xmppside" || top == "sipside" {
			check(p.TestImports, "tests")
			check(p.XTestImports, "tests")
		}
	}
}

// allowed returns why pkg (a top-level directory of the module) may not
// import imp, or "" when it may.
func allowed(top, imp string) string {
	ours := imp == module || strings.HasPrefix(imp, module+"/")
	impTop := ""
	if ours {
		impTop, _, _ = strings.Cut(strings.TrimPrefix(strings.TrimPrefix(imp, module), "/"), "/")
	}
	std := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
	switch top {
	case "cpim":
		if ours {
			return "cpim imports nothing of ours"
		}
		if !std && !strings.HasPrefix(imp, "golang.org/x/text/") {
			return "cpim uses only the standard library and x/text"
		}
	case "mapping":
		if ours && impTop != "cpim" {
			return "mapping imports only cpim"
		}
		if !ours && !std && imp != "mellium.im/xmpp/jid" &&
			!strings.HasPrefix(imp, "golang.org/x/text/") && imp != "golang.org/x/net/idna" {
			return "mapping uses only mellium's jid, x/text and x/net/idna outside the standard library"
		}
	case "xmppside":
		if impTop == "sipside" {
			return "a side never imports the other side"
		}
	case "sipside":
		if impTop == "xmppside" {
			return "a side never imports the other side"
		}
	case "cmd":
		return ""
	default:
		if impTop == "xmppside" || impTop == "sipside" {
			return "only cmd wires the sides; the core sees cpim types and small interfaces"
		}
	}
	return ""
}

// modulePackages lists every package of the module, parsed with go/build.
func modulePackages(t *testing.T) []*build.Package {
	t.Helper()
	var out []*build.Package
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		p.ImportPath = filepath.ToSlash(filepath.Join(module, path))
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAllowedRules checks the rule table itself on imports the tree does
// not (yet) contain, so a broken rule cannot pass silently.
func TestAllowedRules(t *testing.T) {
	deny := [][2]string{
		{"cpim", "cpimgw/mapping"},
		{"cpim", "mellium.im/xmpp/jid"},
		{"mapping", "cpimgw/xmppside"},
		{"mapping", "github.com/emiago/sipgo/sip"},
		{"mapping", "mellium.im/xmpp/stanza"},
		{"xmppside", "cpimgw/sipside"},
		{"sipside", "cpimgw/xmppside/internal"},
		{"gateway", "cpimgw/sipside"},
	}
	allow := [][2]string{
		{"cpim", "encoding/xml"},
		{"mapping", "cpimgw/cpim"},
		{"mapping", "mellium.im/xmpp/jid"},
		{"mapping", "golang.org/x/text/secure/precis"},
		{"xmppside", "cpimgw/mapping"},
		{"sipside", "github.com/emiago/sipgo"},
		{"cmd", "cpimgw/sipside"},
		{"gateway", "cpimgw/cpim"},
	}
	for _, d := range deny {
		if allowed(d[0], d[1]) == "" {
			t.Errorf("%s importing %s should be refused", d[0], d[1])
		}
	}
	for _, a := range allow {
		if why := allowed(a[0], a[1]); why != "" {
			t.Errorf("%s importing %s refused: %s", a[0], a[1], why)
		}
	}
}
