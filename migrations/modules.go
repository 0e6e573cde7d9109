package migrations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain/module"
)

// ModuleMigrations is one product module's tenant migrations: files named NNNN_name.sql,
// numbered within the module. They are applied to every tenant's schema by the same
// functions, with the same checks, as Tenantry's own.
type ModuleMigrations struct {
	// Module is the module's name (module.Module.Name); never module.Core.
	Module string
	// FS holds the files at its top level; nil means the module has none.
	FS fs.FS
}

// ModulesOf is the tenant migrations of mods, in their order (modules without migrations
// are left out). The order matters only for modules whose new migrations ship together: it
// is the order they are recorded in.
func ModulesOf(mods []module.Module) []ModuleMigrations {
	var out []ModuleMigrations
	for _, m := range mods {
		if m.Migrations != nil {
			out = append(out, ModuleMigrations{Module: m.Name, FS: m.Migrations})
		}
	}
	return out
}

var (
	// ErrTenantMigrationEdited means a shipped tenant migration's text changed.
	ErrTenantMigrationEdited = errors.New("differs from the one already applied")
	// ErrTenantMigrationOutOfOrder means a new tenant migration is numbered below one of
	// its module's already recorded: existing schemas would never run it.
	ErrTenantMigrationOutOfOrder = errors.New("tenant migration added below its module's latest")
)

// RecordedTenantMigration is one tenant migration a sync recorded.
type RecordedTenantMigration struct {
	Module  string
	Version int // within the module (the file's number)
	Name    string
	Order   int // the global version every tenant schema applies it at
}

// tenantSync says what syncTenantMigrations found and did.
type tenantSync struct {
	Latest int // the highest global version recorded
	Added  []RecordedTenantMigration
}

// moduleFile is one tenant migration file of a module (module.Core for Tenantry's own).
type moduleFile struct {
	module string
	TenantMigration
	sum [sha256.Size]byte
}

// loadTenantFiles reads Tenantry's tenant migrations (core; nil means the embedded ones)
// and then each module's, every set in its file order.
func loadTenantFiles(core fs.FS, mods []ModuleMigrations) ([]moduleFile, error) {
	if core == nil {
		core = TenantFS()
	}
	sets := append([]ModuleMigrations{{Module: module.Core, FS: core}}, mods...)
	seen := map[string]bool{}
	var out []moduleFile
	for i, set := range sets {
		if i > 0 {
			if err := (module.Module{Name: set.Module}).Validate(); err != nil {
				return nil, fmt.Errorf("tenant migrations: %w", err)
			}
			if set.Module == module.Core {
				return nil, fmt.Errorf("tenant migrations of module %q: the name is Tenantry's own; a module needs its own name", set.Module)
			}
		}
		if seen[set.Module] {
			return nil, fmt.Errorf("tenant migrations of module %s given twice", set.Module)
		}
		seen[set.Module] = true
		if set.FS == nil {
			continue
		}
		ms, err := LoadTenantMigrations(set.FS)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", set.Module, err)
		}
		for _, m := range ms {
			out = append(out, moduleFile{module: set.Module, TenantMigration: m, sum: sha256.Sum256([]byte(m.SQL))})
		}
	}
	return out, nil
}

// recordedTenantMigrations is what tenantry.tenant_migrations holds, by module and number.
type recordedTenantMigrations struct {
	sums    map[moduleKey][]byte
	highest map[string]int // each module's highest number
	latest  int            // the highest global version
}

type moduleKey struct {
	module  string
	version int
}

func readRecorded(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (recordedTenantMigrations, error) {
	rec := recordedTenantMigrations{sums: map[moduleKey][]byte{}, highest: map[string]int{}}
	rows, err := q.Query(ctx, `SELECT module, module_version, version, checksum FROM tenantry.tenant_migrations`)
	if err != nil {
		return rec, fmt.Errorf("read recorded tenant migrations: %w", err)
	}
	var k moduleKey
	var version int
	var sum []byte
	_, err = pgx.ForEachRow(rows, []any{&k.module, &k.version, &version, &sum}, func() error {
		rec.sums[k] = sum
		rec.highest[k.module] = max(rec.highest[k.module], k.version)
		rec.latest = max(rec.latest, version)
		return nil
	})
	if err != nil {
		return rec, fmt.Errorf("read recorded tenant migrations: %w", err)
	}
	return rec, nil
}

// missing returns the files not yet recorded, after checking that every recorded one is
// unchanged and that no new one is numbered below its module's latest recorded.
func (rec recordedTenantMigrations) missing(files []moduleFile) ([]moduleFile, error) {
	var out []moduleFile
	for _, f := range files {
		sum, ok := rec.sums[moduleKey{f.module, f.Version}]
		switch {
		case ok && !bytes.Equal(sum, f.sum[:]):
			return nil, fmt.Errorf("tenant migration %04d_%s of module %s %w; ship a new migration instead of editing it",
				f.Version, f.Name, f.module, ErrTenantMigrationEdited)
		case ok:
		case f.Version < rec.highest[f.module]:
			return nil, fmt.Errorf("%w: module %s's %04d_%s.sql is new but %04d is already recorded, so existing tenant schemas "+
				"would never run it; number it after %04d", ErrTenantMigrationOutOfOrder, f.module, f.Version, f.Name,
				rec.highest[f.module], rec.highest[f.module])
		default:
			out = append(out, f)
		}
	}
	return out, nil
}

// ErrTenantMigrationRefused says a new tenant migration failed on a trial schema (see
// trialTenantSchema): nothing of this build's new files was recorded.
var ErrTenantMigrationRefused = errors.New("a new tenant migration does not apply to a new tenant's schema, so none of the new files was recorded")

// trialTenantSchema applies every recorded tenant migration, in this transaction, to a
// throwaway schema, with all the checks a real tenant's schema gets, and then undoes it.
// Run just after new files are recorded, it refuses (and so rolls back the recording of) a
// file that cannot apply to a new tenant: once recorded, such a file would stop every new
// tenant's provisioning until an operator removed its row. Failures that depend on a
// schema's data still show per schema, in MigrateTenants' report.
func trialTenantSchema(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SAVEPOINT trial_tenant_schema`); err != nil {
		return err
	}
	// A name no tenant has (a random uuid), of the shape the checks accept.
	schema := "tenant_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()+` AUTHORIZATION `+OwnerRole); err != nil {
		return fmt.Errorf("create a trial tenant schema: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT tenantry.apply_tenant_migrations($1, 0)`, schema); err != nil {
		return fmt.Errorf("%w: %w", ErrTenantMigrationRefused, err)
	}
	_, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT trial_tenant_schema`)
	return err
}

// syncTenantMigrations records this build's tenant migrations (Tenantry's own, core, then
// each module's) in tenantry.tenant_migrations, where tenantry.migrate_tenant_schema reads
// them. A file already recorded must be unchanged; a new one is appended to the global
// order. With nothing new it is one query; otherwise concurrent syncs take turns on the
// table's lock (readers, such as tenant provisioning, are not blocked).
func syncTenantMigrations(ctx context.Context, conn *pgx.Conn, core fs.FS, mods []ModuleMigrations) (tenantSync, error) {
	files, err := loadTenantFiles(core, mods)
	if err != nil {
		return tenantSync{}, err
	}
	rec, err := readRecorded(ctx, conn)
	if err != nil {
		return tenantSync{}, err
	}
	todo, err := rec.missing(files)
	if err != nil || len(todo) == 0 {
		return tenantSync{Latest: rec.latest}, err
	}
	var res tenantSync
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE tenantry.tenant_migrations IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock tenant migrations: %w", err)
		}
		rec, err := readRecorded(ctx, tx) // another sync may have recorded some meanwhile
		if err != nil {
			return err
		}
		todo, err := rec.missing(files)
		if err != nil {
			return err
		}
		res.Latest = rec.latest
		for _, f := range todo {
			res.Latest++
			if _, err := tx.Exec(ctx, `INSERT INTO tenantry.tenant_migrations (version, module, module_version, name, sql, checksum)
				VALUES ($1, $2, $3, $4, $5, $6)`, res.Latest, f.module, f.Version, f.Name, f.SQL, f.sum[:]); err != nil {
				return fmt.Errorf("record tenant migration %04d_%s of module %s: %w", f.Version, f.Name, f.module, err)
			}
			res.Added = append(res.Added, RecordedTenantMigration{Module: f.module, Version: f.Version, Name: f.Name, Order: res.Latest})
		}
		return trialTenantSchema(ctx, tx)
	})
	if err != nil {
		return tenantSync{}, err
	}
	return res, nil
}
