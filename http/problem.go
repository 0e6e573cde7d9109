package httpapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// ProblemBase prefixes every problem type: the type of a suspended tenant's refusal is
// ProblemBase + "tenant-suspended".
const ProblemBase = api.ProblemBase

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem = api.Problem

// FieldError names one bad input.
type FieldError = api.FieldError

// problemTitles is every problem type the API answers with, and its title.
var problemTitles = map[string]string{
	"invalid-request":        "The request is not valid",
	"malformed-json":         "The request body is not valid JSON for this operation",
	"unsupported-media-type": "The request body must be application/json",
	"payload-too-large":      "The request body is too large",
	"unauthenticated":        "Authentication is required",
	"forbidden":              "Not allowed",
	"tenant-suspended":       "The tenant is suspended",
	"tenant-closed":          "The tenant is closed",
	"not-found":              "Not found",
	"method-not-allowed":     "Method not allowed",
	"conflict":               "The request conflicts with the current state",
	"limit-exceeded":         "A plan limit would be exceeded",
	"quota-exceeded":         "A hard usage quota of the plan would be exceeded",
	"idempotency-key-reused": "The Idempotency-Key was used with a different request",
	"request-in-progress":    "A request with this Idempotency-Key is still in progress",
	"rate-limited":           "Too many requests",
	"unavailable":            "The service is temporarily unavailable",
	"tenant-unavailable":     "The tenant's authorisation state cannot be brought up to date",
	"usage-unavailable":      "The tenant's usage read model is stopped",
	"read-model-unavailable": "A read model of the tenant is stopped",
	"entitlements-behind":    "The entitlements have not caught up yet",
	"internal":               "Internal error",
}

// fail answers with a problem and stops the handler chain.
func fail(c *gin.Context, status int, kind, detail string, errs ...FieldError) {
	title, ok := problemTitles[kind]
	if !ok {
		kind, title = "internal", problemTitles["internal"]
	}
	writeProblem(c, Problem{Type: ProblemBase + kind, Title: title, Status: status, Detail: detail, Errors: errs})
}

// writeProblem answers p (its instance and request id filled in) and stops the chain.
func writeProblem(c *gin.Context, p Problem) {
	status := p.Status
	p.Instance, p.RequestID = c.Request.URL.Path, requestID(c)
	c.Header("Content-Type", "application/problem+json")
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="tenantry"`)
	}
	c.Abort()
	c.Status(status)
	body, _ := jsonMarshal(p)
	_, _ = c.Writer.Write(body)
}

// failErr answers for an error from the domain or below: domain rule violations map by
// code (one table); anything else is logged and shown as a plain internal error.
func (s *Server) failErr(c *gin.Context, err error) {
	var many domain.Invalids
	if errors.As(err, &many) && len(many) > 1 {
		// Malformed fields make it a 400; only fields over plan limits make it a 422.
		status, kind := http.StatusUnprocessableEntity, "limit-exceeded"
		errs := make([]FieldError, len(many))
		for i, e := range many {
			errs[i] = FieldError{Field: e.Field, Message: e.Message}
			if e.Code != domain.CodeLimit {
				status, kind = http.StatusBadRequest, "invalid-request"
			}
		}
		fail(c, status, kind, fmt.Sprintf("%d fields are invalid; errors lists them", len(many)), errs...)
		return
	}
	var de *domain.Error
	if errors.As(err, &de) {
		var errs []FieldError
		if de.Field != "" {
			errs = []FieldError{{Field: de.Field, Message: de.Message}}
		}
		switch de.Code {
		case domain.CodeInvalid:
			fail(c, http.StatusBadRequest, "invalid-request", de.Message, errs...)
		case domain.CodeConflict:
			fail(c, http.StatusConflict, "conflict", de.Message)
		case domain.CodeNotFound:
			fail(c, http.StatusNotFound, "not-found", de.Message)
		case domain.CodeForbidden:
			fail(c, http.StatusForbidden, "forbidden", de.Message)
		case domain.CodeLimit:
			fail(c, http.StatusUnprocessableEntity, "limit-exceeded", de.Message, errs...)
		case domain.CodeQuota:
			failQuota(c, err, de)
		default:
			s.internal(c, err)
		}
		return
	}
	if errors.Is(err, errTenantUnavailable) || errors.Is(err, eventstore.ErrProjectionStopped) {
		s.failStopped(c, err)
		return
	}
	if errors.Is(err, errRequestCanceled) || c.Request.Context().Err() != nil {
		fail(c, http.StatusServiceUnavailable, "unavailable", "the request was canceled")
		return
	}
	s.internal(c, err)
}

// errTenantUnavailable means the tenant's auth projection is stopped: its API keys,
// members, status and plan cannot be brought up to date, so none of them is trusted.
var errTenantUnavailable = errors.New("the tenant's auth projection is stopped")

// errAuthBehind is errTenantUnavailable while the auth projection is only behind: it has
// not applied an event recorded longer ago than Deps.AuthLagBound.
var errAuthBehind = fmt.Errorf("%w: its auth projection is behind its events beyond the bound", errTenantUnavailable)

// failStopped answers for a stopped projection (err wraps eventstore.ErrProjectionStopped
// or is errTenantUnavailable): 503, failing closed for authorisation state.
func (s *Server) failStopped(c *gin.Context, err error) {
	var stopped *eventstore.StoppedError
	if errors.Is(err, errAuthBehind) {
		fail(c, http.StatusServiceUnavailable, "tenant-unavailable", fmt.Sprintf(
			"this tenant's API keys, members and status are not up to date (an event recorded more than %s ago is not "+
				"applied yet); requests for it are refused until they catch up", s.d.AuthLagBound))
		return
	}
	if errors.Is(err, errTenantUnavailable) || errors.As(err, &stopped) && stopped.Projection == eventstore.ProjectionAuth {
		fail(c, http.StatusServiceUnavailable, "tenant-unavailable",
			"this tenant's API keys, members and status cannot be brought up to date (an event could not be applied); "+
				"requests for it are refused until an operator repairs it")
		return
	}
	fail(c, http.StatusServiceUnavailable, "usage-unavailable",
		"this tenant's usage read model is stopped on an event it cannot apply; usage is still recorded and "+
			"will be counted once an operator repairs it")
}

// internal logs err with the request and tenant ids and answers 500 without details.
func (s *Server) internal(c *gin.Context, err error) {
	s.logger(c).Error("request failed", "err", err)
	fail(c, http.StatusInternalServerError, "internal", "internal error; quote the request id when reporting it")
}

var errRequestCanceled = errors.New("request canceled")

// retryAfter sets Retry-After to d in whole seconds, rounded up, at least 1.
func retryAfter(c *gin.Context, d time.Duration) {
	c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// failQuota answers usage refused for a hard quota: 403 quota-exceeded, naming the metric,
// the quota, the usage so far and when the period ends (when the next one starts afresh).
func failQuota(c *gin.Context, err error, de *domain.Error) {
	p := Problem{Type: ProblemBase + "quota-exceeded", Title: problemTitles["quota-exceeded"], Status: http.StatusForbidden, Detail: de.Message}
	var q *domain.QuotaExceeded
	if errors.As(err, &q) {
		p.Quota = &api.QuotaExceeded{Metric: q.Metric, Quota: q.Quota, Used: q.Used, Reading: q.Reading,
			PeriodStart: q.Period.UTC(), PeriodEnd: q.Period.UTC().AddDate(0, 1, 0)}
	}
	writeProblem(c, p)
}
