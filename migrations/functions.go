package migrations

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// baselineVersion is the last migration that runs before the function files: the tables
// they work on exist from it on, and every later migration may use any function.
const baselineVersion = 1

// functionsLockID keys the transaction-scoped advisory lock that serialises function steps
// of concurrent migrate runs (goose's own lock is released between its runs).
const functionsLockID = lockID + 1

// FunctionsFS is the embedded function files: one file per database function, named after
// it, holding its current CREATE OR REPLACE definition and its grants.
func FunctionsFS() fs.FS {
	sub, err := fs.Sub(shared, "functions")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// functionFile is one function file and its SHA-256.
type functionFile struct {
	name string
	sql  string
	sum  [32]byte
}

func readFunctionFiles(fsys fs.FS) ([]functionFile, error) {
	paths, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list function files: %w", err)
	}
	sort.Strings(paths)
	files := make([]functionFile, 0, len(paths))
	for _, p := range paths {
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read function file %s: %w", p, err)
		}
		files = append(files, functionFile{name: strings.TrimSuffix(path.Base(p), ".sql"), sql: string(b), sum: sha256.Sum256(b)})
	}
	return files, nil
}

// applyFunctions runs each function file whose checksum differs from the one recorded in
// tenantry.function_versions, and records the new checksums, in one transaction under an
// advisory lock: concurrent migrate runs take turns, and the second finds nothing to do.
// Files run as tenantry_owner with check_function_bodies off (as a pg_dump restore does),
// so their order does not matter and a body may name what a later migration creates; the
// tests call every function. It returns the names of the files it applied.
func applyFunctions(ctx context.Context, conn *pgx.Conn, fsys fs.FS) ([]string, error) {
	files, err := readFunctionFiles(fsys)
	if err != nil {
		return nil, err
	}
	var applied []string
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+OwnerRole); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL check_function_bodies = off"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(functionsLockID)); err != nil {
			return fmt.Errorf("lock function versions: %w", err)
		}
		stored, err := storedFunctionSums(ctx, tx)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(files))
		for _, f := range files {
			names = append(names, f.name)
			if sum, ok := stored[f.name]; ok && sum == f.sum {
				continue
			}
			if _, err := tx.Exec(ctx, f.sql); err != nil {
				return fmt.Errorf("apply function file %s.sql: %w", f.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO tenantry.function_versions (name, sha256) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, applied_at = now()`, f.name, f.sum[:]); err != nil {
				return fmt.Errorf("record function file %s.sql: %w", f.name, err)
			}
			applied = append(applied, f.name)
		}
		// A file removed with its function (by a migration's DROP FUNCTION) leaves no row.
		_, err = tx.Exec(ctx, "DELETE FROM tenantry.function_versions WHERE name <> ALL ($1)", names)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("apply database functions: %w", err)
	}
	return applied, nil
}

func storedFunctionSums(ctx context.Context, tx pgx.Tx) (map[string][32]byte, error) {
	rows, err := tx.Query(ctx, "SELECT name, sha256 FROM tenantry.function_versions")
	if err != nil {
		return nil, fmt.Errorf("read function versions: %w", err)
	}
	stored := map[string][32]byte{}
	var name string
	var sum []byte
	_, err = pgx.ForEachRow(rows, []any{&name, &sum}, func() error {
		stored[name] = [32]byte(sum)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read function versions: %w", err)
	}
	return stored, nil
}
