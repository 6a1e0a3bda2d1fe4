package account

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"accounts/ent"
	entuser "accounts/ent/user"
)

// The profile fields are the optional columns of NewUser (its pointer
// fields, columns.go): what a client may set at creation it may change
// later, and nothing else. Role, activity and password have operations of
// their own. Each profile field's rule is its entry in profileRules, the
// domain's one statement of it; a field added by docs/development.md's
// recipe (a pointer field of NewUser and User, and its rule here) is
// patchable by PATCH /account and /users/{id} with no other code.
var profileRules = map[string]func(string) string{
	"display_name": ValidateDisplayName,
}

// init panics at start-up when a profile field has no rule, so no field
// can be set without one.
func init() {
	for _, f := range newUserFields {
		if profileRules[f.column] == nil {
			panic(fmt.Sprintf("account: profile field %s has no rule in profileRules", f.column))
		}
	}
}

// ProfileFields lists the profile fields by name, for documentation and tests.
func ProfileFields() []string {
	names := make([]string, len(newUserFields))
	for i, f := range newUserFields {
		names[i] = f.column
	}
	return names
}

// ProfilePatch is a JSON merge patch (RFC 7396) of a user's profile: each
// member names a profile field; a string sets it, nil (JSON null) clears
// it, and a field left out stays as it is.
type ProfilePatch map[string]any

// validate checks every member of p against its field's rule.
func (p ProfilePatch) validate() error {
	var fe fieldErrors
	for _, name := range slices.Sorted(maps.Keys(p)) {
		rule, ok := profileRules[name]
		switch v := p[name].(type) {
		case nil:
			if !ok {
				fe.add(name, "is not a profile field")
			}
		case string:
			if !ok {
				fe.add(name, "is not a profile field")
			} else if msg := rule(v); msg != "" {
				fe.add(name, "%s", msg)
			}
		default:
			fe.add(name, "must be a string or null")
		}
	}
	return fe.err()
}

// ProfileEdit is one merge patch of a user's profile.
type ProfileEdit struct {
	// Caller is who edits.
	Caller User
	// Target is the user edited: uuid.Nil for the caller's own profile,
	// else a user the caller manages (never the caller: an admin edits
	// their own profile as any user does).
	Target uuid.UUID
	Patch  ProfilePatch
}

// EditProfile applies a merge patch to a profile and returns the user as
// it is then. The caller's and the target's rows are locked; an admin's
// edit is authorized on them (ActionEditProfile), and a precondition the
// request carries (WithPrecondition) is checked on the target. A patch
// that changes nothing writes nothing; one that does is audited with each
// changed field before and after.
func (s *Users) EditProfile(ctx context.Context, e ProfileEdit) (User, error) {
	if err := e.Patch.validate(); err != nil {
		return User{}, err
	}
	own := e.Target == uuid.Nil
	var out User
	err := withTx(ctx, s.client, func(tx *ent.Tx) error {
		caller, target, err := lockEditor(ctx, tx, e, own)
		if err != nil {
			return err
		}
		out = target
		details := profileChanges(target, e.Patch)
		if len(details) == 0 {
			return nil
		}
		upd := tx.User.UpdateOneID(target.ID)
		for name, v := range e.Patch {
			if v == nil {
				err = upd.Mutation().ClearField(name)
			} else {
				err = upd.Mutation().SetField(name, v)
			}
			if err != nil {
				return fmt.Errorf("account: patch %s: %w", name, err)
			}
		}
		n, err := upd.Save(ctx)
		if err != nil {
			return storageError(err, CodeUserNotFound)
		}
		out = fromEnt(n)
		return record(ctx, tx, auditEntry{action: AuditProfileChanged, actor: &caller, target: target, details: details})
	})
	return out, err
}

// lockEditor locks the rows of an edit's caller and target and decides
// on them: the caller's own profile needs an active caller, another's the
// role hierarchy; either, the request's precondition on the target.
func lockEditor(ctx context.Context, tx *ent.Tx, e ProfileEdit, own bool) (caller, target User, err error) {
	if !own {
		return lockAuthorized(ctx, tx, e.Caller.ID, e.Target, ActionEditProfile)
	}
	row, err := tx.User.Query().Where(entuser.ID(e.Caller.ID)).ForUpdate().Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return User{}, User{}, Errorf(CodeUnauthenticated, "the account no longer exists")
	case err != nil:
		return User{}, User{}, storageError(err, "")
	case !row.IsActive:
		return User{}, User{}, Errorf(CodeAccountInactive, "this account is deactivated")
	}
	caller = fromEnt(row)
	return caller, caller, checkPrecondition(ctx, caller)
}

// profileChanges returns, for each field p changes on u, its value before
// (name.from) and after (name.to); "" stands for none, which no profile
// field can hold as a value.
func profileChanges(u User, p ProfilePatch) map[string]any {
	uv := reflect.ValueOf(u)
	details := map[string]any{}
	for name, v := range p {
		cur := uv.Field(userFieldOf[name].index)
		before := ""
		if !cur.IsNil() {
			before = cur.Elem().String()
		}
		after, _ := v.(string)
		if (v == nil) == cur.IsNil() && before == after {
			continue
		}
		details[name+".from"], details[name+".to"] = before, after
	}
	return details
}

// ETag returns the strong entity tag of u as the API shows it: a hash of
// every field the client sees, so any change of one changes it
// (TestETagCoversEveryField adds a field to that list or fails). The
// fields are hashed as bytes, strings with their length, rather than as
// the JSON of the answer: encoding the user twice per read cost more than
// the rest of the handler.
func (u User) ETag() string {
	var b [160]byte
	buf := append(b[:0], u.ID[:]...)
	buf = appendTagString(buf, u.Username)
	if u.DisplayName != nil {
		buf = appendTagString(append(buf, 1), *u.DisplayName)
	} else {
		buf = append(buf, 0)
	}
	buf = appendTagString(buf, string(u.Role))
	if u.IsActive {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	buf = appendTagTime(appendTagTime(buf, u.CreatedAt), u.UpdatedAt)
	sum := sha256.Sum256(buf)
	var out [26]byte
	out[0], out[25] = '"', '"'
	base64.RawURLEncoding.Encode(out[1:25], sum[:18])
	return string(out[:])
}

// appendTagString appends s and its length, so that no two lists of
// strings hash alike.
func appendTagString(buf []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32(buf, uint32(len(s))), s...)
}

// appendTagTime appends the instant and the offset of t: the JSON shows both.
func appendTagTime(buf []byte, t time.Time) []byte {
	_, offset := t.Zone()
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(buf, uint64(t.UnixNano())), uint32(offset))
}

// Precondition is a request's If-Match: the entity tags it accepts, or
// any (*). The zero value asks for nothing.
type Precondition struct {
	Tags []string
	Any  bool
}

// ParseIfMatch reads an If-Match header (RFC 9110 13.1.1): "*" or a list
// of entity tags. A weak tag never matches, as If-Match compares strongly;
// text that is not an entity tag is kept and matches nothing.
func ParseIfMatch(h string) Precondition {
	var p Precondition
	for _, t := range strings.Split(h, ",") {
		switch t = strings.TrimSpace(t); {
		case t == "*":
			p.Any = true
		case t != "":
			p.Tags = append(p.Tags, t)
		}
	}
	return p
}

type preconditionKey struct{}

// WithPrecondition returns ctx carrying p: every write to a user made
// with that context checks it on the user's locked row first.
func WithPrecondition(ctx context.Context, p Precondition) context.Context {
	return context.WithValue(ctx, preconditionKey{}, p)
}

// checkPrecondition fails with CodePreconditionFailed when ctx carries a
// precondition that current does not meet.
func checkPrecondition(ctx context.Context, current User) error {
	p, ok := ctx.Value(preconditionKey{}).(Precondition)
	if !ok || p.Any || len(p.Tags) == 0 {
		return nil
	}
	if slices.Contains(p.Tags, current.ETag()) {
		return nil
	}
	return Errorf(CodePreconditionFailed, "the user changed since the ETag you sent; read it again")
}
