// Package fuzzseed loads the seed corpora of the module's native fuzz
// targets: plain files, one input each, under testdata/fuzz/<target>/ at
// the module root, so they can be read and edited (and so a crasher found
// by `make fuzz` becomes a seed by copying one file). cpim and mapping
// keep a copy of Add in their own tests: they import nothing of ours.
package fuzzseed

import (
	"os"
	"path/filepath"
	"testing"
)

// Add adds every file of ../testdata/fuzz/<target>/ (relative to the
// package directory a test runs in) to f's seed corpus. A missing
// directory fails the test: a target without seeds fuzzes blind.
func Add(f *testing.F, target string) {
	f.Helper()
	dir := filepath.Join("..", "testdata", "fuzz", target)
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatalf("seed corpus: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
