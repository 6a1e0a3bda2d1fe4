package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"accounts/internal/account"
)

// The creates that take an Idempotency-Key (sign-up and POST /users)
// answer through storedAnswer both the first time and on every replay, so
// a retry gets the first answer byte for byte. The user service stores it
// in the transaction of the create (account.Users.CreateOnce).

// idempotencyKey reads an Idempotency-Key: a structured-field string
// ("...") as the IETF draft spells it, or the same text bare, as most
// clients send it; 1–255 printable ASCII characters, without quotes or
// backslashes inside. ok is false when the header is absent.
func idempotencyKey(raw *string) (key string, ok bool, err error) {
	if raw == nil {
		return "", false, nil
	}
	key = *raw
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	bad := len(key) == 0 || len(key) > 255 || strings.ContainsFunc(key, func(r rune) bool {
		return r < 0x21 || r > 0x7e || r == '"' || r == '\\'
	})
	if bad {
		return "", false, &account.Error{Code: account.CodeValidationFailed, Message: "the request has an invalid Idempotency-Key",
			Fields: []account.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters without quotes or backslashes, bare or in double quotes"}}}
	}
	return key, true, nil
}

// storedAnswer writes an answer kept under an idempotency key.
type storedAnswer account.Answer

func (a storedAnswer) write(w http.ResponseWriter) error {
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.Status)
	_, err := w.Write(a.Body)
	return err
}

func (a storedAnswer) VisitSignUpResponse(w http.ResponseWriter) error     { return a.write(w) }
func (a storedAnswer) VisitCreateUserResponse(w http.ResponseWriter) error { return a.write(w) }

// createdAnswer renders the 201 of a create: the new id, and Location.
func createdAnswer(location string) func(account.User) (account.Answer, error) {
	return func(u account.User) (account.Answer, error) {
		body, err := json.Marshal(Created{Id: u.ID})
		if err != nil {
			return account.Answer{}, err
		}
		if location == "" {
			location = "/api/v1/users/" + u.ID.String()
		}
		return account.Answer{Status: http.StatusCreated, Body: append(body, '\n'),
			Header: map[string]string{"Content-Type": "application/json", "Location": location}}, nil
	}
}

// createOnce runs a create under its Idempotency-Key.
func (h handlers) createOnce(ctx context.Context, c account.OnceCreate) (storedAnswer, error) {
	a, err := h.s.Users.CreateOnce(ginOf(ctx).Request.Context(), c)
	return storedAnswer(a), err
}
