package mls

import (
	"fmt"
	"sync"
	"testing"
)

// Group sizes for the commit benchmarks. Each group is built once (with
// generated Ed25519 keys, suite 1) and cloned for every sub-benchmark.
var benchSizes = []int{10, 100, 1000, 10000}

var (
	benchMu     sync.Mutex
	benchGroups = map[int]*simGroup{}
)

func benchGroup(b *testing.B, n int) *simGroup {
	benchMu.Lock()
	defer benchMu.Unlock()
	g, ok := benchGroups[n]
	if !ok {
		g = newSimGroup(b, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, n)
		benchGroups[n] = g
	}
	return g.clone()
}

// process is what a DS does per commit: decode, stage, merge.
func benchProcess(b *testing.B, s *simGroup, msg []byte) *StagedCommit {
	m, err := DecodeMLSMessage(msg)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := s.g.StageCommit(m)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.g.Merge(sc); err != nil {
		b.Fatal(err)
	}
	return sc
}

// reportHashes reports the node hashes computed per commit (the tree keeps
// every other hash cached).
func reportHashes(b *testing.B, s *simGroup, before uint64) {
	b.ReportMetric(float64(s.g.tree.hashOps-before)/float64(b.N), "treehashes/op")
}

// BenchmarkCommit measures decoding, staging and merging one commit
// (timed), against groups of 10 to 10,000 members:
//
//   - update: an empty commit with an UpdatePath from a member;
//   - add: a commit adding one member by value, without a path (undone
//     untimed by a remove);
//   - remove: a commit removing one member by value, with a path (undone
//     untimed by an add).
//
// Building the commits (signing, path generation) is not timed.
func BenchmarkCommit(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("update/members=%d", n), func(b *testing.B) {
			s := benchGroup(b, n)
			b.ReportAllocs()
			h := s.g.tree.hashOps
			size := 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				msg := s.updateCommit(b, LeafIndex((i*7)%n))
				size += len(msg)
				b.StartTimer()
				benchProcess(b, s, msg)
			}
			reportHashes(b, s, h)
			b.ReportMetric(float64(size)/float64(b.N), "msgbytes/op")
		})
		b.Run(fmt.Sprintf("add/members=%d", n), func(b *testing.B) {
			s := benchGroup(b, n)
			b.ReportAllocs()
			var hashes uint64
			size := 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				msg, sk := s.addCommit(b, LeafIndex((i*7)%n))
				size += len(msg)
				h := s.g.tree.hashOps
				b.StartTimer()
				sc := benchProcess(b, s, msg)
				b.StopTimer()
				hashes += s.g.tree.hashOps - h
				s.keys[sc.Added[0]] = sk
				s.apply(b, s.removeCommit(b, 0, sc.Added[0]), nil)
				b.StartTimer()
			}
			b.ReportMetric(float64(hashes)/float64(b.N), "treehashes/op")
			b.ReportMetric(float64(size)/float64(b.N), "msgbytes/op")
		})
		b.Run(fmt.Sprintf("remove/members=%d", n), func(b *testing.B) {
			s := benchGroup(b, n)
			b.ReportAllocs()
			var hashes uint64
			size := 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				r := LeafIndex(1 + (i*13)%(n-1))
				msg := s.removeCommit(b, 0, r)
				size += len(msg)
				h := s.g.tree.hashOps
				b.StartTimer()
				benchProcess(b, s, msg)
				b.StopTimer()
				hashes += s.g.tree.hashOps - h
				// Re-add a member at r and let it commit a path, so
				// that the tree does not fill up with blanks.
				add, sk := s.addCommit(b, 0)
				sc := s.apply(b, add, sk)
				s.apply(b, s.updateCommit(b, sc.Added[0]), nil)
				b.StartTimer()
			}
			b.ReportMetric(float64(hashes)/float64(b.N), "treehashes/op")
			b.ReportMetric(float64(size)/float64(b.N), "msgbytes/op")
		})
	}
}

// BenchmarkImportGroup measures building a PublicGroup from a GroupInfo and
// tree (full validation: every leaf signature, parent hashes, tree hash).
func BenchmarkImportGroup(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			s := benchGroup(b, n)
			tree := s.g.tree.Marshal()
			gi := &GroupInfo{GroupContext: *s.g.GroupContext(), ConfirmationTag: s.g.ConfirmationTag(), Signer: 0}
			if err := gi.Sign(s.keys[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				t, err := DecodeRatchetTree(s.cs, tree)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := NewPublicGroup(gi, t); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
