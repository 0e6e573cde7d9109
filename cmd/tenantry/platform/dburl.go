package platform

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// The database of a command, first found wins:
//  1. --database-url: the administrative URL; the runtime logins are derived from it
//     (TENANTRY_APP_DATABASE_URL and TENANTRY_WORKER_DATABASE_URL are ignored, so that one
//     flag names one database);
//  2. DATABASE_URL, TENANTRY_APP_DATABASE_URL, TENANTRY_WORKER_DATABASE_URL;
//  3. when none of those is set, the DATABASE_URL line of the .data/env that `make run`
//     writes (next to the binary it builds, .data/bin/tenantry, or in the working
//     directory), so that the CLI finds `make run`'s database without copying a URL.

// databaseURLFlag is the name of the flag of every command that needs a database.
const databaseURLFlag = "database-url"

// withDatabaseURL adds --database-url to cmd, a command that needs a database.
func (a *app) withDatabaseURL(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().StringVar(&a.databaseURL, databaseURLFlag, "",
		"PostgreSQL URL of a role that may create roles (overrides DATABASE_URL and TENANTRY_*_DATABASE_URL)")
	return cmd
}

// devEnvFiles are where `make run` leaves its .data/env, nearest first.
var devEnvFiles = func() []string {
	var files []string
	if exe, err := os.Executable(); err == nil {
		bin := filepath.Dir(exe)
		if filepath.Base(bin) == "bin" && filepath.Base(filepath.Dir(bin)) == ".data" {
			files = append(files, filepath.Join(filepath.Dir(bin), "env"))
		}
	}
	return append(files, filepath.Join(".data", "env"))
}

// maxDevEnv bounds what is read of a .data/env file.
const maxDevEnv = 64 << 10

// databaseEnv is getenv with the database settings of the flag or of .data/env applied,
// and where they came from ("" when from the environment).
func (a *app) databaseEnv(cmd *cobra.Command, getenv func(string) string) (func(string) string, string, error) {
	override := func(admin string) func(string) string {
		return func(k string) string {
			switch k {
			case "DATABASE_URL":
				return admin
			case "TENANTRY_APP_DATABASE_URL", "TENANTRY_WORKER_DATABASE_URL":
				return ""
			}
			return getenv(k)
		}
	}
	if f := cmd.Flags().Lookup(databaseURLFlag); f != nil && f.Changed {
		if err := checkDatabaseURL(a.databaseURL); err != nil {
			return nil, "", usageErr(fmt.Errorf("--%s: %w", databaseURLFlag, err))
		}
		return override(a.databaseURL), "--" + databaseURLFlag, nil
	}
	if cmd.Flags().Lookup(databaseURLFlag) == nil ||
		getenv("DATABASE_URL") != "" || getenv("TENANTRY_APP_DATABASE_URL") != "" || getenv("TENANTRY_WORKER_DATABASE_URL") != "" {
		return getenv, "", nil
	}
	for _, file := range devEnvFiles() {
		u, err := readDevEnv(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("configuration: %s: %w", file, err)
		}
		if u != "" {
			return override(u), file, nil
		}
	}
	return getenv, "", nil
}

// checkDatabaseURL refuses what is not a postgres:// URL, without repeating the value (it
// may hold a password).
func checkDatabaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return errors.New("want a URL such as postgres://user@127.0.0.1:5432/tenantry")
	}
	return nil
}

// readDevEnv reads the DATABASE_URL line of a .data/env file (KEY=VALUE lines, # comments).
func readDevEnv(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxDevEnv))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") || strings.TrimSpace(k) != "DATABASE_URL" {
			continue
		}
		v = strings.TrimSpace(v)
		if err := checkDatabaseURL(v); err != nil {
			return "", fmt.Errorf("DATABASE_URL: %w", err)
		}
		return v, nil
	}
	return "", sc.Err()
}
