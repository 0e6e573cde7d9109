package migrations

import (
	"fmt"
	"net/url"
)

// AppURL derives the API's runtime URL from the administrative one: same host, port,
// database and options, user tenantry_app, and password when one is given.
func AppURL(superURL, appPassword string) (string, error) {
	return roleURL(superURL, AppRole, appPassword, "TENANTRY_APP_DATABASE_URL")
}

// WorkerURL derives the cross-tenant machinery's runtime URL the same way, with user
// tenantry_worker.
func WorkerURL(superURL, workerPassword string) (string, error) {
	return roleURL(superURL, WorkerRole, workerPassword, "TENANTRY_WORKER_DATABASE_URL")
}

func roleURL(superURL, role, password, setting string) (string, error) {
	u, err := url.Parse(superURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("DATABASE_URL must be a postgres:// URL to derive the runtime URL; set %s instead", setting)
	}
	if password != "" {
		u.User = url.UserPassword(role, password)
	} else {
		u.User = url.User(role)
	}
	return u.String(), nil
}

// WithDatabase returns rawURL pointing at database name instead.
func WithDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("not a postgres:// URL")
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// Redact hides a URL's password, for logs and error messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable database URL)"
	}
	return u.Redacted()
}
