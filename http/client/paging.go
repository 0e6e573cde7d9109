package client

import (
	"context"
	"errors"
	"iter"

	"github.com/tenantry/tenantry/http/api"
)

// errStuckCursor is a server that answers has_more without a new cursor: following it
// would loop for ever.
var errStuckCursor = errors.New("client: the server answered has_more with no new next_cursor")

// all follows a list's next_cursor from the first page until has_more is false, yielding
// each item once. An error ends the sequence (it is yielded with a zero item); so does the
// caller's break.
func all[L, T any](ctx context.Context, limit int, fetch func(context.Context, PageParams) (L, error), split func(L) ([]T, api.Page)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		page := PageParams{Limit: limit}
		for {
			l, err := fetch(ctx, page)
			if err != nil {
				yield(zero, err)
				return
			}
			items, p := split(l)
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if !p.HasMore {
				return
			}
			if p.NextCursor == nil || *p.NextCursor == "" || *p.NextCursor == page.Cursor {
				yield(zero, errStuckCursor)
				return
			}
			page.Cursor = *p.NextCursor
		}
	}
}

// Members iterates over every member, limit per page (0: the server's default).
func (c *Client) Members(ctx context.Context, limit int, opts ...CallOption) iter.Seq2[api.Member, error] {
	return all(ctx, limit, func(ctx context.Context, p PageParams) (api.MemberList, error) {
		l, _, err := c.ListMembers(ctx, p, opts...)
		return l, err
	}, func(l api.MemberList) ([]api.Member, api.Page) { return l.Members, l.Page })
}

// Invitations iterates over every pending invitation, limit per page.
func (c *Client) Invitations(ctx context.Context, limit int, opts ...CallOption) iter.Seq2[api.Invitation, error] {
	return all(ctx, limit, func(ctx context.Context, p PageParams) (api.InvitationList, error) {
		l, _, err := c.ListInvitations(ctx, p, opts...)
		return l, err
	}, func(l api.InvitationList) ([]api.Invitation, api.Page) { return l.Invitations, l.Page })
}

// APIKeys iterates over every API key of the tenant, limit per page.
func (c *Client) APIKeys(ctx context.Context, limit int, opts ...CallOption) iter.Seq2[api.APIKey, error] {
	return all(ctx, limit, func(ctx context.Context, p PageParams) (api.APIKeyList, error) {
		l, _, err := c.ListAPIKeys(ctx, p, opts...)
		return l, err
	}, func(l api.APIKeyList) ([]api.APIKey, api.Page) { return l.APIKeys, l.Page })
}

// Tenants iterates over the whole tenant directory (operator), limit per page.
func (c *Client) Tenants(ctx context.Context, limit int, opts ...CallOption) iter.Seq2[api.TenantEntry, error] {
	return all(ctx, limit, func(ctx context.Context, p PageParams) (api.TenantList, error) {
		l, _, err := c.ListTenants(ctx, p, opts...)
		return l, err
	}, func(l api.TenantList) ([]api.TenantEntry, api.Page) { return l.Tenants, l.Page })
}

// Events iterates over the tenant's events recorded so far, in seq order, limit per page;
// to follow new ones, keep the last page's NextCursor and call ListEvents with a wait.
func (c *Client) Events(ctx context.Context, limit int, opts ...CallOption) iter.Seq2[api.FeedEvent, error] {
	return all(ctx, limit, func(ctx context.Context, p PageParams) (api.EventList, error) {
		l, _, err := c.ListEvents(ctx, p, 0, opts...)
		return l, err
	}, func(l api.EventList) ([]api.FeedEvent, api.Page) {
		return l.Items, api.Page{NextCursor: l.NextCursor, HasMore: l.HasMore}
	})
}
