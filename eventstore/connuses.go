package eventstore

import "github.com/jackc/pgx/v5"

// RetireAfter returns a pool AfterRelease hook that closes a connection after it has been
// used max times. A PostgreSQL backend keeps the catalog entries of every tenant schema it
// touches (about 47 KB each) and never gives them back; retiring connections by use bounds
// that memory however fast tenants are visited, where a lifetime bound alone lets a busy
// connection read thousands of schemas first.
func RetireAfter(max int) func(*pgx.Conn) bool {
	return func(c *pgx.Conn) bool {
		data := c.PgConn().CustomData()
		n, _ := data["tenantry.uses"].(int)
		n++
		data["tenantry.uses"] = n
		return max <= 0 || n < max
	}
}
