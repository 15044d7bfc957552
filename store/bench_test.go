package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"cpimgw/cpim"
)

// Benchmarks. The Bolt figures include the fsync of every durable write:
// run them on the disk the gateway will use (t.TempDir, so TMPDIR).
//
//	go test -run='^$' -bench=. -benchmem ./store
//	go test -run='^$' -bench=Restore -benchtime=3x ./store   # 10k and 100k pairs

type benchStore struct {
	name string
	open func(b *testing.B) Store
}

func benchStores() []benchStore {
	return []benchStore{
		{"memory", func(*testing.B) Store { return NewMemory() }},
		{"bolt", func(b *testing.B) Store { return openBenchBolt(b, BoltOptions{}) }},
	}
}

func openBenchBolt(b *testing.B, opts BoltOptions) *Bolt {
	s, err := OpenBolt(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

var benchSeq atomic.Int64

func benchAuth() Auth {
	n := benchSeq.Add(1)
	return Auth{Direction: S2X, Watcher: fmt.Sprintf("contact%d@sip.example.test", n),
		Target: "user@xmpp.example.test", State: AuthGranted}
}

// reportCommits reports how many writes shared one commit (one fsync).
func reportCommits(b *testing.B, s Store, before uint64) {
	if bs, ok := s.(*Bolt); ok {
		b.ReportMetric(float64(b.N)/float64(bs.commits.Load()-before), "writes/commit")
	}
}

func commits(s Store) uint64 {
	if bs, ok := s.(*Bolt); ok {
		return bs.commits.Load()
	}
	return 0
}

// BenchmarkPutAuth: sequential is one writer waiting for each commit (one
// fsync per PutAuth); parallel is 64 writers whose writes share commits.
func BenchmarkPutAuth(b *testing.B) {
	for _, st := range benchStores() {
		b.Run(st.name+"/sequential", func(b *testing.B) {
			s := st.open(b)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.PutAuth(benchAuth()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			s := st.open(b)
			before := commits(s)
			b.ReportAllocs()
			b.SetParallelism(32) // 64 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.PutAuth(benchAuth()); err != nil {
						b.Fatal(err)
					}
				}
			})
			reportCommits(b, s, before)
		})
	}
}

// BenchmarkPutAuthBatchBaseline is bbolt's own db.Batch (10ms default
// delay) for the same writes, the alternative to Bolt's committer.
func BenchmarkPutAuthBatchBaseline(b *testing.B) {
	put := func(s *Bolt) error {
		a := benchAuth()
		k, v := authKey(a.Direction, a.Watcher, a.Target), must(encodeAuth(a))
		return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketAuths).Put(k, v) })
	}
	b.Run("sequential", func(b *testing.B) {
		s := openBenchBolt(b, BoltOptions{})
		b.ReportAllocs()
		for b.Loop() {
			if err := put(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := openBenchBolt(b, BoltOptions{})
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := put(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func BenchmarkGetAuth(b *testing.B) {
	for _, st := range benchStores() {
		b.Run(st.name, func(b *testing.B) {
			s := st.open(b)
			if err := Fill(s, 1000); err != nil {
				b.Fatal(err)
			}
			u, c := SyntheticPair(500)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := s.GetAuth(X2S, Key(u), Key(c)); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkPutDialog raises one dialog's CSeq high-water mark, as the
// dialog layer does every block of requests.
func BenchmarkPutDialog(b *testing.B) {
	for _, st := range benchStores() {
		b.Run(st.name+"/sequential", func(b *testing.B) {
			s := st.open(b)
			d := sampleDialog("c1@192.0.2.1;lt;rt")
			b.ReportAllocs()
			for b.Loop() {
				d.LocalCSeq += 100
				if err := s.PutDialog(d); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(st.name+"/parallel", func(b *testing.B) {
			s := st.open(b)
			before := commits(s)
			defer reportCommits(b, s, before)
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				d := sampleDialog(fmt.Sprint(benchSeq.Add(1)))
				for pb.Next() {
					d.LocalCSeq += 100
					if err := s.PutDialog(d); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkPresence: PutPresence of 1000 entities in turn (the
// write-behind buffer coalesces them) and GetPresence of a written one;
// bolt-sync writes each presence durably instead.
func BenchmarkPresence(b *testing.B) {
	stores := append(benchStores(), benchStore{"bolt-sync", func(b *testing.B) Store {
		return openBenchBolt(b, BoltOptions{PresenceDelay: -1})
	}})
	for _, st := range stores {
		b.Run(st.name+"/put", func(b *testing.B) {
			s := st.open(b)
			p := samplePresence(cpim.Address{Local: "alice", Domain: "xmpp.example.test"})
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				if err := s.PutPresence(fmt.Sprintf("e%d", i%1000), p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(st.name+"/get", func(b *testing.B) {
			s := st.open(b)
			p := samplePresence(cpim.Address{Local: "alice", Domain: "xmpp.example.test"})
			if err := s.PutPresence("alice@xmpp.example.test", p); err != nil {
				b.Fatal(err)
			}
			if bs, ok := s.(*Bolt); ok {
				bs.flush() // read from the file, not the buffer
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := s.GetPresence("alice@xmpp.example.test"); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkRestore is a gateway restart: open the file, read every
// authorization and every dialog, close. ns/op is the whole restore; the
// extra metrics are the file size per 1000 pairs and the time per pair.
func BenchmarkRestore(b *testing.B) {
	for _, pairs := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("pairs=%d", pairs), func(b *testing.B) {
			if pairs > 10_000 && testing.Short() {
				b.Skip("-short")
			}
			dir := b.TempDir()
			s, err := OpenBolt(dir, BoltOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if err := Fill(s, pairs); err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(dir, FileName))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				s, err := OpenBolt(dir, BoltOptions{})
				if err != nil {
					b.Fatal(err)
				}
				na, nd := 0, 0
				if err := s.Auths(func(Auth) error { na++; return nil }); err != nil {
					b.Fatal(err)
				}
				if err := s.Dialogs(func(Dialog) error { nd++; return nil }); err != nil {
					b.Fatal(err)
				}
				if na != 2*pairs || nd != 2*pairs {
					b.Fatalf("restored %d auths, %d dialogs of %d pairs", na, nd, pairs)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fi.Size())*1000/float64(pairs), "fileB/1kpairs")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(pairs), "ns/pair")
		})
	}
}
