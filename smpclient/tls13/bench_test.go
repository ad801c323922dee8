package tls13

import "testing"

// BenchmarkRecordRoundTrip seals and opens one full 16 KiB record (an
// SMP block) per op with each suite; MB/s is plaintext throughput.
func BenchmarkRecordRoundTrip(b *testing.B) {
	for _, s := range suites {
		b.Run(CipherSuiteName(s.id), func(b *testing.B) {
			var w, r halfConn
			secret := make([]byte, s.hash.Size())
			copy(secret, fuzzSecret)
			w.setKey(&s, secret)
			r.setKey(&s, secret)
			block := make([]byte, maxPlaintext)
			var rec []byte
			b.SetBytes(maxPlaintext)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				rec, err = w.seal(rec[:0], recordApplicationData, block)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := r.open(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
