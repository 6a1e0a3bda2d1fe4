package account

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"accounts/ent"
	"accounts/ent/auditevent"
	"accounts/ent/predicate"
	"accounts/ent/schema"
	"accounts/internal/database"
)

// AuditEvent is one row of the audit trail.
type AuditEvent struct {
	ID         uuid.UUID `json:"id"`
	OccurredAt time.Time `json:"occurred_at"`
	Action     string    `json:"action"`
	// ActorID is the acting user; nil for the command line, whose operator
	// is in ActorName ("cli:user@host").
	ActorID       *uuid.UUID `json:"actor_id"`
	ActorName     string     `json:"actor_name"`
	TargetID      *uuid.UUID `json:"target_id"`
	TargetName    string     `json:"target_name"`
	RequestID     string     `json:"request_id"`
	ClientAddress string     `json:"client_address"`
	// Details is never nil, so that JSON shows an empty object. Its values
	// are strings, numbers and booleans (JSON's types; rows written before
	// hold strings only).
	Details map[string]any `json:"details"`
}

// AuditFilter selects one page of the audit trail, newest first.
type AuditFilter struct {
	// Limit is the page size, 1–100.
	Limit int
	// ActorID and TargetID, when set, keep the events of that user.
	ActorID, TargetID *uuid.UUID
	// Action, when set, is one of AuditActions.
	Action string
	// Since (inclusive) and Until (exclusive), when set, bound the time.
	Since, Until time.Time
	// After is the NextCursor of an earlier page with the same filter.
	After string
}

// AuditPage is one page of the audit trail.
type AuditPage struct {
	Events []AuditEvent
	// NextCursor is the position after the last event, for
	// AuditFilter.After; empty when no older event matches.
	NextCursor string
}

// Audit reads and purges the audit trail. Nothing in the service updates
// or deletes a row otherwise (the schema's hook refuses it).
type Audit struct{ client *ent.Client }

// NewAudit returns the audit service on db.
func NewAudit(db *database.DB) *Audit { return &Audit{client: db.Ent} }

type auditCursor struct {
	At time.Time `json:"t"`
	ID uuid.UUID `json:"id"`
}

// Validate checks what the command line gives List: the limit and the
// action, which openapi.yaml states for the API, and the rules of Read.
func (f AuditFilter) Validate() error {
	var fe fieldErrors
	if f.Limit < 1 || f.Limit > 100 {
		fe.add("limit", "must be between 1 and 100")
	}
	if f.Action != "" && !validAuditAction(f.Action) {
		fe.add("action", "must be one of the audit actions (docs/operations.md: The audit trail)")
	}
	f.checkRead(&fe)
	return fe.err()
}

// checkRead adds the rules no schema can state: the order of since and
// until, and a cursor that an earlier page gave.
func (f AuditFilter) checkRead(fe *fieldErrors) {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		fe.add("until", "must be after since")
	}
	if f.After != "" {
		if _, err := decodeAuditCursor(f.After); err != nil {
			fe.add("after", "must be a next_cursor of an earlier page")
		}
	}
}

func validAuditAction(a string) bool {
	for _, x := range AuditActions {
		if x == a {
			return true
		}
	}
	return false
}

func decodeAuditCursor(s string) (auditCursor, error) {
	var c auditCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}

// List returns one page of the audit trail for the command line, which
// has no document in front of it: it checks the whole filter (Validate).
func (a *Audit) List(ctx context.Context, f AuditFilter) (AuditPage, error) {
	if err := f.Validate(); err != nil {
		return AuditPage{}, err
	}
	return a.page(ctx, f)
}

// Read returns one page of the audit trail for the API: the caller is
// authorized (ActionReadAudit) and openapi.yaml has checked the limit and
// the action, so Read checks only what no schema can state.
func (a *Audit) Read(ctx context.Context, f AuditFilter) (AuditPage, error) {
	var fe fieldErrors
	if f.checkRead(&fe); fe.err() != nil {
		return AuditPage{}, fe.err()
	}
	return a.page(ctx, f)
}

// page reads one page of the audit trail, newest first, with keyset
// paging on (occurred_at, id), which ix_audit_events_occurred_at_id serves.
func (a *Audit) page(ctx context.Context, f AuditFilter) (AuditPage, error) {
	var where []predicate.AuditEvent
	if f.ActorID != nil {
		where = append(where, auditevent.ActorID(*f.ActorID))
	}
	if f.TargetID != nil {
		where = append(where, auditevent.TargetID(*f.TargetID))
	}
	if f.Action != "" {
		where = append(where, auditevent.Action(f.Action))
	}
	if !f.Since.IsZero() {
		where = append(where, auditevent.OccurredAtGTE(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, auditevent.OccurredAtLT(f.Until))
	}
	if f.After != "" {
		c, _ := decodeAuditCursor(f.After) // checkRead checked it
		where = append(where, func(s *entsql.Selector) {
			s.Where(entsql.P(func(b *entsql.Builder) {
				b.WriteString("(").Ident(s.C(auditevent.FieldOccurredAt)).Comma().Ident(s.C(auditevent.FieldID)).
					WriteString(") < (").Arg(c.At).Comma().Arg(c.ID).WriteString(")")
			}))
		})
	}
	rows, err := a.client.AuditEvent.Query().Where(where...).
		Order(auditevent.ByOccurredAt(entsql.OrderDesc()), auditevent.ByID(entsql.OrderDesc())).
		Limit(f.Limit + 1).
		All(ctx)
	if err != nil {
		return AuditPage{}, storageError(err, "")
	}
	page := AuditPage{Events: make([]AuditEvent, 0, min(len(rows), f.Limit))}
	for _, r := range rows[:min(len(rows), f.Limit)] {
		if r.Details == nil {
			r.Details = map[string]any{}
		}
		page.Events = append(page.Events, AuditEvent{ID: r.ID, OccurredAt: r.OccurredAt.UTC(), Action: r.Action,
			ActorID: r.ActorID, ActorName: r.ActorName, TargetID: r.TargetID, TargetName: r.TargetName,
			RequestID: r.RequestID, ClientAddress: r.ClientAddress, Details: r.Details})
	}
	if len(rows) > f.Limit {
		last := page.Events[len(page.Events)-1]
		b, _ := json.Marshal(auditCursor{At: last.OccurredAt, ID: last.ID})
		page.NextCursor = base64.RawURLEncoding.EncodeToString(b)
	}
	return page, nil
}

// Purge deletes up to batch events that occurred before before, and
// returns how many it deleted. Like the session purge it skips rows
// another replica's purge holds.
func (a *Audit) Purge(ctx context.Context, before time.Time, batch int) (int, error) {
	n, err := a.client.AuditEvent.Delete().
		Where(database.PurgeBatch(auditevent.Table, auditevent.FieldID, entsql.LT(auditevent.FieldOccurredAt, before), batch)).
		Exec(schema.AuditPurgeContext(ctx))
	return n, storageError(err, "")
}
