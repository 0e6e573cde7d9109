package migrations

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
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

// redactedPlaceholder stands for a connection string Redact cannot take apart with certainty:
// logging less is better than logging a password.
const redactedPlaceholder = "(unparseable connection string, redacted)"

// passwordMask replaces every password value Redact finds.
const passwordMask = "xxxxx"

// Redact hides every password in a PostgreSQL connection string, for logs and error
// messages. It takes both forms pgx accepts: URLs (postgres:// and postgresql://, with the
// password in the user info or in a password/sslpassword query parameter) and keyword/value
// strings (password=secret, password='a b'). A string it cannot take apart the way pgx
// would is never returned as given: it becomes a placeholder, since its password could be
// anywhere in it.
func Redact(conn string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		return redactURL(conn)
	}
	return redactKeywordValue(conn)
}

// isSecretKey says whether a connection parameter holds a secret: password and sslpassword,
// in any spelling or case (and passfile, harmless to hide).
func isSecretKey(key string) bool {
	return strings.Contains(strings.ToLower(key), "pass")
}

// redactURL masks the user-info password and password-like query values. pgx finds the
// user info up to the first '@' before any '/'; when an '@' is left after that (an
// unescaped '/', '?' or '#' or a second '@' in a password), the boundaries are ambiguous
// and the whole string is replaced.
func redactURL(conn string) string {
	scheme, rest, _ := strings.Cut(conn, "://")
	var b strings.Builder
	b.Grow(len(conn))
	b.WriteString(scheme + "://")
	if i := strings.IndexAny(rest, "@/?#"); i >= 0 && rest[i] == '@' {
		user, _, hasPassword := strings.Cut(rest[:i], ":")
		b.WriteString(user)
		if hasPassword {
			b.WriteString(":" + passwordMask)
		}
		b.WriteByte('@')
		rest = rest[i+1:]
	}
	if strings.IndexByte(rest, '@') >= 0 {
		return redactedPlaceholder
	}
	hostPath, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(hostPath)
	if !hasQuery {
		return b.String()
	}
	b.WriteByte('?')
	for i, pair := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		rawKey, _, hasValue := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if hasValue && (isSecretKey(key) || isSecretKey(rawKey)) {
			b.WriteString(rawKey + "=" + passwordMask)
			continue
		}
		b.WriteString(pair)
	}
	return b.String()
}

// kvSpace is the whitespace pgx's keyword/value parser separates on.
const kvSpace = " \t\n\r\v\f"

// redactKeywordValue walks a keyword/value string exactly as pgx's parser does (unquoted
// values end at whitespace, a backslash escapes the next byte, quoted values end at an
// unescaped quote), keeps every pair as written except secret values, and gives up with the
// placeholder where pgx would reject the string.
func redactKeywordValue(conn string) string {
	if strings.IndexByte(conn, 0) >= 0 {
		return redactedPlaceholder
	}
	var out []string
	s := strings.TrimLeft(conn, kvSpace)
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return redactedPlaceholder
		}
		key := strings.Trim(s[:eq], kvSpace)
		if key == "" || strings.ContainsAny(key, kvSpace) {
			return redactedPlaceholder
		}
		s = strings.TrimLeft(s[eq+1:], kvSpace)
		var raw string
		switch {
		case len(s) == 0:
		case s[0] != '\'':
			end := 0
			for ; end < len(s) && !strings.ContainsRune(kvSpace, rune(s[end])); end++ {
				if s[end] == '\\' {
					end++
					if end == len(s) {
						break
					}
				}
			}
			raw, s = s[:end], s[end:]
		default:
			end := 1
			for ; end < len(s) && s[end] != '\''; end++ {
				if s[end] == '\\' {
					end++
				}
			}
			if end >= len(s) {
				return redactedPlaceholder
			}
			raw, s = s[:end+1], s[end+1:]
		}
		s = strings.TrimLeft(s, kvSpace)
		if isSecretKey(key) {
			raw = passwordMask
		}
		out = append(out, key+"="+raw)
	}
	return strings.Join(out, " ")
}

// RedactURL hides the credentials of any other service URL (NATS, Redis; a comma-separated
// list too): the user-info password, a user name standing alone (NATS takes a token there),
// and query values whose names suggest a secret. A part it cannot parse becomes the
// placeholder.
func RedactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = redactedPlaceholder
			continue
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), passwordMask)
			} else {
				u.User = url.User(passwordMask)
			}
		}
		if u.RawQuery != "" {
			q := u.Query()
			for k := range q {
				if l := strings.ToLower(k); isSecretKey(l) || strings.Contains(l, "token") || strings.Contains(l, "secret") {
					q.Set(k, passwordMask)
				}
			}
			u.RawQuery = q.Encode()
		}
		u.Fragment, u.RawFragment = "", ""
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// ConnError wraps an error about the connection string conn (named by setting, e.g.
// DATABASE_URL) so that it never repeats the string: pgx's parse errors quote it with best
// effort redaction only, so for them only the string redacted by Redact is shown.
func ConnError(setting, conn string, err error) error {
	var parse *pgconn.ParseConfigError
	if errors.As(err, &parse) {
		return fmt.Errorf("%s is not a valid connection string: %s", setting, Redact(conn))
	}
	return fmt.Errorf("%s %s: %w", setting, Redact(conn), err)
}
