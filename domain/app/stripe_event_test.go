package app_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v76"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
)

// verified is what a port hands the use case of an event stripe-go decoded (as the
// webhook handler does after checking the signature).
func verified(ev stripe.Event) app.StripeEvent {
	out := app.StripeEvent{ID: ev.ID, Type: string(ev.Type), Created: ev.Created}
	if ev.Data != nil {
		out.Object = append(json.RawMessage{}, ev.Data.Raw...)
	}
	return out
}

// FuzzParseStripeEvent: any event a signature could cover parses to a signal within bounds, or
// is refused as invalid (a 400), never a panic.
func FuzzParseStripeEvent(f *testing.F) {
	for _, s := range []string{
		`{"id":"evt_1","type":"invoice.paid","created":1700000000,"data":{"object":{"id":"in_1","customer":"cus_1","status":"paid"}}}`,
		`{"id":"evt_1","type":"customer.subscription.updated","created":1,"data":{"object":{"customer":{"id":"cus_1"},"metadata":{"tenant_id":"x"}}}}`,
		`{"id":"evt_1","type":"x","created":-5,"data":{"object":[]}}`,
		`{"id":"","type":"","created":0}`,
		`{"id":"evt","type":"t","created":99999999999999,"data":{"object":{"id":7}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		var ev stripe.Event
		if json.Unmarshal(payload, &ev) != nil {
			return
		}
		sig, err := app.ParseStripeEvent(verified(ev))
		if err != nil {
			require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err), "%v", err)
			return
		}
		require.NotEmpty(t, sig.EventID)
		require.False(t, sig.Created.IsZero())
		require.LessOrEqual(t, len(sig.ObjectID), 100)
		require.True(t, utf8.ValidString(sig.ObjectID) && utf8.ValidString(sig.ObjectStatus))
		require.LessOrEqual(t, len(sig.CustomerID), 255)
		require.LessOrEqual(t, len(sig.SubscriptionID), 255)
		require.True(t, utf8.ValidString(sig.CustomerID) && utf8.ValidString(sig.SubscriptionID))
	})
}

func TestParseStripeEvent_ReadsTheCustomerAndSubscriptionTheObjectConcerns(t *testing.T) {
	for payload, want := range map[string][2]string{
		`{"id":"e","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1","customer":"cus_1","subscription":"sub_1"}}}`:                                     {"cus_1", "sub_1"},
		`{"id":"e","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1","customer":{"id":"cus_1"},"subscription":{"id":"sub_1"}}}}`:                       {"cus_1", "sub_1"},
		`{"id":"e","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1","customer":"cus_1","parent":{"subscription_details":{"subscription":"sub_1"}}}}}`: {"cus_1", "sub_1"},
		`{"id":"e","type":"invoice.paid","created":1,"data":{"object":{"id":"in_1","customer":"cus_1","parent":"odd"}}}`:                                             {"cus_1", ""},
		`{"id":"e","type":"customer.subscription.deleted","created":1,"data":{"object":{"id":"sub_1","customer":"cus_1","metadata":{"tenant_id":"x"}}}}`:             {"cus_1", "sub_1"},
		`{"id":"e","type":"customer.updated","created":1,"data":{"object":{"id":"cus_1","subscription":"sub_1"}}}`:                                                   {"", ""},
	} {
		var ev stripe.Event
		require.NoError(t, json.Unmarshal([]byte(payload), &ev))
		sig, err := app.ParseStripeEvent(verified(ev))
		require.NoError(t, err, payload)
		require.Equal(t, want, [2]string{sig.CustomerID, sig.SubscriptionID}, payload)
	}
}
