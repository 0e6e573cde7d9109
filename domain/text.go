package domain

import "fmt"

// errUnset is returned when a zero value type is encoded: writing it would
// store an event that can never be decoded again.
func errUnset(kind string) error {
	return fmt.Errorf("cannot encode an unset %s", kind)
}
