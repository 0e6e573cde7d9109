// Package logctx carries log attributes (tenant_id, request_id) in a context, and wraps a
// slog.Handler so that every line logged with that context carries them: code deep in a
// request or a tenant's job logs with ...Context(ctx) and need not know whose work it is.
// It sits under domain/app because its users are the use cases and the ports that call
// them (http, workers, cmd); it needs only context and log/slog, so the domain stays pure.
package logctx

import (
	"context"
	"log/slog"
	"time"
)

type key struct{}

// With returns ctx carrying args (slog key-value pairs or Attrs) in addition to the
// attributes it carries already; a later value for a key replaces an earlier one.
func With(ctx context.Context, args ...any) context.Context {
	prev := Attrs(ctx)
	r := slog.NewRecord(time.Time{}, 0, "", 0)
	r.Add(args...)
	attrs := make([]slog.Attr, 0, len(prev)+r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	for _, a := range prev {
		if !has(attrs, a.Key) {
			attrs = append(attrs, a)
		}
	}
	return context.WithValue(ctx, key{}, attrs)
}

// A Source gives a context's attributes when a line is logged, so that attributes learnt
// after the context was made (a request's tenant, once its credential is checked) need no
// new context: WithSource.
type Source interface{ LogAttrs() []slog.Attr }

// WithSource returns ctx carrying src's attributes (replacing those ctx carried).
func WithSource(ctx context.Context, src Source) context.Context {
	return context.WithValue(ctx, key{}, src)
}

// Attrs returns the attributes ctx carries.
func Attrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	switch v := ctx.Value(key{}).(type) {
	case []slog.Attr:
		return v
	case Source:
		return v.LogAttrs()
	}
	return nil
}

// NewHandler wraps h: a record logged with a context gets the context's attributes, except
// keys the record or the logger already has.
func NewHandler(h slog.Handler) slog.Handler { return &handler{next: h} }

type handler struct {
	next  slog.Handler
	bound []string // keys added by Logger.With, which the record does not show
	group bool     // a group is open: context attributes would land inside it, so skip them
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if extra := Attrs(ctx); len(extra) > 0 && !h.group {
		var present []string
		r.Attrs(func(a slog.Attr) bool {
			present = append(present, a.Key)
			return true
		})
		for _, a := range extra {
			if !contains(present, a.Key) && !contains(h.bound, a.Key) {
				r.AddAttrs(a)
			}
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	bound := append([]string(nil), h.bound...)
	for _, a := range as {
		bound = append(bound, a.Key)
	}
	return &handler{next: h.next.WithAttrs(as), bound: bound, group: h.group}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), bound: h.bound, group: true}
}

func has(attrs []slog.Attr, k string) bool {
	for _, a := range attrs {
		if a.Key == k {
			return true
		}
	}
	return false
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}
