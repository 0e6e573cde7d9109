package usage

// ParseRecordTokens is ParseRecordJSON's full path, the reference its fast path is held to.
var ParseRecordTokens = parseRecordTokens
