package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
)

// maxSmallObject is how many keys of one object repeatedKey compares pairwise; beyond, it
// keeps them in a map.
const maxSmallObject = 16

// repeatedKey answers the first key of body that repeats within its object, compared as
// encoding/json matches keys to fields: without case (bytes.EqualFold on the unescaped
// key). body is one valid JSON value (decodeJSON has decoded it). encoding/json takes the
// last of two such keys, so {"metric":"a","Metric":"b"} would be read as metric b while
// whatever read the body before (a proxy, a log, a client's own check) saw a: such a body
// is refused instead. Its cost is one pass over body, allocation-free for objects of up to
// maxSmallObject keys without escapes.
func repeatedKey(body []byte) (string, bool) {
	type object struct {
		keys [][]byte
		big  map[string]struct{}
	}
	var stack []object
	i := 0
	for i < len(body) {
		switch c := body[i]; c {
		case '{':
			stack = append(stack, object{})
			i++
		case '}':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i++
		case '"':
			end := stringEnd(body, i)
			if len(stack) == 0 || !isKey(body, end) {
				i = end
				continue
			}
			key := body[i+1 : end-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				var s string
				if json.Unmarshal(body[i:end], &s) == nil {
					key = []byte(s)
				}
			}
			o := &stack[len(stack)-1]
			if o.big == nil && len(o.keys) < maxSmallObject {
				for _, k := range o.keys {
					if bytes.EqualFold(k, key) {
						return string(key), true
					}
				}
				o.keys = append(o.keys, key)
			} else {
				if o.big == nil {
					o.big = make(map[string]struct{}, 2*maxSmallObject)
					for _, k := range o.keys {
						o.big[fold(k)] = struct{}{}
					}
				}
				f := fold(key)
				if _, seen := o.big[f]; seen {
					return string(key), true
				}
				o.big[f] = struct{}{}
			}
			i = end
		default:
			i++
		}
	}
	return "", false
}

// stringEnd is the index just past the JSON string that starts at body[i].
func stringEnd(body []byte, i int) int {
	for j := i + 1; j < len(body); j++ {
		switch body[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(body)
}

// isKey reports whether the string that ends before body[end] is an object's key: a colon
// follows it.
func isKey(body []byte, end int) bool {
	for ; end < len(body); end++ {
		switch body[end] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// fold is key in a form equal for keys bytes.EqualFold finds equal (upper then lower case
// maps the special folds, the Kelvin sign and the long s, to their ASCII letters).
func fold(key []byte) string { return strings.ToLower(strings.ToUpper(string(key))) }
