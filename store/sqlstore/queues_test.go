package sqlstore_test

import (
	"testing"

	"github.com/trystgw/tryst/qs"
	"github.com/trystgw/tryst/qs/qstest"
)

func TestQueueStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			qstest.TestStore(t, func(t *testing.T) qs.Store { return open(t, b.url(t)).Queues() })
		})
	}
}
