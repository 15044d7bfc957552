package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"cpimgw/cpim"
)

// ErrInvalid is returned (wrapped, with the reason) by a method given a key
// or a record no implementation can store: an empty or over-long key, an unknown Direction, AuthState or Role,
// or a string that is not valid UTF-8 (the file's JSON encoding would
// replace its bytes, so the store would not give back what it was given).
var ErrInvalid = errors.New("store: invalid record")

// MaxKeyLen bounds every key part (a watcher or target key, a dialog id, a
// presence entity) in bytes. Real keys are far shorter; the bound keeps a
// hostile Call-ID or localpart from reaching the database's own key limit
// with a less clear error.
const MaxKeyLen = 4096

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func checkKey(what, k string) error {
	if k == "" {
		return invalid("empty %s", what)
	}
	if len(k) > MaxKeyLen {
		return invalid("%s longer than %d bytes", what, MaxKeyLen)
	}
	return checkUTF8(what, k)
}

func checkUTF8(what string, ss ...string) error {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return invalid("%s is not valid UTF-8: %q", what, s)
		}
	}
	return nil
}

func checkDirection(d Direction) error {
	if d != X2S && d != S2X {
		return invalid("unknown direction %q", d)
	}
	return nil
}

func checkAuthKey(d Direction, watcher, target string) error {
	if err := checkDirection(d); err != nil {
		return err
	}
	if err := checkKey("watcher", watcher); err != nil {
		return err
	}
	return checkKey("target", target)
}

func checkAuth(a Auth) error {
	if err := checkAuthKey(a.Direction, a.Watcher, a.Target); err != nil {
		return err
	}
	switch a.State {
	case AuthNone, AuthPending, AuthGranted:
		return nil
	}
	return invalid("unknown auth state %q", a.State)
}

func checkDialog(d Dialog) error {
	if err := checkKey("dialog id", d.ID); err != nil {
		return err
	}
	if d.Role != Subscriber && d.Role != Notifier {
		return invalid("unknown dialog role %q", d.Role)
	}
	if err := checkUTF8("dialog field", d.Watcher, d.Target, d.CallID, d.LocalTag,
		d.RemoteTag, d.LocalURI, d.RemoteURI, d.Contact, string(d.State), d.Event,
		d.EventID, d.Transport, d.Source); err != nil {
		return err
	}
	if err := checkUTF8("dialog route set", d.RouteSet...); err != nil {
		return err
	}
	return checkUTF8("dialog accept", d.Accept...)
}

func checkPresence(entity string, p cpim.Presence) error {
	if err := checkKey("presence entity", entity); err != nil {
		return err
	}
	if err := checkUTF8("presence field", p.Entity.Local, p.Entity.Domain, p.Entity.Resource,
		p.Entity.Original, p.Watcher.Local, p.Watcher.Domain, p.Watcher.Resource,
		p.Watcher.Original, p.Lang); err != nil {
		return err
	}
	for _, t := range p.Tuples {
		if err := checkUTF8("presence tuple", t.Resource, string(t.Basic), string(t.Show)); err != nil {
			return err
		}
		for _, n := range t.Notes {
			if err := checkUTF8("presence note", n.Lang, n.Text); err != nil {
				return err
			}
		}
	}
	return nil
}

// authKey is the key of an authorization: the direction, then the length
// of the watcher key as a uvarint, the watcher key and the target key. The
// length prefix makes the encoding injective whatever bytes a key holds;
// the direction first groups each direction's records together.
func authKey(d Direction, watcher, target string) []byte {
	k := make([]byte, 0, len(d)+1+binary.MaxVarintLen64+len(watcher)+len(target))
	k = append(k, d...)
	k = append(k, 0)
	k = binary.AppendUvarint(k, uint64(len(watcher)))
	k = append(k, watcher...)
	return append(k, target...)
}

// normTime is the form in which both implementations return times: no
// monotonic reading and in UTC, which is what survives the JSON encoding
// (RFC 3339 with nanoseconds) exactly.
func normTime(t time.Time) time.Time { return t.Round(0).UTC() }

// cloneStrings copies s; an empty slice becomes nil, as in the JSON
// encoding.
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

func normAuth(a Auth) Auth {
	a.Updated = normTime(a.Updated)
	return a
}

func normDialog(d Dialog) Dialog {
	d.RouteSet = cloneStrings(d.RouteSet)
	d.Accept = cloneStrings(d.Accept)
	d.Expires = normTime(d.Expires)
	return d
}

// normPresence returns a deep copy of p in the normalized form.
func normPresence(p cpim.Presence) cpim.Presence {
	if len(p.Tuples) == 0 {
		p.Tuples = nil
		return p
	}
	ts := make([]cpim.Tuple, len(p.Tuples))
	for i, t := range p.Tuples {
		if len(t.Notes) == 0 {
			t.Notes = nil
		} else {
			t.Notes = append([]cpim.Text(nil), t.Notes...)
		}
		t.Timestamp = normTime(t.Timestamp)
		ts[i] = t
	}
	p.Tuples = ts
	return p
}
