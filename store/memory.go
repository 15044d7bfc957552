package store

import (
	"sort"
	"sync"

	"cpimgw/cpim"
)

// Memory is a Store that keeps everything in memory, for tests and for a
// gateway that needs nothing to survive a restart. Values are copied in and
// out: a caller cannot change stored state through a slice it passed in or
// got back. It behaves as Bolt does in everything but persistence,
// including the normalization of times (UTC, no monotonic reading) and of
// empty slices (nil).
type Memory struct {
	mu       sync.RWMutex
	closed   bool
	auths    map[string]Auth
	dialogs  map[string]Dialog
	presence map[string]cpim.Presence
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{
		auths:    make(map[string]Auth),
		dialogs:  make(map[string]Dialog),
		presence: make(map[string]cpim.Presence),
	}
}

// GetAuth returns the authorization of watcher to see target in direction
// d; ok is false when there is none.
func (m *Memory) GetAuth(d Direction, watcher, target string) (a Auth, ok bool, err error) {
	if err := checkAuthKey(d, watcher, target); err != nil {
		return Auth{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Auth{}, false, ErrClosed
	}
	a, ok = m.auths[string(authKey(d, watcher, target))]
	return a, ok, nil
}

// PutAuth creates or replaces the authorization a.
func (m *Memory) PutAuth(a Auth) error {
	if err := checkAuth(a); err != nil {
		return err
	}
	a = normAuth(a)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.auths[string(authKey(a.Direction, a.Watcher, a.Target))] = a
	return nil
}

// DeleteAuth removes an authorization; removing a missing one is no error.
func (m *Memory) DeleteAuth(d Direction, watcher, target string) error {
	if err := checkAuthKey(d, watcher, target); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.auths, string(authKey(d, watcher, target)))
	return nil
}

// Auths calls fn for every authorization, in key order, on a snapshot
// taken when it starts; fn may call the store. It stops at fn's first
// error and returns it.
func (m *Memory) Auths(fn func(Auth) error) error {
	return eachIn(m, func() map[string]Auth { return m.auths }, fn)
}

// GetDialog returns the dialog with the given id; ok is false when there is
// none.
func (m *Memory) GetDialog(id string) (d Dialog, ok bool, err error) {
	if err := checkKey("dialog id", id); err != nil {
		return Dialog{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Dialog{}, false, ErrClosed
	}
	d, ok = m.dialogs[id]
	return normDialog(d), ok, nil
}

// PutDialog creates or replaces the dialog d (keyed by d.ID).
func (m *Memory) PutDialog(d Dialog) error {
	if err := checkDialog(d); err != nil {
		return err
	}
	d = normDialog(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.dialogs[d.ID] = d
	return nil
}

// DeleteDialog removes a dialog; removing a missing one is no error.
func (m *Memory) DeleteDialog(id string) error {
	if err := checkKey("dialog id", id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.dialogs, id)
	return nil
}

// Dialogs calls fn for every dialog, in id order, on a snapshot taken when
// it starts; fn may call the store. It stops at fn's first error and
// returns it.
func (m *Memory) Dialogs(fn func(Dialog) error) error {
	return eachIn(m, func() map[string]Dialog { return m.dialogs }, func(d Dialog) error { return fn(normDialog(d)) })
}

// GetPresence returns the last presence stored for entity; ok is false when
// there is none.
func (m *Memory) GetPresence(entity string) (p cpim.Presence, ok bool, err error) {
	if err := checkKey("presence entity", entity); err != nil {
		return cpim.Presence{}, false, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return cpim.Presence{}, false, ErrClosed
	}
	p, ok = m.presence[entity]
	return normPresence(p), ok, nil
}

// PutPresence replaces the last presence of entity with p.
func (m *Memory) PutPresence(entity string, p cpim.Presence) error {
	if err := checkPresence(entity, p); err != nil {
		return err
	}
	p = normPresence(p)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.presence[entity] = p
	return nil
}

// DeletePresence forgets the presence of entity; forgetting a missing one
// is no error.
func (m *Memory) DeletePresence(entity string) error {
	if err := checkKey("presence entity", entity); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.presence, entity)
	return nil
}

// Close discards the contents; every later call returns ErrClosed. Closing
// twice is no error.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.auths, m.dialogs, m.presence = nil, nil, nil
	return nil
}

// eachIn calls fn for every value of the table pick returns (read under the
// lock), in key order, on a snapshot taken when it starts, so fn may call
// the store. It stops at fn's first error and returns it.
func eachIn[V any](m *Memory, pick func() map[string]V, fn func(V) error) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	table := pick()
	keys := sortedKeys(table)
	all := make([]V, len(keys))
	for i, k := range keys {
		all[i] = table[k]
	}
	m.mu.RUnlock()
	for _, v := range all {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
