// Package pguuid lets pgx encode and scan github.com/google/uuid values in PostgreSQL's
// binary uuid format directly. Without it pgx goes through each value's string form
// (driver.Valuer, sql.Scanner), which costs a formatted string and a parse per value: a
// fifth of the CPU of the append path under load.
package pguuid

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Register adds uuid.UUID support to a connection's type map: the uuid type and its array
// type get a codec that handles uuid.UUID itself (pgx asks a codec before it falls back on
// driver.Valuer and sql.Scanner). It also maps the Go types uuid.UUID and []uuid.UUID to
// uuid and uuid[]: in the exec and simple-protocol modes (the ones that work through
// PgBouncer in transaction mode) the server describes no parameter, and pgx cannot encode
// a []uuid.UUID it has no PostgreSQL type for.
func Register(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: codec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
	m.RegisterDefaultPgType(uuid.UUID{}, "uuid")
	m.RegisterDefaultPgType([]uuid.UUID(nil), "_uuid")
}

// AfterConnect registers the support on a new connection; use it as a pool's AfterConnect.
func AfterConnect(_ context.Context, c *pgx.Conn) error {
	Register(c.TypeMap())
	return nil
}

// codec is pgtype's UUID codec, taught uuid.UUID.
type codec struct{ pgtype.UUIDCodec }

func (c codec) PlanEncode(m *pgtype.Map, oid uint32, format int16, v any) pgtype.EncodePlan {
	if _, ok := v.(uuid.UUID); ok {
		if next := c.UUIDCodec.PlanEncode(m, oid, format, value{}); next != nil {
			return encodePlan{next}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, v)
}

func (c codec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		if next := c.UUIDCodec.PlanScan(m, oid, format, (*value)(nil)); next != nil {
			return scanPlan{next}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

// value is a uuid.UUID as pgtype's UUID codec understands it.
type value uuid.UUID

func (v value) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: v, Valid: true}, nil }

func (v *value) ScanUUID(u pgtype.UUID) error {
	if !u.Valid {
		return fmt.Errorf("cannot scan NULL into *uuid.UUID")
	}
	*v = u.Bytes
	return nil
}

type encodePlan struct{ next pgtype.EncodePlan }

func (p encodePlan) Encode(v any, buf []byte) ([]byte, error) {
	return p.next.Encode(value(v.(uuid.UUID)), buf)
}

type scanPlan struct{ next pgtype.ScanPlan }

func (p scanPlan) Scan(src []byte, target any) error {
	return p.next.Scan(src, (*value)(target.(*uuid.UUID)))
}
