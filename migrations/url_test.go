package migrations_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/migrations"
)

func TestRedact_HidesThePasswordInEveryConnectionStringForm(t *testing.T) {
	const placeholder = "(unparseable connection string, redacted)"
	for _, tc := range []struct{ name, in, want string }{
		{"URL", "postgres://root:s3cret@h:5432/db", "postgres://root:xxxxx@h:5432/db"},
		{"PostgresqlScheme", "postgresql://root:s3cret@h/db?sslmode=disable", "postgresql://root:xxxxx@h/db?sslmode=disable"},
		{"URLWithoutPassword", "postgres://root@127.0.0.1:5432/postgres?sslmode=disable", "postgres://root@127.0.0.1:5432/postgres?sslmode=disable"},
		{"URLQueryPassword", "postgres://h/db?user=root&password=s3cret&sslmode=disable", "postgres://h/db?user=root&password=xxxxx&sslmode=disable"},
		{"URLQuerySSLPassword", "postgres://h/db?sslpassword=s3cret", "postgres://h/db?sslpassword=xxxxx"},
		{"URLQueryEncodedKey", "postgres://h/db?pass%77ord=s3cret", "postgres://h/db?pass%77ord=xxxxx"},
		{"URLEscapedPassword", "postgres://root:a%2Fb%40c@h/db", "postgres://root:xxxxx@h/db"},
		{"URLUnescapedSlashInPassword", "postgres://root:s3/cret@h/db", placeholder},
		{"URLUnescapedAtInPassword", "postgres://root:s3@cret@h/db", placeholder},
		{"URLUnescapedQuestionMarkInPassword", "postgres://root:12?cret@h/db", placeholder},
		{"KeywordValue", "host=h user=root password=s3cret dbname=db", "host=h user=root password=xxxxx dbname=db"},
		{"KeywordValueSpacesAroundEquals", "host=h password = s3cret dbname=db", "host=h password=xxxxx dbname=db"},
		{"KeywordValueQuoted", "host=h password='s3 cret' dbname=db", "host=h password=xxxxx dbname=db"},
		{"KeywordValueQuotedWithEscapes", `password='it\'s s3cret\\' host=h`, "password=xxxxx host=h"},
		{"KeywordValueEscapedSpace", `password=s3\ cret host=h`, "password=xxxxx host=h"},
		{"KeywordValueEmptyPasswordSwallowsNext", "password= host=h", "password=xxxxx"},
		{"KeywordValueSSLPassword", "host=h sslpassword=s3cret", "host=h sslpassword=xxxxx"},
		{"KeywordValueUnterminatedQuote", "host=h password='s3cret", placeholder},
		{"KeywordValueMissingEquals", "host=h s3cret", placeholder},
		{"KeywordValueNUL", "host=h password=s3cret\x00", placeholder},
		{"Garbage", "s3cret", placeholder},
		{"UppercaseSchemeIsNotAURLToPgx", "POSTGRES://root:s3cret@h/db", placeholder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := migrations.Redact(tc.in)
			require.Equal(t, tc.want, got)
			require.NotContains(t, got, "s3")
		})
	}
}

// FuzzRedact builds connection strings of every form around a password and checks that
// Redact's output never contains it; on any input, what pgx itself reads as the password
// must not survive either.
func FuzzRedact(f *testing.F) {
	for _, seed := range []string{"s3cret", "a b", "it's", `back\slash`, "p@ss/w?rd#x", "x=y z", "'", "pass word=", "postgres://u:p@h"} {
		f.Add(seed, uint8(0))
	}
	f.Add("rd=", uint8(4)) // "password =" is written "password=xxxxx", which holds "rd="
	f.Fuzz(func(t *testing.T, pw string, form uint8) {
		if len(pw) < 3 || strings.ContainsRune(pw, 0) {
			t.Skip()
		}
		build := func(pw string) (string, string) {
			kvQuoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw) + "'"
			forms := []string{
				"postgres://user:" + strings.ReplaceAll(url.QueryEscape(pw), "+", "%20") + "@host:5432/db?sslmode=disable",
				"postgresql://" + url.UserPassword("user", pw).String() + "@host/db",
				"postgres://host/db?user=user&password=" + url.QueryEscape(pw) + "&sslmode=disable",
				"host=host user=user password=" + kvQuoted + " dbname=db",
				"host=host password =  " + kvQuoted,
				"password=" + strings.NewReplacer(`\`, `\\`, " ", `\ `, "\t", "\\\t", "\n", "\\\n", "\r", "\\\r", "\v", "\\\v", "\f", "\\\f").Replace(pw) + " host=host",
			}
			return forms[int(form)%len(forms)], kvQuoted
		}
		conn, kvQuoted := build(pw)
		got := migrations.Redact(conn)
		skeleton, _ := build("")
		if strings.Contains(skeleton+" xxxxx (unparseable connection string, redacted)", pw) || strings.Contains(migrations.Redact(skeleton), pw) {
			t.Skip() // the password is also part of the rest of the string, as given or as Redact writes it
		}
		for _, shown := range []string{pw, url.PathEscape(pw), url.QueryEscape(pw), kvQuoted} {
			if strings.Contains(got, shown) {
				t.Fatalf("Redact(%q) = %q shows the password %q", conn, got, pw)
			}
		}
		if cfg, err := pgconn.ParseConfig(conn); err == nil && cfg.Password != pw && len(cfg.Password) >= 3 && strings.Contains(conn, cfg.Password) &&
			strings.Count(got, cfg.Password) >= strings.Count(conn, cfg.Password) {
			t.Fatalf("Redact(%q) = %q keeps what pgx reads as the password, %q", conn, got, cfg.Password)
		}
	})
}

// FuzzRedact_HidesWhatPgxReadsAsThePassword takes arbitrary strings: whatever pgx would send
// as the password must lose its occurrence in Redact's output.
func FuzzRedact_HidesWhatPgxReadsAsThePassword(f *testing.F) {
	for _, seed := range []string{"postgres://u:p4ss@h/db", "postgres://u:p4/ss@h/db", "postgres://h?password=p4ss", "password=p4ss", "password='p 4ss'", "password= p4ss=x", "postgres://a@u:sec:ret@h"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, conn string) {
		got := migrations.Redact(conn)
		cfg, err := pgconn.ParseConfig(conn)
		if err != nil || len(cfg.Password) < 3 || !strings.Contains(conn, cfg.Password) {
			return
		}
		if strings.Count(got, cfg.Password) >= strings.Count(conn, cfg.Password) {
			t.Fatalf("Redact(%q) = %q keeps what pgx reads as the password, %q", conn, got, cfg.Password)
		}
	})
}

func TestRedactURL_HidesTheCredentialsOfOtherServices(t *testing.T) {
	for in, want := range map[string]string{
		"nats://user:s3cret@h:4222":                     "nats://user:xxxxx@h:4222",
		"nats://s3cret-token@h:4222":                    "nats://xxxxx@h:4222",
		"nats://a:s3cret1@h1:4222, nats://a:s3cret2@h2": "nats://a:xxxxx@h1:4222,nats://a:xxxxx@h2",
		"redis://:s3cret@h:6379/0?password=s3cret&db=1": "redis://:xxxxx@h:6379/0?db=1&password=xxxxx",
		"redis://h:6379/0?auth_token=s3cret#s3cret":     "redis://h:6379/0?auth_token=xxxxx",
		"redis://user:s3cret@host:po rt/0":              "(unparseable connection string, redacted)",
		"nats://127.0.0.1:4222":                         "nats://127.0.0.1:4222",
	} {
		got := migrations.RedactURL(in)
		require.Equal(t, want, got, in)
		require.NotContains(t, got, "s3cret")
	}
}

func TestConnError_NeverRepeatsTheConnectionString(t *testing.T) {
	for _, conn := range []string{
		"host=h password=s3cret and more",         // pgx stops the password at the space
		"host=h password='s3cret",                 // unterminated quote
		"postgres://u:s3cret@h:port/db",           // bad port
		"postgres://u:s3cret@h/db?sslmode=sloppy", // bad option
	} {
		_, err := pgconn.ParseConfig(conn)
		require.Error(t, err, conn)
		wrapped := migrations.ConnError("DATABASE_URL", conn, err)
		require.ErrorContains(t, wrapped, "DATABASE_URL")
		for _, secret := range []string{"s3cret", "and more"} {
			require.NotContains(t, wrapped.Error(), secret, conn)
		}
	}
}
