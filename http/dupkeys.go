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
	// The keys of the objects open at i, outermost first: starts[d] is where the object at
	// depth d begins in keys (its keys are the tail of keys while it is the innermost one:
	// the objects inside it have closed before its next key). An object with more than
	// maxSmallObject keys moves them to a map of its own, in big.
	var keyBuf [maxSmallObject][]byte
	var startBuf [8]int
	keys, starts := keyBuf[:0], startBuf[:0]
	var big map[int]map[string]struct{}
	i := 0
	for i < len(body) {
		switch body[i] {
		case '{':
			starts = append(starts, len(keys))
			i++
		case '}':
			if n := len(starts); n > 0 {
				keys, starts = keys[:starts[n-1]], starts[:n-1]
				delete(big, n-1)
			}
			i++
		case '"':
			end := stringEnd(body, i)
			if len(starts) == 0 || !isKey(body, end) {
				i = end
				continue
			}
			quoted := body[i:end]
			i = end
			key := quoted[1 : len(quoted)-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				var s string
				if json.Unmarshal(quoted, &s) == nil {
					key = []byte(s)
				}
			}
			depth := len(starts) - 1
			if m := big[depth]; m != nil {
				f := fold(key)
				if _, seen := m[f]; seen {
					return string(key), true
				}
				m[f] = struct{}{}
				continue
			}
			own := keys[starts[depth]:]
			for _, k := range own {
				if bytes.EqualFold(k, key) {
					return string(key), true
				}
			}
			if len(own) < maxSmallObject {
				keys = append(keys, key)
				continue
			}
			m := make(map[string]struct{}, 2*maxSmallObject)
			for _, k := range own {
				m[fold(k)] = struct{}{}
			}
			m[fold(key)] = struct{}{}
			if big == nil {
				big = map[int]map[string]struct{}{}
			}
			big[depth], keys = m, keys[:starts[depth]]
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
