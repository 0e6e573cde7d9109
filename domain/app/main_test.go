package app_test

import (
	"os"
	"testing"

	"github.com/tenantry/tenantry/migrations/pgtest"
)

// testDB is this package's own database, cloned from the migrated template: use cases that
// need storage are tested against real PostgreSQL through eventstore.DomainStore.
var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }
