package sqlstore_test

import (
	"testing"

	"github.com/trystgw/tryst/ds"
	"github.com/trystgw/tryst/ds/dstest"
	"github.com/trystgw/tryst/qs"
)

func TestGroupStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dstest.TestStore(t, func(t *testing.T) (ds.Store, qs.Store) {
				db := open(t, b.url(t))
				return db.Groups(), db.Queues()
			})
		})
	}
}

func TestSenderSecretStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dstest.TestSecretStore(t, func(t *testing.T) ds.SecretStore { return open(t, b.url(t)).SenderSecrets() })
		})
	}
}
