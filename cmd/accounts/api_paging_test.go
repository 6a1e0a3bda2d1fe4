package main

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
)

// pagedListJSON is a listing page with the keyset fields.
type pagedListJSON struct {
	Users      []userJSON `json:"users"`
	Total      int        `json:"total"`
	TotalExact bool       `json:"total_exact"`
	Offset     int        `json:"offset"`
	NextCursor string     `json:"next_cursor"`
}

// TestListKeysetPaging follows next_cursor through GET /users page by page,
// in both orders, and checks that the pages join up to exactly the listing
// one large page gives (no user lost or repeated at a page boundary), that
// the last page has no cursor, and that a cursor is refused with an
// offset, in another sort or order, or when it is not one. Every answer is
// also checked against the OpenAPI document by the harness.
func TestListKeysetPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, _ := s.as(nil, "super_admin", "root1")
	for i := range 11 {
		r := root.do("POST", "/api/v1/users", map[string]string{"username": fmt.Sprintf("paged%02d", i), "password": "member-password"})
		expect(t, r, 201)
	}
	list := func(query string) (pagedListJSON, *response) {
		t.Helper()
		r := root.do("GET", "/api/v1/users?"+query, nil)
		var l pagedListJSON
		if r.StatusCode == 200 {
			r.json(t, &l)
		}
		return l, r
	}
	ids := func(us []userJSON) (out []string) {
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	for _, order := range []string{"asc", "desc"} {
		all, r := list("sort=created_at&limit=100&order=" + order)
		expect(t, r, 200)
		if len(all.Users) != 12 || all.Total != 12 || !all.TotalExact || all.NextCursor != "" {
			t.Fatalf("%s: one page: %d users, total %d exact %v, cursor %q", order, len(all.Users), all.Total, all.TotalExact, all.NextCursor)
		}
		var got []userJSON
		query := "sort=created_at&limit=5&order=" + order
		for pages := 1; ; pages++ {
			l, r := list(query)
			expect(t, r, 200)
			if l.Total != 12 || l.Offset != 0 {
				t.Fatalf("%s page %d: total %d offset %d", order, pages, l.Total, l.Offset)
			}
			got = append(got, l.Users...)
			if l.NextCursor == "" {
				if pages != 3 {
					t.Fatalf("%s: %d pages of 5 for 12 users", order, pages)
				}
				break
			}
			query = "sort=created_at&limit=5&order=" + order + "&after=" + url.QueryEscape(l.NextCursor)
		}
		if !slices.Equal(ids(got), ids(all.Users)) {
			t.Fatalf("%s: cursor pages %v, one page %v", order, ids(got), ids(all.Users))
		}
	}

	// An offset page gives a cursor too, so a client can switch to keyset
	// paging anywhere; the page after it is the next offset page.
	third, _ := list("sort=username&limit=3&offset=3")
	next, _ := list("sort=username&limit=3&after=" + url.QueryEscape(third.NextCursor))
	byOffset, _ := list("sort=username&limit=3&offset=6")
	if !slices.Equal(ids(next.Users), ids(byOffset.Users)) {
		t.Fatalf("after an offset page: %v, offset 6: %v", ids(next.Users), ids(byOffset.Users))
	}

	first, _ := list("sort=created_at&limit=2")
	c := url.QueryEscape(first.NextCursor)
	for _, q := range []string{
		"sort=created_at&limit=2&after=not-a-cursor",
		"sort=username&limit=2&after=" + c,
		"sort=created_at&order=desc&limit=2&after=" + c,
		"sort=created_at&limit=2&offset=2&after=" + c,
	} {
		_, r := list(q)
		expect(t, r, 422, "validation_failed")
		if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "after" {
			t.Fatalf("%s: %s", q, r.body)
		}
	}
}
