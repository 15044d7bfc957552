package store

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cpimgw/cpim"
)

// The conformance suite: every implementation of Store runs it.

func TestMemory(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return NewMemory() })
}

func TestBolt(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return openTestBolt(t, t.TempDir(), BoltOptions{}) })
}

// TestBoltSyncPresence runs the suite with presence written synchronously.
func TestBoltSyncPresence(t *testing.T) {
	testStore(t, func(t *testing.T) Store {
		return openTestBolt(t, t.TempDir(), BoltOptions{PresenceDelay: -1})
	})
}

// openTestBolt opens a Bolt store that reads 3 records per transaction
// while iterating, so the suite crosses chunk boundaries, and closes it
// (checking the file's consistency) when the test ends.
func openTestBolt(t *testing.T, dir string, opts BoltOptions) *Bolt {
	t.Helper()
	b, err := OpenBolt(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.chunk = 3
	t.Cleanup(func() {
		if err := b.db.View(checkTx); err != nil && !errors.Is(err, errClosedDB) {
			t.Errorf("consistency check: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func testStore(t *testing.T, open func(t *testing.T) Store) {
	for name, test := range map[string]func(*testing.T, Store){
		"auth CRUD":            testAuthCRUD,
		"dialog CRUD":          testDialogCRUD,
		"presence CRUD":        testPresenceCRUD,
		"every field":          testEveryField,
		"invalid":              testInvalid,
		"copies":               testCopies,
		"times":                testTimes,
		"iteration":            testIteration,
		"iteration stops":      testIterationStops,
		"delete while iterate": testDeleteWhileIterating,
		"concurrent writers":   testConcurrent,
		"closed":               testClosed,
	} {
		t.Run(name, func(t *testing.T) { test(t, open(t)) })
	}
}

func mustGetAuth(t *testing.T, s Store, d Direction, w, tg string) (Auth, bool) {
	t.Helper()
	a, ok, err := s.GetAuth(d, w, tg)
	if err != nil {
		t.Fatalf("GetAuth(%s, %q, %q): %v", d, w, tg, err)
	}
	return a, ok
}

func testAuthCRUD(t *testing.T, s Store) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	type op struct {
		put    *Auth
		del    *[3]string // direction, watcher, target
		verify []Auth     // then each must be found as given
		absent [][3]string
	}
	alice, bob := "alice@xmpp.example.test", "bob@sip.example.test"
	granted := Auth{Direction: X2S, Watcher: alice, Target: bob, State: AuthGranted, Updated: at}
	pending := Auth{Direction: X2S, Watcher: alice, Target: bob, State: AuthPending, Updated: at.Add(-time.Hour)}
	reverse := Auth{Direction: S2X, Watcher: alice, Target: bob, State: AuthNone}
	// Keys whose plain concatenations would collide.
	split1 := Auth{Direction: S2X, Watcher: "a", Target: "bc", State: AuthGranted}
	split2 := Auth{Direction: S2X, Watcher: "ab", Target: "c", State: AuthPending}
	odd := Auth{Direction: X2S, Watcher: "nul\x00in@ex", Target: "ünï@ex", State: AuthGranted}

	steps := []struct {
		name string
		op   op
	}{
		{"missing", op{absent: [][3]string{{"x2s", alice, bob}, {"s2x", alice, bob}}}},
		{"put pending", op{put: &pending, verify: []Auth{pending}, absent: [][3]string{{"s2x", alice, bob}, {"x2s", bob, alice}}}},
		{"replace with granted", op{put: &granted, verify: []Auth{granted}}},
		{"other direction is another record", op{put: &reverse, verify: []Auth{granted, reverse}}},
		{"keys that would collide", op{put: &split1, verify: []Auth{split1}, absent: [][3]string{{"s2x", "ab", "c"}}}},
		{"second of them", op{put: &split2, verify: []Auth{split1, split2}}},
		{"odd bytes in keys", op{put: &odd, verify: []Auth{odd}}},
		{"delete", op{del: &[3]string{"x2s", alice, bob}, verify: []Auth{reverse}, absent: [][3]string{{"x2s", alice, bob}}}},
		{"delete missing", op{del: &[3]string{"x2s", alice, bob}, absent: [][3]string{{"x2s", alice, bob}}}},
	}
	for _, st := range steps {
		if st.op.put != nil {
			if err := s.PutAuth(*st.op.put); err != nil {
				t.Fatalf("%s: PutAuth: %v", st.name, err)
			}
		}
		if d := st.op.del; d != nil {
			if err := s.DeleteAuth(Direction(d[0]), d[1], d[2]); err != nil {
				t.Fatalf("%s: DeleteAuth: %v", st.name, err)
			}
		}
		for _, want := range st.op.verify {
			got, ok := mustGetAuth(t, s, want.Direction, want.Watcher, want.Target)
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: GetAuth = %+v, %v; want %+v", st.name, got, ok, want)
			}
		}
		for _, k := range st.op.absent {
			if got, ok := mustGetAuth(t, s, Direction(k[0]), k[1], k[2]); ok {
				t.Errorf("%s: GetAuth%q = %+v, want none", st.name, k, got)
			}
		}
	}
}

// sampleDialog is a notifier dialog with every field set.
func sampleDialog(id string) Dialog {
	return Dialog{
		ID: id, Role: Notifier,
		Watcher: "bob@sip.example.test", Target: "alice@xmpp.example.test",
		CallID: "c1@192.0.2.1", LocalTag: "lt", RemoteTag: "rt",
		LocalURI: "sip:alice@xmpp.example.test", RemoteURI: "sip:bob@sip.example.test",
		RouteSet:  []string{"<sip:p1.example.test;lr>", "<sip:p2.example.test;lr>"},
		Contact:   "<sip:bob@192.0.2.1:5072;transport=tcp>",
		LocalCSeq: 100, RemoteCSeq: 7,
		State: cpim.SubActive, Expires: time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC),
		Event: "presence", EventID: "e1",
		Accept:    []string{"application/pidf+xml"},
		Transport: "TCP", Source: "192.0.2.1:40000",
	}
}

func testDialogCRUD(t *testing.T, s Store) {
	d := sampleDialog("c1@192.0.2.1;lt;rt")
	if _, ok, err := s.GetDialog(d.ID); err != nil || ok {
		t.Fatalf("GetDialog before Put = %v, %v; want none", ok, err)
	}
	if err := s.PutDialog(d); err != nil {
		t.Fatal(err)
	}
	check := func(step string, want Dialog) {
		t.Helper()
		got, ok, err := s.GetDialog(want.ID)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: GetDialog = %+v, %v, %v\nwant %+v", step, got, ok, err, want)
		}
	}
	check("put", d)

	// The dialog layer raises the CSeq high-water mark and refreshes.
	d.LocalCSeq, d.RemoteCSeq = 200, 8
	d.Expires = d.Expires.Add(time.Hour)
	d.RouteSet = nil
	if err := s.PutDialog(d); err != nil {
		t.Fatal(err)
	}
	check("update", d)

	sub := sampleDialog("other")
	sub.Role = Subscriber
	if err := s.PutDialog(sub); err != nil {
		t.Fatal(err)
	}
	check("second dialog", sub)
	check("first unchanged", d)

	for i := range 2 { // the second delete removes nothing
		if err := s.DeleteDialog(d.ID); err != nil {
			t.Fatalf("DeleteDialog #%d: %v", i+1, err)
		}
	}
	if got, ok, err := s.GetDialog(d.ID); err != nil || ok {
		t.Errorf("GetDialog after delete = %+v, %v, %v; want none", got, ok, err)
	}
	check("other survives", sub)
}

func samplePresence(entity cpim.Address) cpim.Presence {
	return cpim.Presence{
		Entity: entity, Lang: "en",
		Tuples: []cpim.Tuple{
			{Resource: "laptop", Basic: cpim.Open, Show: cpim.ShowDND,
				Notes:    []cpim.Text{{Lang: "en", Text: "Busy"}, {Lang: "fr", Text: "Occupé"}},
				Priority: -1, HasPriority: true,
				Timestamp: time.Date(2026, 5, 1, 9, 30, 0, 5, time.UTC)},
			{Resource: "phone", Basic: cpim.Closed},
		},
	}
}

func testPresenceCRUD(t *testing.T, s Store) {
	alice := cpim.Address{Local: "alice", Domain: "xmpp.example.test"}
	key := Key(alice)
	get := func() (cpim.Presence, bool) {
		t.Helper()
		p, ok, err := s.GetPresence(key)
		if err != nil {
			t.Fatal(err)
		}
		return p, ok
	}
	if p, ok := get(); ok {
		t.Fatalf("GetPresence before Put = %+v", p)
	}
	cases := []struct {
		name string
		p    cpim.Presence
	}{
		{"full", samplePresence(alice)},
		{"replaced by unavailable", cpim.Presence{Entity: alice}},
		{"full again", samplePresence(alice)},
	}
	for _, c := range cases {
		if err := s.PutPresence(key, c.p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got, ok := get(); !ok || !reflect.DeepEqual(got, c.p) {
			t.Errorf("%s: GetPresence = %+v, %v\nwant %+v", c.name, got, ok, c.p)
		}
	}
	bob := cpim.Address{Local: "bob", Domain: "sip.example.test"}
	if err := s.PutPresence(Key(bob), cpim.Presence{Entity: bob}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.DeletePresence(key); err != nil {
			t.Fatalf("DeletePresence #%d: %v", i+1, err)
		}
	}
	if p, ok := get(); ok {
		t.Errorf("GetPresence after delete = %+v", p)
	}
	if p, ok, err := s.GetPresence(Key(bob)); err != nil || !ok || !reflect.DeepEqual(p, cpim.Presence{Entity: bob}) {
		t.Errorf("other entity = %+v, %v, %v", p, ok, err)
	}
}

// fillAll sets every field of v to a distinct non-zero value: strings with
// characters JSON must escape, negative and large numbers, two elements per
// slice, times with nanoseconds. A field a codec forgets then shows up as
// a difference after a round trip.
func fillAll(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("v%d <&>\"\\ \x00 ü \u2028 \U0001F600", *n))
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(-1000 - *n))
	case reflect.Uint32:
		v.SetUint(uint64(1<<32 - 1 - *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillAll(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 2, 3, 4, 5, *n, 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fillAll(v.Field(i), n)
		}
	default:
		panic("fillAll: unhandled kind " + v.Kind().String())
	}
}

func testEveryField(t *testing.T, s Store) {
	n := 0
	var a Auth
	fillAll(reflect.ValueOf(&a).Elem(), &n)
	a.Direction, a.State = S2X, AuthPending
	var d Dialog
	fillAll(reflect.ValueOf(&d).Elem(), &n)
	d.Role = Subscriber
	var p cpim.Presence
	fillAll(reflect.ValueOf(&p).Elem(), &n)

	if err := s.PutAuth(a); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDialog(d); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPresence("entity", p); err != nil {
		t.Fatal(err)
	}
	if got, ok := mustGetAuth(t, s, a.Direction, a.Watcher, a.Target); !ok || !reflect.DeepEqual(got, a) {
		t.Errorf("auth:\ngot  %+v\nwant %+v", got, a)
	}
	if got, ok, err := s.GetDialog(d.ID); err != nil || !ok || !reflect.DeepEqual(got, d) {
		t.Errorf("dialog (%v, %v):\ngot  %+v\nwant %+v", ok, err, got, d)
	}
	if got, ok, err := s.GetPresence("entity"); err != nil || !ok || !reflect.DeepEqual(got, p) {
		t.Errorf("presence (%v, %v):\ngot  %+v\nwant %+v", ok, err, got, p)
	}
}

func testInvalid(t *testing.T, s Store) {
	ok := Auth{Direction: X2S, Watcher: "w@x", Target: "t@s", State: AuthGranted}
	long := strings.Repeat("a", MaxKeyLen+1)
	withAuth := func(f func(*Auth)) Auth { a := ok; f(&a); return a }
	withDialog := func(f func(*Dialog)) Dialog { d := sampleDialog("d"); f(&d); return d }
	cases := map[string]func() error{
		"auth direction":      func() error { return s.PutAuth(withAuth(func(a *Auth) { a.Direction = "sideways" })) },
		"auth empty watcher":  func() error { return s.PutAuth(withAuth(func(a *Auth) { a.Watcher = "" })) },
		"auth empty target":   func() error { return s.PutAuth(withAuth(func(a *Auth) { a.Target = "" })) },
		"auth long watcher":   func() error { return s.PutAuth(withAuth(func(a *Auth) { a.Watcher = long })) },
		"auth state":          func() error { return s.PutAuth(withAuth(func(a *Auth) { a.State = "maybe" })) },
		"auth bad UTF-8":      func() error { return s.PutAuth(withAuth(func(a *Auth) { a.Target = "t\xff@s" })) },
		"get auth direction":  func() error { _, _, err := s.GetAuth("", "w", "t"); return err },
		"delete auth empty":   func() error { return s.DeleteAuth(X2S, "", "t") },
		"dialog empty id":     func() error { return s.PutDialog(withDialog(func(d *Dialog) { d.ID = "" })) },
		"dialog long id":      func() error { return s.PutDialog(withDialog(func(d *Dialog) { d.ID = long })) },
		"dialog role":         func() error { return s.PutDialog(withDialog(func(d *Dialog) { d.Role = "" })) },
		"dialog bad UTF-8":    func() error { return s.PutDialog(withDialog(func(d *Dialog) { d.RouteSet = []string{"<sip:\xc3>"} })) },
		"get dialog empty":    func() error { _, _, err := s.GetDialog(""); return err },
		"delete dialog empty": func() error { return s.DeleteDialog("") },
		"presence empty":      func() error { return s.PutPresence("", cpim.Presence{}) },
		"presence bad UTF-8": func() error {
			return s.PutPresence("e", cpim.Presence{Tuples: []cpim.Tuple{{Notes: []cpim.Text{{Text: "\xed\xa0\x80"}}}}})
		},
		"get presence empty":    func() error { _, _, err := s.GetPresence(""); return err },
		"delete presence empty": func() error { return s.DeletePresence("") },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			err := f()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// Nothing was stored on the way.
	count := 0
	s.Auths(func(Auth) error { count++; return nil })
	s.Dialogs(func(Dialog) error { count++; return nil })
	if count != 0 {
		t.Errorf("%d records stored by refused writes", count)
	}
}

func testCopies(t *testing.T, s Store) {
	d := sampleDialog("d1")
	want := sampleDialog("d1")
	if err := s.PutDialog(d); err != nil {
		t.Fatal(err)
	}
	d.RouteSet[0], d.Accept[0] = "changed", "changed" // the caller's slices
	got, _, _ := s.GetDialog("d1")
	got.RouteSet[1], got.Accept[0] = "changed", "changed" // a result's slices
	s.Dialogs(func(d Dialog) error { d.RouteSet[0] = "changed"; return nil })
	if again, _, _ := s.GetDialog("d1"); !reflect.DeepEqual(again, want) {
		t.Errorf("dialog changed through a slice:\ngot  %+v\nwant %+v", again, want)
	}

	e := cpim.Address{Local: "e", Domain: "x"}
	p, wantP := samplePresence(e), samplePresence(e)
	if err := s.PutPresence("e", p); err != nil {
		t.Fatal(err)
	}
	p.Tuples[0].Notes[0].Text, p.Tuples[1].Resource = "changed", "changed"
	gotP, _, _ := s.GetPresence("e")
	gotP.Tuples[0].Notes[1].Text, gotP.Tuples[0].Show = "changed", "changed"
	if again, _, _ := s.GetPresence("e"); !reflect.DeepEqual(again, wantP) {
		t.Errorf("presence changed through a slice:\ngot  %+v\nwant %+v", again, wantP)
	}
}

// testTimes checks that times come back as the same instant in UTC without
// a monotonic reading, and empty slices as nil.
func testTimes(t *testing.T, s Store) {
	zone := time.FixedZone("CEST", 2*3600)
	now := time.Now().In(zone) // has a monotonic reading
	a := Auth{Direction: X2S, Watcher: "w", Target: "t", State: AuthGranted, Updated: now}
	if err := s.PutAuth(a); err != nil {
		t.Fatal(err)
	}
	got, _ := mustGetAuth(t, s, X2S, "w", "t")
	if !got.Updated.Equal(now) || got.Updated.Location() != time.UTC || got.Updated != now.Round(0).UTC() {
		t.Errorf("Updated = %v (%v), want %v in UTC", got.Updated, got.Updated.Location(), now)
	}
	d := Dialog{ID: "d", Role: Subscriber, RouteSet: []string{}, Accept: []string{}, Expires: now}
	if err := s.PutDialog(d); err != nil {
		t.Fatal(err)
	}
	gd, _, _ := s.GetDialog("d")
	want := Dialog{ID: "d", Role: Subscriber, Expires: now.Round(0).UTC()}
	if !reflect.DeepEqual(gd, want) {
		t.Errorf("dialog = %#v\nwant %#v", gd, want)
	}
	p := cpim.Presence{Tuples: []cpim.Tuple{{Notes: []cpim.Text{}, Timestamp: now}}}
	if err := s.PutPresence("e", p); err != nil {
		t.Fatal(err)
	}
	gp, _, _ := s.GetPresence("e")
	wantP := cpim.Presence{Tuples: []cpim.Tuple{{Timestamp: now.Round(0).UTC()}}}
	if !reflect.DeepEqual(gp, wantP) {
		t.Errorf("presence = %#v\nwant %#v", gp, wantP)
	}
	if err := s.PutPresence("e", cpim.Presence{Tuples: []cpim.Tuple{}}); err != nil {
		t.Fatal(err)
	}
	if gp, _, _ := s.GetPresence("e"); gp.Tuples != nil {
		t.Errorf("empty tuples came back as %#v, want nil", gp.Tuples)
	}
}

func collectAuths(t *testing.T, s Store) []Auth {
	t.Helper()
	var all []Auth
	if err := s.Auths(func(a Auth) error { all = append(all, a); return nil }); err != nil {
		t.Fatal(err)
	}
	return all
}

func collectDialogs(t *testing.T, s Store) []Dialog {
	t.Helper()
	var all []Dialog
	if err := s.Dialogs(func(d Dialog) error { all = append(all, d); return nil }); err != nil {
		t.Fatal(err)
	}
	return all
}

func testIteration(t *testing.T, s Store) {
	if got := collectAuths(t, s); len(got) != 0 {
		t.Errorf("empty store iterates %d auths", len(got))
	}
	if got := collectDialogs(t, s); len(got) != 0 {
		t.Errorf("empty store iterates %d dialogs", len(got))
	}
	var wantA []Auth
	var wantD []Dialog
	for i := range 10 { // more than a few chunks of 3
		for _, dir := range []Direction{S2X, X2S} {
			a := Auth{Direction: dir, Watcher: fmt.Sprintf("w%d", i), Target: "t", State: AuthGranted}
			if err := s.PutAuth(a); err != nil {
				t.Fatal(err)
			}
			wantA = append(wantA, a)
		}
		d := sampleDialog(fmt.Sprintf("dialog-%02d", 9-i))
		d.LocalCSeq = uint32(i)
		if err := s.PutDialog(d); err != nil {
			t.Fatal(err)
		}
		wantD = append(wantD, d)
	}
	// Key order: by direction, then by (length-prefixed) watcher; by id.
	sort.Slice(wantA, func(i, j int) bool {
		return string(authKey(wantA[i].Direction, wantA[i].Watcher, wantA[i].Target)) <
			string(authKey(wantA[j].Direction, wantA[j].Watcher, wantA[j].Target))
	})
	sort.Slice(wantD, func(i, j int) bool { return wantD[i].ID < wantD[j].ID })
	if got := collectAuths(t, s); !reflect.DeepEqual(got, wantA) {
		t.Errorf("Auths:\ngot  %+v\nwant %+v", got, wantA)
	}
	if got := collectDialogs(t, s); !reflect.DeepEqual(got, wantD) {
		t.Errorf("Dialogs:\ngot  %+v\nwant %+v", got, wantD)
	}
}

func testIterationStops(t *testing.T, s Store) {
	for i := range 8 {
		if err := s.PutAuth(Auth{Direction: X2S, Watcher: fmt.Sprint(i), Target: "t", State: AuthGranted}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutDialog(sampleDialog(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("enough")
	for _, after := range []int{1, 3, 4, 8} {
		calls := 0
		err := s.Auths(func(Auth) error {
			calls++
			if calls == after {
				return stop
			}
			return nil
		})
		if err != stop || calls != after {
			t.Errorf("Auths stopping after %d: err %v, %d calls", after, err, calls)
		}
		calls = 0
		err = s.Dialogs(func(Dialog) error {
			calls++
			if calls == after {
				return fmt.Errorf("wrapped: %w", stop)
			}
			return nil
		})
		if !errors.Is(err, stop) || err.Error() != "wrapped: enough" || calls != after {
			t.Errorf("Dialogs stopping after %d: err %v, %d calls", after, err, calls)
		}
	}
}

// testDeleteWhileIterating is what a restart does with expired dialogs:
// it calls the store from inside the iteration.
func testDeleteWhileIterating(t *testing.T, s Store) {
	for i := range 10 {
		d := sampleDialog(fmt.Sprintf("d%02d", i))
		d.State = cpim.SubActive
		if i%2 == 0 {
			d.State = cpim.SubTerminated
		}
		if err := s.PutDialog(d); err != nil {
			t.Fatal(err)
		}
		if err := s.PutAuth(Auth{Direction: S2X, Watcher: d.ID, Target: "t", State: AuthGranted}); err != nil {
			t.Fatal(err)
		}
	}
	seen := 0
	err := s.Dialogs(func(d Dialog) error {
		seen++
		if d.State == cpim.SubTerminated {
			return s.DeleteDialog(d.ID)
		}
		d.LocalCSeq++
		return s.PutDialog(d)
	})
	if err != nil || seen != 10 {
		t.Fatalf("Dialogs: %v after %d", err, seen)
	}
	got := collectDialogs(t, s)
	if len(got) != 5 {
		t.Fatalf("%d dialogs left, want 5", len(got))
	}
	for _, d := range got {
		if d.State != cpim.SubActive || d.LocalCSeq != 101 {
			t.Errorf("dialog %s: state %s, CSeq %d", d.ID, d.State, d.LocalCSeq)
		}
	}
	if err := s.Auths(func(a Auth) error { return s.DeleteAuth(a.Direction, a.Watcher, a.Target) }); err != nil {
		t.Fatal(err)
	}
	if got := collectAuths(t, s); len(got) != 0 {
		t.Errorf("%d auths left after deleting each", len(got))
	}
}

func testConcurrent(t *testing.T, s Store) {
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				if err := s.PutAuth(Auth{Direction: X2S, Watcher: key, Target: "t", State: AuthGranted}); err != nil {
					errs <- err
					return
				}
				if err := s.PutDialog(sampleDialog(key)); err != nil {
					errs <- err
					return
				}
				if err := s.PutPresence(key, cpim.Presence{Lang: key}); err != nil {
					errs <- err
					return
				}
				// Reads and iteration race with the writes.
				if _, ok, err := s.GetAuth(X2S, key, "t"); err != nil || !ok {
					errs <- fmt.Errorf("GetAuth(%s) after Put: %v, %v", key, ok, err)
					return
				}
				if p, ok, err := s.GetPresence(key); err != nil || !ok || p.Lang != key {
					errs <- fmt.Errorf("GetPresence(%s) after Put: %+v, %v, %v", key, p, ok, err)
					return
				}
				if i%10 == 0 {
					if err := s.Dialogs(func(Dialog) error { return nil }); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(collectAuths(t, s)); n != writers*each {
		t.Errorf("%d auths, want %d", n, writers*each)
	}
	if n := len(collectDialogs(t, s)); n != writers*each {
		t.Errorf("%d dialogs, want %d", n, writers*each)
	}
	for w := range writers {
		key := fmt.Sprintf("w%d-%d", w, each-1)
		if _, ok, err := s.GetPresence(key); err != nil || !ok {
			t.Errorf("presence %s: %v, %v", key, ok, err)
		}
	}
}

func testClosed(t *testing.T, s Store) {
	if err := s.PutAuth(Auth{Direction: X2S, Watcher: "w", Target: "t", State: AuthGranted}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPresence("e", cpim.Presence{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := map[string]func() error{
		"GetAuth":        func() error { _, _, err := s.GetAuth(X2S, "w", "t"); return err },
		"PutAuth":        func() error { return s.PutAuth(Auth{Direction: X2S, Watcher: "w", Target: "t", State: AuthNone}) },
		"DeleteAuth":     func() error { return s.DeleteAuth(X2S, "w", "t") },
		"Auths":          func() error { return s.Auths(func(Auth) error { return nil }) },
		"GetDialog":      func() error { _, _, err := s.GetDialog("d"); return err },
		"PutDialog":      func() error { return s.PutDialog(sampleDialog("d")) },
		"DeleteDialog":   func() error { return s.DeleteDialog("d") },
		"Dialogs":        func() error { return s.Dialogs(func(Dialog) error { return nil }) },
		"GetPresence":    func() error { _, _, err := s.GetPresence("e"); return err },
		"PutPresence":    func() error { return s.PutPresence("e", cpim.Presence{}) },
		"DeletePresence": func() error { return s.DeletePresence("e") },
	}
	for name, call := range calls {
		if err := call(); err != ErrClosed {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
