package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"cpimgw/cpim"
)

var errClosedDB = berrors.ErrDatabaseNotOpen

// checkTx runs bbolt's consistency check: every page reachable once, the
// freelist agrees, keys in order.
func checkTx(tx *bolt.Tx) error {
	var errs []error
	for err := range tx.Check() {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// snapshot is everything a store holds for Fill's first pairs.
type snapshot struct {
	Auths    []Auth
	Dialogs  []Dialog
	Presence map[string]cpim.Presence
}

func takeSnapshot(t *testing.T, s Store, pairs int) snapshot {
	t.Helper()
	snap := snapshot{Auths: collectAuths(t, s), Dialogs: collectDialogs(t, s), Presence: map[string]cpim.Presence{}}
	for i := range pairs {
		u, c := SyntheticPair(i)
		for _, k := range []string{Key(u), Key(c)} {
			p, ok, err := s.GetPresence(k)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				snap.Presence[k] = p
			}
		}
	}
	return snap
}

func TestBoltReopen(t *testing.T) {
	for name, opts := range map[string]BoltOptions{
		"buffered presence": {},
		"sync presence":     {PresenceDelay: -1},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := OpenBolt(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			const pairs = 20
			if err := Fill(b, pairs); err != nil {
				t.Fatal(err)
			}
			// Deletes and replacements must survive too.
			u, c := SyntheticPair(3)
			if err := b.DeleteAuth(X2S, Key(u), Key(c)); err != nil {
				t.Fatal(err)
			}
			if err := b.DeletePresence(Key(c)); err != nil {
				t.Fatal(err)
			}
			if err := b.PutPresence(Key(u), cpim.Presence{Entity: u, Lang: "de"}); err != nil {
				t.Fatal(err)
			}
			want := takeSnapshot(t, b, pairs)
			if len(want.Auths) != 2*pairs-1 || len(want.Dialogs) != 2*pairs || len(want.Presence) != 2*pairs-1 {
				t.Fatalf("before reopen: %d auths, %d dialogs, %d presences", len(want.Auths), len(want.Dialogs), len(want.Presence))
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			b2 := openTestBolt(t, dir, opts)
			if got := takeSnapshot(t, b2, pairs); !reflect.DeepEqual(got, want) {
				t.Errorf("after reopen the store differs:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestBoltPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "cpimgw")
	openTestBolt(t, dir, BoltOptions{})
	for path, want := range map[string]os.FileMode{
		dir:                          0o700 | os.ModeDir,
		filepath.Join(dir, FileName): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

func TestBoltLock(t *testing.T) {
	dir := t.TempDir()
	first := openTestBolt(t, dir, BoltOptions{})
	const timeout = 200 * time.Millisecond
	start := time.Now()
	second, err := OpenBolt(dir, BoltOptions{LockTimeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("a second OpenBolt on the same directory succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, filepath.Join(dir, FileName)) || !strings.Contains(msg, "another gateway") {
		t.Errorf("error %q does not say which file and why", msg)
	}
	// bbolt retries the lock every 50ms and gives up when the next retry
	// would pass the timeout.
	if elapsed < timeout-100*time.Millisecond || elapsed > timeout+2*time.Second {
		t.Errorf("failed after %v, want about %v", elapsed, timeout)
	}
	// The first store is unharmed, and the lock goes with it.
	if err := first.PutAuth(Auth{Direction: X2S, Watcher: "w", Target: "t", State: AuthGranted}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTestBolt(t, dir, BoltOptions{LockTimeout: timeout})
	if _, ok, err := again.GetAuth(X2S, "w", "t"); err != nil || !ok {
		t.Errorf("after the first closed: %v, %v", ok, err)
	}
}

// writeBoltFile makes a bbolt file (not through OpenBolt) with fn.
func writeBoltFile(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// storeWithSchema writes the buckets of a store and the given schema
// record (nil: none).
func storeWithSchema(schema []byte, buckets ...string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if schema != nil {
			if err := meta.Put(keySchema, schema); err != nil {
				return err
			}
		}
		for _, b := range buckets {
			if _, err := tx.CreateBucket([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestBoltRefusesForeignFiles(t *testing.T) {
	// A real store with some content, whose bytes the cases damage.
	realDir := t.TempDir()
	rb, err := OpenBolt(realDir, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Fill(rb, 30); err != nil {
		t.Fatal(err)
	}
	rb.flush()
	var used int64 // the pages in use: the file may be longer
	rb.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	if err := rb.Close(); err != nil {
		t.Fatal(err)
	}
	real, err := os.ReadFile(filepath.Join(realDir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	rnd := make([]byte, 64<<10)
	for i := range rnd {
		rnd[i] = byte(rand.N(256))
	}
	all := []string{"auths", "dialogs", "presence"}
	v1, _ := json.Marshal(schemaRecord{Format: schemaFormat, Version: 1})
	v2, _ := json.Marshal(schemaRecord{Format: schemaFormat, Version: SchemaVersion + 1})
	other, _ := json.Marshal(schemaRecord{Format: "someone-else", Version: 1})

	cases := []struct {
		name  string
		bytes []byte                  // the file's content, or
		bolt  func(tx *bolt.Tx) error // a bbolt file written with this
		want  error
		text  string // in the message
	}{
		{name: "text file", bytes: []byte("# a config file in the wrong place\nlisten: 5060\n"), want: ErrNotStore},
		{name: "random bytes", bytes: rnd, want: ErrNotStore},
		{name: "first page only", bytes: real[:4096], want: ErrNotStore},
		{name: "truncated by half", bytes: real[:used/2], want: ErrNotStore},
		{name: "last page missing", bytes: real[:used-4096], want: ErrNotStore},
		{name: "meta pages zeroed", bytes: append(make([]byte, 8192), real[8192:]...), want: ErrNotStore},
		{name: "another program's bbolt file", want: ErrNotStore, text: "another program",
			bolt: func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("users")); return err }},
		{name: "no schema record", bolt: storeWithSchema(nil, all...), want: ErrNotStore, text: "schema"},
		{name: "schema of another format", bolt: storeWithSchema(other, all...), want: ErrNotStore, text: "someone-else"},
		{name: "garbled schema", bolt: storeWithSchema([]byte("{"), all...), want: ErrNotStore, text: "schema"},
		{name: "bucket missing", bolt: storeWithSchema(v1, "auths", "presence"), want: ErrNotStore, text: "dialogs"},
		{name: "newer schema", bolt: storeWithSchema(v2, all...), want: ErrNewerSchema,
			text: fmt.Sprintf("schema version %d, this gateway knows up to %d", SchemaVersion+1, SchemaVersion)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if c.bolt != nil {
				writeBoltFile(t, path, c.bolt)
			} else if err := os.WriteFile(path, c.bytes, 0o600); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b, err := OpenBolt(dir, BoltOptions{LockTimeout: 100 * time.Millisecond})
			if err == nil {
				b.Close()
				t.Fatal("OpenBolt accepted the file")
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			t.Logf("refused: %v", err)
			if msg := err.Error(); !strings.HasPrefix(msg, "store: ") || !strings.Contains(msg, path) || !strings.Contains(msg, c.text) {
				t.Errorf("error %q: want the prefix, the path and %q", msg, c.text)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("refusing the file changed it")
			}
			// The refusal released the file.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			openTestBolt(t, dir, BoltOptions{LockTimeout: 100 * time.Millisecond})
		})
	}
}

// TestBoltTruncated: a file shorter than its header says is refused even
// when the pages bbolt reads at open (meta, freelist) are all there.
func TestBoltTruncated(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenBolt(dir, BoltOptions{PresenceDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := Fill(b, 30); err != nil {
		t.Fatal(err)
	}
	// Free pages in the middle, so the next freelist is written there.
	if err := b.Dialogs(func(d Dialog) error { return b.DeleteDialog(d.ID) }); err != nil {
		t.Fatal(err)
	}
	if err := b.PutAuth(Auth{Direction: X2S, Watcher: "w", Target: "t", State: AuthGranted}); err != nil {
		t.Fatal(err)
	}
	var used int64
	b.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.Truncate(path, used-4096); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(dir, BoltOptions{})
	if err == nil {
		b.Close()
		t.Fatal("OpenBolt accepted a truncated file")
	}
	want := fmt.Sprintf("truncated: %d bytes, its header needs %d", used-4096, used)
	if !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want ErrNotStore and %q", err, want)
	}
}

// TestBoltDamagedPage: a file whose header is fine but one of whose pages
// is garbage opens (nothing checks every page at start), and reading that
// part returns an error instead of crashing the gateway: bbolt panics on
// such a page, the store recovers.
func TestBoltDamagedPage(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenBolt(dir, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := Fill(b, 200); err != nil {
		t.Fatal(err)
	}
	var root uint64
	b.db.View(func(tx *bolt.Tx) error { root = uint64(tx.Bucket(bucketDialogs).RootPage()); return nil })
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 4096), int64(root)*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b, err = OpenBolt(dir, BoltOptions{})
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	defer b.Close()
	if n := len(collectAuths(t, b)); n != 400 {
		t.Errorf("%d auths readable, want 400", n)
	}
	err = b.Dialogs(func(Dialog) error { return nil })
	if !errors.Is(err, ErrNotStore) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Dialogs on a damaged page: %v", err)
	}
	t.Logf("Dialogs: %v", err)
	u, c := SyntheticPair(1)
	if _, _, err := b.GetDialog(Key(u) + Key(c)); !errors.Is(err, ErrNotStore) {
		t.Errorf("GetDialog on a damaged page: %v", err)
	}
	if err := b.PutDialog(sampleDialog("x")); !errors.Is(err, ErrNotStore) {
		t.Errorf("PutDialog on a damaged page: %v", err)
	}
	// The rest of the store still works.
	if err := b.PutAuth(Auth{Direction: X2S, Watcher: "w", Target: "t", State: AuthGranted}); err != nil {
		t.Errorf("PutAuth: %v", err)
	}
}

// TestBoltEmptyFile: a zero-length file (a crash while the store was
// being created) becomes a new store.
func TestBoltEmptyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := openTestBolt(t, dir, BoltOptions{})
	if err := b.PutAuth(Auth{Direction: S2X, Watcher: "w", Target: "t", State: AuthPending}); err != nil {
		t.Fatal(err)
	}
}

// TestBoltPresenceWriteBehind: buffered presence is visible at once and
// reaches the file within the delay, deletes included.
func TestBoltPresenceWriteBehind(t *testing.T) {
	b := openTestBolt(t, t.TempDir(), BoltOptions{PresenceDelay: 20 * time.Millisecond})
	inFile := func(entity string) (bool, error) {
		var found bool
		err := b.db.View(func(tx *bolt.Tx) error {
			found = tx.Bucket(bucketPresence).Get([]byte(entity)) != nil
			return nil
		})
		return found, err
	}
	waitFile := func(entity string, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			found, err := inFile(entity)
			if err != nil {
				t.Fatal(err)
			}
			if found == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("presence of %s in the file: %v after 5s, want %v", entity, found, want)
			}
			time.Sleep(5 * time.Millisecond) // polling the file, not synchronizing goroutines
		}
	}
	p := samplePresence(cpim.Address{Local: "a", Domain: "x"})
	for i := range 50 { // a burst: the last write wins
		p.Tuples[0].Priority = i
		if err := b.PutPresence("a@x", p); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := b.GetPresence("a@x"); err != nil || !ok || got.Tuples[0].Priority != i {
			t.Fatalf("GetPresence right after PutPresence #%d: %+v, %v, %v", i, got, ok, err)
		}
	}
	waitFile("a@x", true)
	var stored cpim.Presence
	b.db.View(func(tx *bolt.Tx) error {
		var err error
		stored, err = decodePresence(tx.Bucket(bucketPresence).Get([]byte("a@x")))
		return err
	})
	if !reflect.DeepEqual(stored, p) {
		t.Errorf("file holds %+v\nwant %+v", stored, p)
	}
	if err := b.DeletePresence("a@x"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.GetPresence("a@x"); err != nil || ok {
		t.Errorf("GetPresence right after DeletePresence: %v, %v", ok, err)
	}
	waitFile("a@x", false)
}

// TestBoltCloseWhileWriting: writers racing with Close get nil or
// ErrClosed and never hang; what they were told is stored is stored.
func TestBoltCloseWhileWriting(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenBolt(dir, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done []string
	)
	started := make(chan struct{}, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				err := b.PutAuth(Auth{Direction: X2S, Watcher: key, Target: "t", State: AuthGranted})
				if i == 0 {
					started <- struct{}{}
				}
				if err == ErrClosed {
					return
				}
				if err != nil {
					t.Errorf("PutAuth: %v", err)
					return
				}
				b.PutPresence(key, cpim.Presence{}) // nil or ErrClosed
				mu.Lock()
				done = append(done, key)
				mu.Unlock()
			}
		}()
	}
	for range 8 {
		<-started
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	b2 := openTestBolt(t, dir, BoltOptions{})
	for _, key := range done {
		if _, ok, err := b2.GetAuth(X2S, key, "t"); err != nil || !ok {
			t.Errorf("acknowledged auth %s lost: %v, %v", key, ok, err)
		}
	}
	t.Logf("%d writes acknowledged before Close", len(done))
}

func TestFill(t *testing.T) {
	for name, s := range map[string]Store{
		"memory": NewMemory(),
		"bolt":   openTestBolt(t, t.TempDir(), BoltOptions{}),
	} {
		t.Run(name, func(t *testing.T) {
			const pairs = 25
			if err := Fill(s, pairs); err != nil {
				t.Fatal(err)
			}
			if err := Fill(s, pairs); err != nil { // again: replaces
				t.Fatal(err)
			}
			snap := takeSnapshot(t, s, pairs)
			if len(snap.Auths) != 2*pairs || len(snap.Dialogs) != 2*pairs || len(snap.Presence) != 2*pairs {
				t.Fatalf("%d auths, %d dialogs, %d presences; want %d each",
					len(snap.Auths), len(snap.Dialogs), len(snap.Presence), 2*pairs)
			}
			u, c := SyntheticPair(7)
			if u.String() != "user7@xmpp.example.test" || c.String() != "contact7@sip.example.test" {
				t.Errorf("pair 7 = %s, %s", u, c)
			}
			for _, d := range []Direction{X2S, S2X} {
				w, tg := Key(u), Key(c)
				if d == S2X {
					w, tg = tg, w
				}
				if a, ok, err := s.GetAuth(d, w, tg); err != nil || !ok || a.State != AuthGranted {
					t.Errorf("%s auth of pair 7: %+v, %v, %v", d, a, ok, err)
				}
			}
			roles := map[Role]int{}
			for _, d := range snap.Dialogs {
				roles[d.Role]++
				if d.Expires.Before(time.Now()) || d.LocalCSeq == 0 || d.Event != "presence" || len(d.RouteSet) == 0 {
					t.Errorf("unrealistic dialog %+v", d)
				}
				if d.ID != d.CallID+";"+d.LocalTag+";"+d.RemoteTag {
					t.Errorf("dialog id %q is not Call-ID;local;remote", d.ID)
				}
			}
			if roles[Subscriber] != pairs || roles[Notifier] != pairs {
				t.Errorf("roles %v", roles)
			}
			if p := snap.Presence[Key(u)]; len(p.Tuples) != 2 || !p.Entity.Equal(u) {
				t.Errorf("user presence %+v", p)
			}
		})
	}
}

// The crash test: a child process (this test binary, re-executed) writes
// authorizations and dialogs from several goroutines and prints each key
// once PutAuth/PutDialog has returned; the parent SIGKILLs it mid-run and
// reopens the file. Every printed key must be there, the file must open
// and pass bbolt's consistency check. Three rounds on the same file.

const crashEnv = "CPIMGW_STORE_CRASH_DIR"

func TestBoltCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	for round := range 3 {
		acked := runCrashChild(t, dir, round, 300+round*400)
		b := openTestBolt(t, dir, BoltOptions{})
		if err := b.db.View(checkTx); err != nil {
			t.Fatalf("round %d: consistency check: %v", round, err)
		}
		lost := 0
		for _, line := range acked {
			kind, key, _ := strings.Cut(line, " ")
			var ok bool
			var err error
			switch kind {
			case "auth":
				var a Auth
				a, ok, err = b.GetAuth(S2X, key, "target@xmpp.example.test")
				ok = ok && a.State == AuthGranted
			case "dialog":
				id, cseq, _ := strings.Cut(key, " ")
				var d Dialog
				d, ok, err = b.GetDialog(id)
				n, _ := strconv.ParseUint(cseq, 10, 32)
				ok = ok && d.LocalCSeq >= uint32(n)
			default:
				t.Fatalf("round %d: child said %q", round, line)
			}
			if err != nil || !ok {
				lost++
				if lost <= 5 {
					t.Errorf("round %d: acknowledged %q lost (%v)", round, line, err)
				}
			}
		}
		if lost > 0 {
			t.Fatalf("round %d: %d of %d acknowledged writes lost", round, lost, len(acked))
		}
		t.Logf("round %d: %d acknowledged writes, all there after SIGKILL", round, len(acked))
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runCrashChild starts the child on dir, kills it after it acknowledged
// killAfter writes, and returns every acknowledgement it printed.
func runCrashChild(t *testing.T, dir string, round, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, "CPIMGW_STORE_CRASH_ROUND="+strconv.Itoa(round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "auth ") && !strings.HasPrefix(line, "dialog ") {
			continue // the test framework's own output
		}
		acked = append(acked, line)
		if !killed && len(acked) >= killAfter {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("round %d: child ended before it was killed (%v) after %d writes", round, err, len(acked))
	}
	return acked
}

// TestBoltCrashChild is the child of TestBoltCrash; run alone it does
// nothing.
func TestBoltCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("the child process of TestBoltCrash")
	}
	round := os.Getenv("CPIMGW_STORE_CRASH_ROUND")
	b, err := OpenBolt(dir, BoltOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // unbuffered: in the pipe before the next write
		mu.Unlock()
	}
	deadline := time.Now().Add(time.Minute) // bounded, should the parent die
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := sampleDialog(fmt.Sprintf("r%s-g%d-dialog", round, g))
			for i := 0; time.Now().Before(deadline); i++ {
				key := fmt.Sprintf("r%s-g%d-%d@sip.example.test", round, g, i)
				if err := b.PutAuth(Auth{Direction: S2X, Watcher: key, Target: "target@xmpp.example.test",
					State: AuthGranted, Updated: time.Now()}); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				say("auth %s", key)
				b.PutPresence(key, cpim.Presence{Lang: key})
				if i%3 == 0 { // a CSeq high-water mark moving up
					d.LocalCSeq = uint32(i)
					if err := b.PutDialog(d); err != nil {
						fmt.Fprintln(os.Stderr, "child:", err)
						os.Exit(2)
					}
					say("dialog %s %d", d.ID, d.LocalCSeq)
				}
			}
		}()
	}
	wg.Wait()
	b.Close()
}
