// Package httpapi is Tenantry's HTTP surface (Gin): routing, tenant resolution, auth and
// handlers. Handlers only parse, authorise, call the domain or a read model, and answer.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Pinger is what readiness checks: the database the process depends on.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the server's collaborators, wired by cmd.
type Deps struct {
	Logger *slog.Logger
	DB     Pinger
}

// New builds the Gin engine with every route.
func New(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := d.DB.Ping(ctx); err != nil {
			d.Logger.Warn("readiness check failed", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "unreachable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready"})
	})
	return r
}
