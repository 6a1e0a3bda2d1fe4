package account

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable, machine-readable error code. Clients match on it, so a
// code never changes meaning once published; the HTTP layer maps each code
// to one status.
type Code string

// The error codes of the service. Those marked "transport" are raised by the
// HTTP layer, the rest by the services; all are listed here so that the
// service has one error vocabulary.
const (
	// CodeValidationFailed: one or more fields break a rule; Fields says which.
	CodeValidationFailed Code = "validation_failed"
	// CodeInvalidJSON (transport): the body is not valid JSON, has unknown
	// fields, wrong types or trailing data.
	CodeInvalidJSON Code = "invalid_json"
	// CodeBadRequest (transport): the request's framing is refused (a
	// Transfer-Encoding, which may hide a second request).
	CodeBadRequest Code = "bad_request"
	// CodeBodyTooLarge (transport): the body exceeds the configured limit.
	CodeBodyTooLarge Code = "body_too_large"
	// CodeUnsupportedMediaType (transport): a body that is not application/json.
	CodeUnsupportedMediaType Code = "unsupported_media_type"
	// CodeUnauthenticated: no valid session came with the request.
	CodeUnauthenticated Code = "unauthenticated"
	// CodeInvalidCredentials: the username or the password is wrong; the
	// two cases are deliberately not told apart.
	CodeInvalidCredentials Code = "invalid_credentials"
	// CodeAccountInactive: the account is deactivated.
	CodeAccountInactive Code = "account_inactive"
	// CodeAlreadyAuthenticated: sign-up or login by a caller who is logged in.
	CodeAlreadyAuthenticated Code = "already_authenticated"
	// CodeWrongPassword: the current password given to a password change
	// is wrong.
	CodeWrongPassword Code = "wrong_password"
	// CodeForbidden: the caller may not perform the action on the target.
	CodeForbidden Code = "forbidden"
	// CodeCSRFRejected (transport): a cookie-authenticated state change
	// without a JSON content type or a matching Origin.
	CodeCSRFRejected Code = "csrf_rejected"
	// CodeUserNotFound: no user has the given id.
	CodeUserNotFound Code = "user_not_found"
	// CodeSessionNotFound: the caller has no session with the given id
	// (another user's session is answered so too).
	CodeSessionNotFound Code = "session_not_found"
	// CodeIdempotencyKeyReused: an Idempotency-Key sent again with another
	// request body.
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	// CodeNotFound (transport): no such route.
	CodeNotFound Code = "not_found"
	// CodeMethodNotAllowed (transport): the route exists, the method does not.
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodePreconditionFailed: the request's If-Match names none of the
	// user's current entity tag.
	CodePreconditionFailed Code = "precondition_failed"
	// CodePreconditionRequired (transport): the operation needs If-Match.
	CodePreconditionRequired Code = "precondition_required"
	// CodeUsernameTaken: the username is in use, in any letter case.
	CodeUsernameTaken Code = "username_taken"
	// CodeTooManyAttempts (transport): login throttled; RetryAfter says when
	// to try again.
	CodeTooManyAttempts Code = "too_many_attempts"
	// CodeServiceUnavailable: the database or the password hasher cannot
	// serve right now; RetryAfter may say when to try again.
	CodeServiceUnavailable Code = "service_unavailable"
	// CodeInternal: a bug. The message shown is generic; the cause is logged.
	CodeInternal Code = "internal"
)

// FieldError names one invalid field of a request and why it is invalid.
type FieldError struct {
	Field   string
	Message string
}

// Error is the one error type of the service: a code, a message safe to
// show to the client, and, for validation, one entry per invalid field.
// Any error that is not an *Error is internal: the client sees only a
// generic message and the cause goes to the log.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// RetryAfter, when positive, tells the client how long to wait.
	RetryAfter time.Duration
	// cause is the underlying error, for logs; it is never shown.
	cause error
}

// Error implements error.
func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, CodeInternal when err is not an
// *Error, and "" when err is nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok {
		// The common case, without the allocation errors.As costs.
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// fieldErrors collects the invalid fields of one request.
type fieldErrors []FieldError

func (f *fieldErrors) add(field, format string, args ...any) {
	*f = append(*f, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns a validation error listing the fields, or nil when there are
// none.
func (f fieldErrors) err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: CodeValidationFailed, Message: "the request has invalid fields", Fields: f}
}
