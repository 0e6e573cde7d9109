package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// decode parses a JSON body strictly into dst: one JSON object, known fields only, the
// right types. It answers 400 itself and reports false when the body is not acceptable.
func decode(c *gin.Context, body []byte, dst any) bool {
	if err := decodeJSON(body, dst); err != nil {
		var fe *fieldErr
		if errors.As(err, &fe) {
			fail(c, http.StatusBadRequest, "malformed-json", fe.Error(), FieldError{Field: fe.field, Message: fe.msg})
			return false
		}
		fail(c, http.StatusBadRequest, "malformed-json", err.Error())
		return false
	}
	return true
}

type fieldErr struct{ field, msg string }

func (e *fieldErr) Error() string { return e.field + ": " + e.msg }

// decodeJSON is decode without the response, for tests and fuzzing.
func decodeJSON(body []byte, dst any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return errors.New("a JSON object body is required")
	}
	if trimmed[0] != '{' {
		return errors.New("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return fmt.Errorf("the body is not valid JSON (at byte %d)", syntax.Offset)
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				field = "body"
			}
			return &fieldErr{field: field, msg: "must be a JSON " + jsonKind(typ.Type.Kind().String())}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &fieldErr{field: clipName(name), msg: "is not a field of this request"}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("the body is not valid JSON (it ends too early)")
		default:
			return errors.New("the body is not valid JSON for this request")
		}
	}
	if dec.More() {
		return errors.New("the body must hold exactly one JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("the body must hold exactly one JSON object")
	}
	if key, ok := repeatedKey(trimmed); ok {
		return &fieldErr{field: clipName(key), msg: "is given more than once (keys are matched without case)"}
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	default:
		return "object"
	}
}
