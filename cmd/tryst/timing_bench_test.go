package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trystgw/tryst/ntf"
	"github.com/trystgw/tryst/push/pushtest"
)

// timingSamples is how many requests of each kind BenchmarkTokenAuthTiming
// times per operation.
const timingSamples = 3000

// timingMaxZ is the largest Mann–Whitney z-score allowed between two
// kinds of request: |z| > 4 happens by chance about once in 16,000
// comparisons, while the difference this guards against stood at 5.
const timingMaxZ = 4.0

// BenchmarkTokenAuthTiming checks that a token request with a wrong
// secret takes as long whether the id exists, is unknown, or is
// malformed, so timing does not tell which ids exist. It times
// timingSamples requests of each kind over one keep-alive connection,
// interleaved in random order (drift hits all kinds alike), and compares
// the kinds pairwise with the Mann–Whitney U test. The scenario is one
// operation whatever b.N says; `make timing` runs it.
func BenchmarkTokenAuthTiming(b *testing.B) {
	s := startServer(b, noTokenLimits...)
	d := newDevice("apns", pushtest.APNsToken("timing"))
	d.register(b, s)
	ids := map[string]string{"existing": d.id, "unknown": string(ntf.NewTokenID()), "malformed": "not-a-token-id"}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for _, op := range []struct{ name, method, suffix, body string }{
		{"get", http.MethodGet, "", ""},
		{"checks", http.MethodPut, "/checks", `{"interval_minutes":60}`},
	} {
		times := map[string][]float64{}
		kinds := []string{"existing", "unknown", "malformed"}
		for range timingSamples {
			rand.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
			for _, kind := range kinds {
				times[kind] = append(times[kind], timeRequest(b, client, op.method, s.URL+"/v1/tokens/"+ids[kind]+op.suffix, op.body))
			}
		}
		for _, pair := range [][2]string{{"existing", "unknown"}, {"unknown", "malformed"}, {"existing", "malformed"}} {
			z := mannWhitneyZ(times[pair[0]], times[pair[1]])
			b.ReportMetric(z, fmt.Sprintf("z-%s-%s-vs-%s", op.name, pair[0], pair[1]))
			if math.Abs(z) > timingMaxZ {
				b.Errorf("%s: %s ids (median %.1fµs) vs %s ids (median %.1fµs): z = %.2f, want |z| <= %v",
					op.name, pair[0], median(times[pair[0]]), pair[1], median(times[pair[1]]), z, timingMaxZ)
			}
		}
		for _, kind := range kinds {
			b.ReportMetric(median(times[kind]), fmt.Sprintf("µs-median-%s-%s", op.name, kind))
		}
	}
}

// timeRequest sends one request with a wrong secret, requires the 401,
// and returns how long it took in microseconds.
func timeRequest(b *testing.B, c *http.Client, method, url, body string) float64 {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer wrong-secret-wrong-secret-wrong-secret-wrong")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusUnauthorized {
		b.Fatalf("%s %s = %d, want 401", method, url, resp.StatusCode)
	}
	return float64(took.Nanoseconds()) / 1e3
}

// mannWhitneyZ is the normal approximation of the Mann–Whitney U
// statistic of a against b (ties get their average rank): near 0 when
// neither tends to be larger, positive when a's values tend to be.
func mannWhitneyZ(a, b []float64) float64 {
	type obs struct {
		v     float64
		fromA bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(x, y obs) int { return cmpFloat(x.v, y.v) })
	rankSumA := 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // ranks i+1..j averaged
		for k := i; k < j; k++ {
			if all[k].fromA {
				rankSumA += rank
			}
		}
		i = j
	}
	n1, n2 := float64(len(a)), float64(len(b))
	u := rankSumA - n1*(n1+1)/2
	return (u - n1*n2/2) / math.Sqrt(n1*n2*(n1+n2+1)/12)
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestMannWhitneyZ(t *testing.T) {
	same := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	if z := mannWhitneyZ(same, same); z != 0 {
		t.Errorf("z of identical samples = %v, want 0", z)
	}
	low, high := make([]float64, 100), make([]float64, 100)
	for i := range low {
		low[i], high[i] = float64(i), float64(i)+50
	}
	if z := mannWhitneyZ(low, high); z > -5 {
		t.Errorf("z of a clearly lower sample = %v, want below -5", z)
	}
	if z := mannWhitneyZ(high, low); z < 5 {
		t.Errorf("z of a clearly higher sample = %v, want above 5", z)
	}
}
