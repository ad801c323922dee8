package ds_test

import (
	"bytes"
	"testing"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/qs"
)

// seeds are valid encodings of every request type, from a test client.
func seeds(f *testing.F) (msgs [][]byte) {
	c := dstest.NewClient(f, suite, qs.NewID(), "")
	j := dstest.NewClient(f, suite, qs.NewID(), "")
	gid := []byte("fuzz group")
	msgs = append(msgs, c.CreateGroup(f, gid))
	msgs = append(msgs, c.AddCommit(f, j).Request)
	msgs = append(msgs, c.AppMessage(f, 8))
	msgs = append(msgs, c.GroupInfoRequest(f, gid, c.AsKeyPackage()))
	msgs = append(msgs, c.Message(f, c.AsMember(), gid, ds.RequestUpdateQueueConfig, ds.MarshalQueueConfig(c.Queue)))
	return msgs
}

func bodySeeds(f *testing.F, t ds.RequestType) {
	for _, b := range seeds(f) {
		m, err := ds.DecodeMessage(b)
		if err != nil {
			f.Fatal(err)
		}
		if m.Request.Type == t {
			f.Add(m.Request.Body)
		}
	}
}

// FuzzDecodeMessage: the envelope decoder never panics, and what it
// accepts re-encodes to the same bytes.
func FuzzDecodeMessage(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ds.DecodeMessage(b)
		if err != nil {
			return
		}
		if got := m.Marshal(); !bytes.Equal(got, b) {
			t.Errorf("re-encoding differs:\n in %x\nout %x", b, got)
		}
	})
}

func FuzzCreateGroupRequest(f *testing.F) {
	bodySeeds(f, ds.RequestCreateGroup)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ds.DecodeCreateGroupRequest(b)
		if err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Errorf("re-encoding differs")
		}
	})
}

func FuzzSendCommitRequest(f *testing.F) {
	bodySeeds(f, ds.RequestSendCommit)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ds.DecodeSendCommitRequest(b)
		if err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Errorf("re-encoding differs")
		}
	})
}

// FuzzMLSBody covers send_proposal and send_message.
func FuzzMLSBody(f *testing.F) {
	bodySeeds(f, ds.RequestSendMessage)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ds.DecodeMLSBody(b)
		if err == nil && !bytes.Equal(ds.MarshalMLSBody(m), b) {
			t.Errorf("re-encoding differs")
		}
	})
}

func FuzzQueueConfig(f *testing.F) {
	bodySeeds(f, ds.RequestUpdateQueueConfig)
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ds.DecodeQueueConfig(b)
		if err == nil && !bytes.Equal(ds.MarshalQueueConfig(q), b) {
			t.Errorf("re-encoding differs")
		}
	})
}

// FuzzResponses covers what clients decode: DSResponse and the
// group_info result.
func FuzzResponses(f *testing.F) {
	f.Add((&ds.Response{Code: ds.CodeWrongEpoch, Epoch: 3, Body: []byte("x")}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ds.DecodeResponse(b); err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Errorf("response re-encoding differs")
		}
		if r, err := ds.DecodeGroupInfoResult(b); err == nil && !bytes.Equal(r.Marshal(), b) {
			t.Errorf("group_info result re-encoding differs")
		}
	})
}
