package httpapi

import (
	"math/big"

	"github.com/tenantry/tenantry/http/api"
)

// exactInt is an integer of any size in an answer (api.ExactInt): a JSON number up to
// 2^53-1 either way, beyond it a JSON string of its decimal digits.
type exactInt = api.ExactInt

func exact(v *big.Int) exactInt { return api.Exact(v) }
