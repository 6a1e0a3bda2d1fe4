package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"accounts/internal/account"
	"accounts/internal/database"
)

// auditCommand is `accounts audit`: the operators' view of the audit
// trail, read with the service's database configuration.
func (a *app) auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail of account changes"}
	cmd.AddCommand(a.auditListCommand())
	return cmd
}

func (a *app) auditListCommand() *cobra.Command {
	var actor, target, since, until string
	var f account.AuditFilter
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit events, newest first",
		Long: "List audit events, newest first. --actor and --target take a user id or a username; " +
			"--since and --until an RFC 3339 time. Actions: " + strings.Join(account.AuditActions, ", ") + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if f.Since, err = timeFlag("since", since); err != nil {
				return err
			}
			if f.Until, err = timeFlag("until", until); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := database.Open(ctx, a.cfg.Database, a.log)
			if err != nil {
				return err
			}
			defer db.Close()
			op := account.NewUsers(db, nil).Operator()
			if f.ActorID, err = userFlag(ctx, op, actor); err != nil {
				return describe(err)
			}
			if f.TargetID, err = userFlag(ctx, op, target); err != nil {
				return describe(err)
			}
			page, err := account.NewAudit(db).List(ctx, f)
			if err != nil {
				return describe(err)
			}
			return printAudit(cmd, page, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&actor, "actor", "", "only events made by this user (id or username)")
	fl.StringVar(&target, "target", "", "only events on this user (id or username)")
	fl.StringVar(&f.Action, "action", "", "only events of this action, such as user.deactivated")
	fl.StringVar(&since, "since", "", "only events at or after this RFC 3339 time")
	fl.StringVar(&until, "until", "", "only events before this RFC 3339 time")
	fl.IntVar(&f.Limit, "limit", 50, "events per page, 1-100")
	fl.StringVar(&f.After, "after", "", "the next-page cursor printed by an earlier call")
	fl.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

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
	fmt.Fprintln(tw, "TIME\tACTION\tACTOR\tTARGET\tREQUEST\tCLIENT\tDETAILS")
	for _, e := range page.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.OccurredAt.UTC().Format(time.RFC3339), e.Action,
			e.ActorName, e.TargetName, dash(e.RequestID), dash(e.ClientAddress), details(e.Details))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		_, err := fmt.Fprintf(out, "more: --after %s\n", page.NextCursor)
		return err
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func details(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return dash(strings.Join(parts, " "))
}
