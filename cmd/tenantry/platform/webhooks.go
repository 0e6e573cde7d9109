package platform

import (
	"fmt"

	"github.com/tenantry/tenantry/domain/webhook"
)

// WebhookConfig is the outbound webhooks' configuration (issue 19).
type WebhookConfig struct {
	// Key is TENANTRY_WEBHOOK_KEY, or the key in TENANTRY_WEBHOOK_KEY_FILE: 32 bytes (hex or
	// base64) sealing endpoints' signing secrets; nil refuses to create endpoints (503) and
	// delivers nothing.
	Key *webhook.Key
	// AllowHTTP (TENANTRY_WEBHOOK_ALLOW_HTTP=1) accepts http:// URLs for any host.
	AllowHTTP bool
	// AllowPrivate (TENANTRY_WEBHOOK_ALLOW_PRIVATE=1) lets deliveries reach private,
	// loopback and link-local addresses.
	AllowPrivate bool
}

// loadWebhookConfig reads the webhook settings; problems are appended to errs, never a
// key's value.
func loadWebhookConfig(getenv func(string) string, errs *[]string) WebhookConfig {
	var c WebhookConfig
	flag := func(name string, dst *bool) {
		switch v := getenv(name); v {
		case "", "0", "false":
		case "1", "true":
			*dst = true
		default:
			*errs = append(*errs, fmt.Sprintf("%s=%q: want 1 or 0", name, v))
		}
	}
	flag("TENANTRY_WEBHOOK_ALLOW_HTTP", &c.AllowHTTP)
	flag("TENANTRY_WEBHOOK_ALLOW_PRIVATE", &c.AllowPrivate)
	value, file := getenv("TENANTRY_WEBHOOK_KEY"), getenv("TENANTRY_WEBHOOK_KEY_FILE")
	var err error
	switch {
	case value != "" && file != "":
		*errs = append(*errs, "TENANTRY_WEBHOOK_KEY and TENANTRY_WEBHOOK_KEY_FILE are both set: set one")
	case value != "":
		if c.Key, err = webhook.ParseKey(value); err != nil {
			*errs = append(*errs, fmt.Sprintf("TENANTRY_WEBHOOK_KEY: %v", err))
		}
	case file != "":
		if c.Key, err = readWebhookKeyFile(file); err != nil {
			*errs = append(*errs, fmt.Sprintf("TENANTRY_WEBHOOK_KEY_FILE=%q: %v", file, err))
		}
	}
	return c
}

// readWebhookKeyFile reads a webhook key file (readSecretFile's rules).
func readWebhookKeyFile(path string) (*webhook.Key, error) {
	b, err := readSecretFile(path, "webhook key")
	if err != nil {
		return nil, err
	}
	return webhook.ParseKey(b)
}
