package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/client"
)

// The README's "Go client" section shows this function's body: keep the two the same.
func Example() {
	ctx := context.Background()

	// The operator creates a tenant; the answer holds its admin's API key (shown once).
	operator, err := client.New("http://127.0.0.1:8080", client.WithToken("change-me-operator-token"))
	if err != nil {
		log.Fatal(err)
	}
	created, _, err := operator.CreateTenant(ctx, api.CreateTenantRequest{
		Name: "Acme", Slug: "acme", Plan: "pro", AdminEmail: "admin@acme.example"})
	if err != nil {
		log.Fatal(err) // a *client.Error: errors.As gives its status and RFC 9457 problem
	}
	acme := operator.With(client.WithToken(created.APIKey.Key), client.WithTenant("acme"))

	// Usage, safe to send again: the Idempotency-Key replays the first answer.
	rec, res, err := acme.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{
		{Metric: "api_calls", Quantity: "3", IdempotencyKey: "evt-1"}}},
		client.WithIdempotencyKey("req-1"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted", rec.Accepted, "replayed", res.IdempotentReplayed)

	// Read your write: min_seq waits until the usage read model holds it.
	usage, _, err := acme.GetUsage(ctx, client.UsageQuery{Metric: "api_calls"}, client.WithMinSeq(rec.Seq))
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range usage.Series {
		fmt.Println(s.Metric, s.Total)
	}

	// Every member, following next_cursor 100 at a time.
	for m, err := range acme.Members(ctx, 100) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Email, m.Role)
	}
}
