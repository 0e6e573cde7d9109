package usage

import "time"

// ParseRecordTokens is ParseRecordJSON's full path, the reference its fast path is held to.
func ParseRecordTokens(data []byte, now time.Time) (Recorded, error) {
	return parseRecordTokens(data, now, nil)
}

// ParseRecordTokensFor is ParseRecordJSONFor's full path.
var ParseRecordTokensFor = parseRecordTokens
