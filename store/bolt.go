package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"cpimgw/cpim"
)

// FileName is the name of Bolt's database file inside its directory.
const FileName = "cpimgw.db"

// SchemaVersion is the version of the file layout this code writes. A file
// of a newer version is refused (ErrNewerSchema) rather than misread; an
// older one is migrated on open (there is none yet).
const SchemaVersion = 1

// schemaFormat names the file format in the schema record, so a bbolt file
// of another program is told apart from ours.
const schemaFormat = "cpimgw-store"

// The defaults of BoltOptions.
const (
	DefaultLockTimeout   = 2 * time.Second
	DefaultPresenceDelay = 100 * time.Millisecond
)

var (
	// ErrLocked is returned (wrapped) by OpenBolt when another process, as
	// a second gateway on the same directory, holds the file's lock.
	ErrLocked = errors.New("store: database is locked by another process")
	// ErrNotStore is returned (wrapped) by OpenBolt for a file that is not
	// a state store of this gateway: corrupt, truncated, or another
	// program's data; and by a later read or write that meets a damaged
	// page (bbolt panics on one; the store recovers and returns this).
	ErrNotStore = errors.New("store: not a cpimgw state store")
	// ErrNewerSchema is returned (wrapped) by OpenBolt for a store written
	// by a newer gateway, whose layout this code does not know.
	ErrNewerSchema = errors.New("store: written by a newer version of the gateway")
)

var (
	bucketMeta     = []byte("meta")
	bucketAuths    = []byte("auths")
	bucketDialogs  = []byte("dialogs")
	bucketPresence = []byte("presence")
	keySchema      = []byte("schema")
)

// schemaRecord is the value of "schema" in bucket "meta".
type schemaRecord struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// BoltOptions tunes a Bolt store. The zero value is the default.
type BoltOptions struct {
	// LockTimeout is how long OpenBolt waits for the file lock held by
	// another process before it fails with ErrLocked. Zero or negative
	// means DefaultLockTimeout.
	LockTimeout time.Duration
	// PresenceDelay is how long a PutPresence or DeletePresence may wait
	// in memory before it is written, so that a burst of presence costs
	// one write per entity and no caller waits for the disk. A crash loses
	// at most the presence changes of this last interval. Zero means
	// DefaultPresenceDelay; negative makes presence writes durable when
	// they return, as authorizations and dialogs always are.
	PresenceDelay time.Duration
}

// Bolt is the embedded default Store: one bbolt file, FileName under a
// directory, which needs no setup and belongs to one gateway process at a
// time (an exclusive file lock; a second gateway on the same directory gets
// ErrLocked).
//
// Durability. PutAuth, DeleteAuth, PutDialog and DeleteDialog are durable
// when they return: their transaction has been committed and fsynced, so a
// SIGKILL or power loss right after loses nothing. Concurrent writers
// share commits: one goroutine commits, in a single transaction and fsync,
// every write queued while the previous commit ran (group commit, with no
// timer, so a lone writer waits for one fsync and no longer). Dialogs take
// the durable path because their LocalCSeq is a high-water mark: the dialog
// layer sends CSeq numbers up to a new mark only once PutDialog stored it,
// so after a restart it continues above every number used (RFC 3261
// §12.2.1.1 needs increasing CSeq). Presence writes are buffered
// for BoltOptions.PresenceDelay, coalesced per entity and then committed
// the same way; GetPresence reads the buffer first, so a later read always
// sees the last write. A crash loses at most that interval of presence,
// which the gateway learns again (XMPP servers resend presence and SIP
// subscriptions send full state, RFC 3856 §6.8), and never an
// authorization or a dialog.
//
// File layout, schema version 1: four top-level buckets whose values are
// JSON objects (the record types in codec.go):
//
//	meta      "schema"      → {"format":"cpimgw-store","version":1}
//	auths     direction, 0x00, uvarint(len(watcher)), watcher, target
//	                        → {"dir","watcher","target","state","updated"}
//	dialogs   dialog id     → {"id","role","watcher","target","call_id",
//	                           "local_tag","remote_tag","local_uri",
//	                           "remote_uri","route_set","contact",
//	                           "local_cseq","remote_cseq","state","expires",
//	                           "event","event_id","accept","transport",
//	                           "source"}
//	presence  entity key    → {"entity","watcher","lang","tuples":[{
//	                           "resource","basic","show","notes":[{"lang",
//	                           "text"}],"priority","has_priority",
//	                           "timestamp"}]}
//
// Zero fields are omitted; times are RFC 3339 with nanoseconds in UTC.
// Unknown fields are ignored, so a later version may add optional fields
// without a new schema version; anything an older version would misread
// needs one.
type Bolt struct {
	db    *bolt.DB
	path  string
	chunk int // records read per transaction while iterating

	mu      sync.RWMutex // guards closed; held shared while sending on reqs
	closed  bool
	reqs    chan writeReq
	wdone   chan struct{} // closed when the writer has exited
	commits atomic.Uint64 // transactions committed, for benchmarks

	delay    time.Duration // presence write-behind; ≤ 0: synchronous
	fmu      sync.Mutex    // one flush at a time
	pmu      sync.Mutex
	pending  map[string][]byte // entity → encoded presence, nil: deleted
	inflight map[string][]byte // the batch being committed
	flushErr error             // the last failed presence flush
	kick     chan struct{}
	quit     chan struct{}
	fdone    chan struct{} // closed when the flusher has exited
}

var _ Store = (*Bolt)(nil)

// writeReq is one write for the committer: fn runs inside the shared
// transaction; done receives the outcome of the commit.
type writeReq struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// fillPercent is how full bbolt fills the pages it splits. Its default,
// 0.5, suits keys inserted in order; ours arrive in no order (dialog ids,
// addresses), and 0.9 measured a third smaller file for Fill's state
// (3.4 instead of 5.0 MB per 1000 pairs) at the same write and restore
// cost.
const fillPercent = 0.9

// maxGroup bounds the writes committed in one transaction.
const maxGroup = 1000

// OpenBolt opens the store in dir, creating dir (mode 0700) and the file
// dir/FileName (mode 0600) when they do not exist. It fails with ErrLocked
// when another process holds the store for longer than
// opts.LockTimeout, with ErrNotStore for a corrupt or foreign file and
// with ErrNewerSchema for a file of a newer gateway.
func OpenBolt(dir string, opts BoltOptions) (*Bolt, error) {
	if dir == "" {
		return nil, errors.New("store: no directory given")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.PresenceDelay == 0 {
		opts.PresenceDelay = DefaultPresenceDelay
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: creating %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	db, err := openFile(path, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	if created {
		// Make the new file's directory entry durable too, or a crash
		// could lose the whole file along with the first writes.
		if err := syncDir(dir); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := initSchema(db, path); err != nil {
		db.Close()
		return nil, err
	}

	b := &Bolt{
		db:      db,
		path:    path,
		chunk:   1000,
		reqs:    make(chan writeReq, maxGroup),
		wdone:   make(chan struct{}),
		delay:   opts.PresenceDelay,
		pending: make(map[string][]byte),
		kick:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		fdone:   make(chan struct{}),
	}
	go b.writer()
	if b.delay > 0 {
		go b.flusher()
	} else {
		close(b.fdone)
	}
	return b, nil
}

// openFile opens and locks the bbolt file and turns its failures into the
// store's errors. bbolt panics on some corrupt pages and a truncated file
// can fault on its memory map; both become ErrNotStore rather than a crash.
func openFile(path string, timeout time.Duration) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrNotStore, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s: no lock within %v (is another gateway using this directory?)",
			ErrLocked, path, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %s: %w", ErrNotStore, path, err)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Other failures come from reading a file that is too short or has
	// impossible sizes in its header.
	return nil, fmt.Errorf("%w: %s: %w", ErrNotStore, path, err)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: syncing %s: %w", dir, err)
	}
	return nil
}

// initSchema checks the schema record of an existing store, or writes it
// and creates the buckets in a new (empty) one.
func initSchema(db *bolt.DB, path string) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrNotStore, path, r)
		}
	}()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	fresh := false
	err = db.View(func(tx *bolt.Tx) error {
		// A file cut short (a partial copy) would fault when its missing
		// pages are read; its header says how long it must be.
		if fi.Size() < tx.Size() {
			return fmt.Errorf("%w: %s: truncated: %d bytes, its header needs %d",
				ErrNotStore, path, fi.Size(), tx.Size())
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			var names []string
			tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				names = append(names, fmt.Sprintf("%q", name))
				return nil
			})
			if len(names) > 0 {
				return fmt.Errorf("%w: %s: a bbolt file of another program (buckets %s)",
					ErrNotStore, path, names)
			}
			fresh = true
			return nil
		}
		raw := meta.Get(keySchema)
		var s schemaRecord
		if raw == nil || json.Unmarshal(raw, &s) != nil || s.Format != schemaFormat || s.Version < 1 {
			return fmt.Errorf("%w: %s: bad schema record %q", ErrNotStore, path, raw)
		}
		if s.Version > SchemaVersion {
			return fmt.Errorf("%w: %s has schema version %d, this gateway knows up to %d",
				ErrNewerSchema, path, s.Version, SchemaVersion)
		}
		for _, name := range [][]byte{bucketAuths, bucketDialogs, bucketPresence} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: %s: bucket %q missing", ErrNotStore, path, name)
			}
		}
		return nil
	})
	if err != nil || !fresh {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		rec, _ := json.Marshal(schemaRecord{Format: schemaFormat, Version: SchemaVersion})
		if err := meta.Put(keySchema, rec); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketAuths, bucketDialogs, bucketPresence} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// writer is the committer: it commits queued writes in groups, one
// transaction and one fsync per group, until reqs is closed.
func (b *Bolt) writer() {
	defer close(b.wdone)
	group := make([]writeReq, 0, maxGroup)
	for r := range b.reqs {
		group = append(group[:0], r)
	drain:
		for len(group) < maxGroup {
			select {
			case r, ok := <-b.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		b.commit(group)
	}
}

// commit runs group in one transaction. When one write fails, the
// transaction is rolled back, that write gets its error and the others are
// committed again without it (as bbolt's Batch does). A failed commit
// (the fsync) fails every write of the group.
func (b *Bolt) commit(group []writeReq) {
	failed := -1
	b.commits.Add(1)
	err := b.update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketAuths, bucketDialogs, bucketPresence} {
			tx.Bucket(name).FillPercent = fillPercent
		}
		for i, r := range group {
			if err := r.fn(tx); err != nil {
				failed = i
				return err
			}
		}
		return nil
	})
	if failed < 0 {
		for _, r := range group {
			r.done <- err
		}
		return
	}
	group[failed].done <- err
	rest := make([]writeReq, 0, len(group)-1)
	rest = append(append(rest, group[:failed]...), group[failed+1:]...)
	if len(rest) > 0 {
		b.commit(rest)
	}
}

// update is db.Update, with a panic on a damaged page turned into an
// error.
func (b *Bolt) update(fn func(*bolt.Tx) error) (err error) {
	defer b.damaged(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return b.db.Update(fn)
}

// write queues fn for the committer and waits until it is durable.
func (b *Bolt) write(fn func(*bolt.Tx) error) error {
	r := writeReq{fn: fn, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	b.reqs <- r
	b.mu.RUnlock()
	return <-r.done
}

// view runs fn in a read transaction unless the store is closed.
func (b *Bolt) view(fn func(*bolt.Tx) error) (err error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	defer b.damaged(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return b.db.View(fn)
}

// damaged turns a panic of bbolt on a damaged page (it panics rather than
// returning an error) into an error wrapping ErrNotStore. bbolt rolls the
// transaction back on the way. Deferred with debug.SetPanicOnFault, it
// also catches a fault on the memory map.
func (b *Bolt) damaged(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s is damaged: %v", ErrNotStore, b.path, r)
	}
}

// GetAuth returns the authorization of watcher to see target in direction
// d; ok is false when there is none.
func (b *Bolt) GetAuth(d Direction, watcher, target string) (a Auth, ok bool, err error) {
	if err := checkAuthKey(d, watcher, target); err != nil {
		return Auth{}, false, err
	}
	err = b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAuths).Get(authKey(d, watcher, target))
		if v == nil {
			return nil
		}
		ok = true
		a, err = decodeAuth(v)
		return err
	})
	if err != nil {
		return Auth{}, false, wrapRead("auth", err)
	}
	return a, ok, nil
}

// PutAuth creates or replaces the authorization a; it is durable when
// PutAuth returns.
func (b *Bolt) PutAuth(a Auth) error {
	if err := checkAuth(a); err != nil {
		return err
	}
	v, err := encodeAuth(a)
	if err != nil {
		return fmt.Errorf("store: encoding auth: %w", err)
	}
	k := authKey(a.Direction, a.Watcher, a.Target)
	return wrapWrite("auth", b.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAuths).Put(k, v)
	}))
}

// DeleteAuth removes an authorization, durably; removing a missing one is
// no error.
func (b *Bolt) DeleteAuth(d Direction, watcher, target string) error {
	if err := checkAuthKey(d, watcher, target); err != nil {
		return err
	}
	k := authKey(d, watcher, target)
	return wrapWrite("auth", b.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAuths).Delete(k)
	}))
}

// Auths calls fn for every authorization in key order (by direction, then
// watcher). It reads in chunks of short read transactions and calls fn
// outside them, so fn may call the store, even to delete the record it
// was given; a record written during the iteration may or may not be
// seen. It stops at fn's first error and returns it.
func (b *Bolt) Auths(fn func(Auth) error) error {
	return each(b, bucketAuths, "auth", decodeAuth, fn)
}

// GetDialog returns the dialog with the given id; ok is false when there is
// none.
func (b *Bolt) GetDialog(id string) (d Dialog, ok bool, err error) {
	if err := checkKey("dialog id", id); err != nil {
		return Dialog{}, false, err
	}
	err = b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketDialogs).Get([]byte(id))
		if v == nil {
			return nil
		}
		ok = true
		d, err = decodeDialog(v)
		return err
	})
	if err != nil {
		return Dialog{}, false, wrapRead("dialog", err)
	}
	return d, ok, nil
}

// PutDialog creates or replaces the dialog d (keyed by d.ID); it is
// durable when PutDialog returns.
func (b *Bolt) PutDialog(d Dialog) error {
	if err := checkDialog(d); err != nil {
		return err
	}
	v, err := encodeDialog(d)
	if err != nil {
		return fmt.Errorf("store: encoding dialog: %w", err)
	}
	k := []byte(d.ID)
	return wrapWrite("dialog", b.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDialogs).Put(k, v)
	}))
}

// DeleteDialog removes a dialog, durably; removing a missing one is no
// error.
func (b *Bolt) DeleteDialog(id string) error {
	if err := checkKey("dialog id", id); err != nil {
		return err
	}
	k := []byte(id)
	return wrapWrite("dialog", b.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDialogs).Delete(k)
	}))
}

// Dialogs calls fn for every dialog in id order, as Auths does.
func (b *Bolt) Dialogs(fn func(Dialog) error) error {
	return each(b, bucketDialogs, "dialog", decodeDialog, fn)
}

// each iterates a bucket in chunks of b.chunk records per read
// transaction, calling fn outside the transactions.
func each[T any](b *Bolt, bucket []byte, what string, decode func([]byte) (T, error), fn func(T) error) error {
	var after []byte
	items := make([]T, 0, b.chunk)
	for {
		items = items[:0]
		err := b.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(items) < b.chunk; k, v = c.Next() {
				it, err := decode(v)
				if err != nil {
					return fmt.Errorf("record %q: %w", k, err)
				}
				items = append(items, it)
				after = append(after[:0], k...)
			}
			return nil
		})
		if err != nil {
			return wrapRead(what, err)
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(items) < b.chunk {
			return nil
		}
	}
}

// GetPresence returns the last presence stored for entity, including one
// not yet written to the file; ok is false when there is none.
func (b *Bolt) GetPresence(entity string) (p cpim.Presence, ok bool, err error) {
	if err := checkKey("presence entity", entity); err != nil {
		return cpim.Presence{}, false, err
	}
	if b.delay > 0 {
		b.pmu.Lock()
		v, found := b.pending[entity]
		if !found {
			v, found = b.inflight[entity]
		}
		b.pmu.Unlock()
		if found {
			b.mu.RLock()
			closed := b.closed
			b.mu.RUnlock()
			if closed {
				return cpim.Presence{}, false, ErrClosed
			}
			if v == nil {
				return cpim.Presence{}, false, nil
			}
			p, err := decodePresence(v)
			if err != nil {
				return cpim.Presence{}, false, fmt.Errorf("store: presence record: %w", err)
			}
			return p, true, nil
		}
	}
	err = b.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPresence).Get([]byte(entity))
		if v == nil {
			return nil
		}
		ok = true
		p, err = decodePresence(v)
		return err
	})
	if err != nil {
		return cpim.Presence{}, false, wrapRead("presence", err)
	}
	return p, ok, nil
}

// PutPresence replaces the last presence of entity with p. With a
// PresenceDelay (the default) it returns at once and the write reaches the
// file within that delay; it returns the error of an earlier failed
// write, if any.
func (b *Bolt) PutPresence(entity string, p cpim.Presence) error {
	if err := checkPresence(entity, p); err != nil {
		return err
	}
	v, err := encodePresence(p)
	if err != nil {
		return fmt.Errorf("store: encoding presence: %w", err)
	}
	return b.setPresence(entity, v)
}

// DeletePresence forgets the presence of entity, with the same timing as
// PutPresence; forgetting a missing one is no error.
func (b *Bolt) DeletePresence(entity string) error {
	if err := checkKey("presence entity", entity); err != nil {
		return err
	}
	return b.setPresence(entity, nil)
}

// setPresence writes (v non-nil) or deletes the presence of entity,
// through the write-behind buffer when there is one.
func (b *Bolt) setPresence(entity string, v []byte) error {
	k := []byte(entity)
	if b.delay <= 0 {
		return wrapWrite("presence", b.write(func(tx *bolt.Tx) error {
			if v == nil {
				return tx.Bucket(bucketPresence).Delete(k)
			}
			return tx.Bucket(bucketPresence).Put(k, v)
		}))
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	b.pmu.Lock()
	b.pending[entity] = v
	err := b.flushErr
	b.flushErr = nil
	b.pmu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	if err != nil {
		return fmt.Errorf("store: writing presence: %w", err)
	}
	return nil
}

// flusher writes buffered presence PresenceDelay after the first write of
// a burst, and once more when the store closes.
func (b *Bolt) flusher() {
	defer close(b.fdone)
	for {
		select {
		case <-b.kick:
		case <-b.quit:
			b.flush()
			return
		}
		t := time.NewTimer(b.delay)
		select {
		case <-t.C:
		case <-b.quit:
			t.Stop()
		}
		b.flush()
	}
}

// flush commits the buffered presence through the committer. Reads see the
// batch in inflight until the commit is done; after a failure the batch
// goes back into the buffer (under newer writes) for the next flush.
func (b *Bolt) flush() {
	b.fmu.Lock()
	defer b.fmu.Unlock()
	b.pmu.Lock()
	batch := b.pending
	if len(batch) == 0 {
		b.pmu.Unlock()
		return
	}
	b.pending = make(map[string][]byte, len(batch))
	b.inflight = batch
	b.pmu.Unlock()

	keys := sortedKeys(batch)
	r := writeReq{done: make(chan error, 1), fn: func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketPresence)
		for _, k := range keys {
			var err error
			if v := batch[k]; v == nil {
				err = bk.Delete([]byte(k))
			} else {
				err = bk.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}}
	// The flusher stops before reqs is closed, so it needs no lock.
	b.reqs <- r
	err := <-r.done

	b.pmu.Lock()
	b.inflight = nil
	if err != nil {
		b.flushErr = err
		for k, v := range batch {
			if _, newer := b.pending[k]; !newer {
				b.pending[k] = v
			}
		}
	}
	b.pmu.Unlock()
}

// Close writes buffered presence, waits for queued writes and closes the
// file; every later call returns ErrClosed. Closing twice is no error.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()

	close(b.quit)
	<-b.fdone
	close(b.reqs)
	<-b.wdone
	b.pmu.Lock()
	flushErr := b.flushErr
	b.pmu.Unlock()
	err := b.db.Close()
	if flushErr != nil {
		return fmt.Errorf("store: writing presence: %w", flushErr)
	}
	if err != nil {
		return fmt.Errorf("store: closing %s: %w", b.path, err)
	}
	return nil
}

func wrapRead(what string, err error) error {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrNotStore) {
		return err
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return fmt.Errorf("store: reading %s: %w", what, err)
}

func wrapWrite(what string, err error) error {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotStore) {
		return err
	}
	return fmt.Errorf("store: writing %s: %w", what, err)
}
