package tenant

import "fmt"

func marshalEnum(kind, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("cannot encode an unset %s", kind)
	}
	return []byte(s), nil
}

func unmarshalEnum[T any](b []byte, parse func(string) (T, error), dst *T) error {
	v, err := parse(string(b))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}
