package eventstore_test

import (
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/eventstore"
)

// DomainStore is the use cases' event store.
var _ app.EventStore = eventstore.DomainStore{}
