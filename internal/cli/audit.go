package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"accounts/internal/account"
	"accounts/internal/database"
	"accounts/internal/visible"
)

// audit is `accounts audit`: the operators' view of the audit trail, read
// with the service's database configuration.
type audit struct {
	*Env
	actor, target, since, until string
	filter                      account.AuditFilter
	asJSON                      bool
}

// NewAudit returns `accounts audit` and its subcommands.
func NewAudit(env *Env) *cobra.Command {
	a := &audit{Env: env}
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail of account changes"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		Long: "List audit events, newest first. --actor and --target take a user id or a username; " +
			"--since and --until an RFC 3339 time. Actions: " + strings.Join(account.AuditActions, ", ") + ".",
		Args: cobra.NoArgs,
		RunE: a.runList,
	}
	fl := list.Flags()
	fl.StringVar(&a.actor, "actor", "", "only events made by this user (id or username)")
	fl.StringVar(&a.target, "target", "", "only events on this user (id or username)")
	fl.StringVar(&a.filter.Action, "action", "", "only events of this action, such as user.deactivated")
	fl.StringVar(&a.since, "since", "", "only events at or after this RFC 3339 time")
	fl.StringVar(&a.until, "until", "", "only events before this RFC 3339 time")
	fl.IntVar(&a.filter.Limit, "limit", 50, "events per page, 1-100")
	fl.StringVar(&a.filter.After, "after", "", "the next-page cursor printed by an earlier call")
	fl.BoolVar(&a.asJSON, "json", false, "print JSON instead of a table")
	cmd.AddCommand(list)
	return cmd
}

func (a *audit) runList(cmd *cobra.Command, _ []string) error {
	f := a.filter
	var err error
	if f.Since, err = timeFlag("since", a.since); err != nil {
		return err
	}
	if f.Until, err = timeFlag("until", a.until); err != nil {
		return err
	}
	ctx := cmd.Context()
	db, err := database.Open(ctx, a.Config.Database, a.Log)
	if err != nil {
		return err
	}
	defer db.Close()
	op := account.NewUsers(db, nil).Operator()
	if f.ActorID, err = userFlag(ctx, op, a.actor); err != nil {
		return describe(err)
	}
	if f.TargetID, err = userFlag(ctx, op, a.target); err != nil {
		return describe(err)
	}
	page, err := account.NewAudit(db).List(ctx, f)
	if err != nil {
		return describe(err)
	}
	return printAudit(cmd, page, a.asJSON)
}

// timeFlag parses the RFC 3339 time of flag name; "" is no bound.
func timeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s must be an RFC 3339 time such as 2026-11-30T20:00:00Z, got %q", name, v)
	}
	return t, nil
}

// userFlag resolves a user id or username; "" is no filter.
func userFlag(ctx context.Context, op *account.Operator, v string) (*uuid.UUID, error) {
	if v == "" {
		return nil, nil
	}
	if id, err := uuid.Parse(v); err == nil {
		return &id, nil
	}
	u, err := op.Lookup(ctx, v)
	if err != nil {
		return nil, err
	}
	return &u.ID, nil
}

// printAudit prints a page of events as a table, or as JSON.
func printAudit(cmd *cobra.Command, page account.AuditPage, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Events     []account.AuditEvent `json:"events"`
			NextCursor string               `json:"next_cursor,omitempty"`
		}{page.Events, page.NextCursor})
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	p := &printer{w: tw}
	p.f("TIME\tACTION\tACTOR\tTARGET\tREQUEST\tCLIENT\tDETAILS\n")
	for _, e := range page.Events {
		p.f("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.OccurredAt.UTC().Format(time.RFC3339), e.Action,
			dash(e.ActorName), dash(e.TargetName), dash(e.RequestID), dash(e.ClientAddress), details(e.Details))
	}
	if err := errors.Join(p.err, tw.Flush()); err != nil {
		return err
	}
	if page.NextCursor != "" {
		_, err := fmt.Fprintf(out, "more: --after %s\n", page.NextCursor)
		return err
	}
	return nil
}

// dash is s with its invisible characters, tabs and line breaks escaped
// (visible.Text), as a table cell must be, or "-" for nothing. The audit
// trail holds what clients sent (request ids from before they had to be
// plain, for one).
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return visible.Text(s, 0)
}

// details prints an event's details as key=value pairs in key order.
func details(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + fmt.Sprint(d[k])
	}
	return dash(strings.Join(parts, " "))
}
