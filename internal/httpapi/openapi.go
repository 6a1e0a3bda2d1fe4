package httpapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"accounts/internal/account"
)

// obj is a JSON object of the OpenAPI document.
type obj = map[string]any

// Document returns the OpenAPI 3.1 document of the API: every route, its
// parameters, request body, responses and errors. It is built from code so
// that the codes, limits and sort fields it lists are the ones the service
// uses; TestEveryRouteDocumented keeps the routes in step with routes.go.
func Document() ([]byte, error) {
	b, err := json.MarshalIndent(document(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	return b, nil
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func str(extra obj) obj {
	s := obj{"type": "string"}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func object(required []string, props obj) obj {
	o := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func jsonBody(schema string) obj {
	return obj{"required": true, "content": obj{"application/json": obj{"schema": ref(schema)}}}
}

func jsonResponse(desc, schema string) obj {
	return obj{"description": desc, "content": obj{"application/json": obj{"schema": ref(schema)}}}
}

var retryAfterHeader = obj{
	"description": "Seconds to wait before trying again.",
	"schema":      obj{"type": "integer", "minimum": 1},
}

// problemResponse documents a problem+json answer; desc lists its codes.
func problemResponse(desc string, retryAfter bool) obj {
	r := obj{
		"description": desc,
		"content":     obj{"application/problem+json": obj{"schema": ref("Problem")}},
	}
	if retryAfter {
		r["headers"] = obj{"Retry-After": retryAfterHeader}
	}
	return r
}

var (
	badRequest = problemResponse("`invalid_json`: malformed JSON, invalid UTF-8, unknown, duplicate or case-variant keys, wrong types or trailing data; "+
		"`errors` names the field where there is one. `bad_request`: the request came with a Transfer-Encoding (send a Content-Length); the connection is closed.", false)
	unauthorized = problemResponse("`unauthenticated`: no valid session (missing, unknown or expired token, or a malformed Authorization header).", false)
	tooLargeResp = problemResponse("`body_too_large`: the body is over the configured limit (1 MiB by default).", false)
	unsupported  = problemResponse("`unsupported_media_type`: the body is not sent as application/json.", false)
	unavailable  = problemResponse("`service_unavailable`: the database is unreachable or password hashing is saturated.", true)
	invalidID    = "`validation_failed`: the path id is not a UUID."
	notFound     = problemResponse("`user_not_found`: no user has this id.", false)
	anyProblem   = problemResponse("Any other problem: `not_found` and `method_not_allowed` for unknown routes, `internal` for a server fault.", false)
	noContent    = obj{"description": "Done; nothing to return."}
)

// sessionSecurity is what authenticated operations accept.
var sessionSecurity = []obj{{"cookieAuth": []string{}}, {"bearerAuth": []string{}}}

func operation(id, summary string, authed bool, responses obj) obj {
	op := obj{"operationId": id, "summary": summary, "responses": responses}
	responses["default"] = anyProblem
	if authed {
		op["security"] = sessionSecurity
		if _, ok := responses["401"]; !ok {
			responses["401"] = unauthorized
		}
		if _, ok := responses["503"]; !ok {
			responses["503"] = unavailable
		}
	}
	return op
}

var idParam = obj{
	"name": "id", "in": "path", "required": true,
	"description": "The user's id.",
	"schema":      obj{"type": "string", "format": "uuid"},
}

func queryParam(name, desc string, schema obj) obj {
	return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

// documentRequestID adds the X-Request-ID request header and response
// header to every operation: the middleware takes and returns it on every
// route. Responses are copied because several operations share them.
func documentRequestID(paths obj) {
	for _, item := range paths {
		for method, op := range item.(obj) {
			op, ok := op.(obj)
			if !ok || method == "parameters" {
				continue
			}
			params, _ := op["parameters"].([]obj)
			op["parameters"] = append(slices.Clone(params), obj{"$ref": "#/components/parameters/RequestID"})
			responses := op["responses"].(obj)
			for status, r := range responses {
				resp := maps.Clone(r.(obj))
				headers, _ := resp["headers"].(obj)
				headers = maps.Clone(headers)
				if headers == nil {
					headers = obj{}
				}
				headers[RequestIDHeader] = obj{"$ref": "#/components/headers/RequestID"}
				resp["headers"] = headers
				responses[status] = resp
			}
		}
	}
}

func document() obj {
	codes := []string{}
	for c := range statusOf {
		codes = append(codes, string(c))
	}
	slices.Sort(codes)
	roles := []string{string(account.RoleUser), string(account.RoleAdmin), string(account.RoleSuperAdmin)}

	// mutate is the shape of PUT/DELETE /users/{id}/roles/admin and
	// /users/{id}/activation: no body, 204, idempotent.
	mutate := func(id, summary, forbidden string) obj {
		return operation(id, summary, true, obj{
			"204": noContent,
			"403": problemResponse(forbidden+" `csrf_rejected` for a cookie-authenticated call without application/json or a matching Origin; `account_inactive` when the caller was deactivated.", false),
			"404": notFound,
			"422": problemResponse(invalidID, false),
		})
	}

	paths := obj{
		"/api/v1/account/signup": obj{
			"post": func() obj {
				op := operation("signUp", "Create an account with role user (only when not logged in).", false, obj{
					"201": obj{
						"description": "Created.",
						"headers":     obj{"Location": obj{"description": "The new user's URL.", "schema": obj{"type": "string"}}},
						"content":     obj{"application/json": obj{"schema": ref("Created")}},
					},
					"400": badRequest,
					"403": problemResponse("`already_authenticated`: the caller is logged in; `account_inactive`: the caller's account was deactivated.", false),
					"409": problemResponse("`username_taken`: the name exists, in any letter case.", false),
					"413": tooLargeResp,
					"415": unsupported,
					"422": problemResponse("`validation_failed`: username or password breaks a rule; `errors` lists each field.", false),
					"429": problemResponse("`too_many_attempts`: too many sign-ups from this address (auth.signups_per_address); taken names count too.", true),
					"503": unavailable,
				})
				op["requestBody"] = jsonBody("Credentials")
				return op
			}(),
		},
		"/api/v1/account/login": obj{
			"post": func() obj {
				op := operation("login", "Log in: a new session token, in the body and in the access_token cookie.", false, obj{
					"200": obj{
						"description": "Logged in. The token is also set as the access_token cookie (HttpOnly, SameSite=Lax, Path=/api/v1; __Host-access_token with Path=/ and Secure when configured). A new device token comes as the device cookie and the X-Device-Token header: a client that sends it back (cookie or X-Device-Token request header) at its next login for this name is trusted, and other clients' failures do not throttle it.",
						"headers": obj{
							"Set-Cookie":     obj{"description": "access_token=<token>; Path=/api/v1; Max-Age=<ttl>; HttpOnly; SameSite=Lax, and device=<device token>", "schema": obj{"type": "string"}},
							"X-Device-Token": obj{"description": "The new device token, for clients without cookies.", "schema": obj{"type": "string"}},
						},
						"content": obj{"application/json": obj{"schema": ref("Login")}},
					},
					"400": badRequest,
					"401": problemResponse("`invalid_credentials`: unknown username or wrong password (one answer for both).", false),
					"403": problemResponse("`account_inactive`: right password, deactivated account; `already_authenticated`: the caller is logged in.", false),
					"413": tooLargeResp,
					"415": unsupported,
					"422": problemResponse("`validation_failed`: username or password missing.", false),
					"429": problemResponse("`too_many_attempts`: too many failed logins for this username from clients without its device token, from this address, or from this device.", true),
					"503": unavailable,
				})
				op["parameters"] = []obj{{"name": "X-Device-Token", "in": "header", "required": false, "schema": obj{"type": "string"},
					"description": "The device token of an earlier login for this name, for clients without cookies."}}
				op["requestBody"] = jsonBody("Credentials")
				return op
			}(),
		},
		"/api/v1/account": obj{
			"get": operation("getAccount", "The caller's own user.", true, obj{
				"200": jsonResponse("The caller.", "User"),
				"403": problemResponse("`account_inactive`: the caller was deactivated; all of their sessions are ended.", false),
			}),
		},
		"/api/v1/account/password": obj{
			"put": func() obj {
				op := operation("changePassword", "Change one's own password. Every session of the caller ends, this one included; the answer carries a new session, in the body and in the access_token cookie.", true, obj{
					"200": obj{
						"description": "Changed. The new session token is also set as the access_token cookie.",
						"headers":     obj{"Set-Cookie": obj{"description": "access_token=<token>; HttpOnly; SameSite=Lax", "schema": obj{"type": "string"}}},
						"content":     obj{"application/json": obj{"schema": ref("Login")}},
					},
					"400": badRequest,
					"403": problemResponse("`wrong_password`: current_password is wrong; `csrf_rejected`; `account_inactive`.", false),
					"413": tooLargeResp,
					"415": unsupported,
					"422": problemResponse("`validation_failed`: new_password breaks the rule or equals the current one.", false),
					"429": problemResponse("`too_many_attempts`: too many wrong current passwords; they count as failed logins of the caller's name.", true),
				})
				op["requestBody"] = jsonBody("ChangePasswordRequest")
				return op
			}(),
		},
		"/api/v1/account/logout": obj{
			"delete": operation("logout", "End the caller's session and clear the cookie.", true, obj{
				"204": obj{"description": "Logged out; the cookie is cleared.",
					"headers": obj{"Set-Cookie": obj{"description": "access_token=; Max-Age=0", "schema": obj{"type": "string"}}}},
				"403": problemResponse("`csrf_rejected`; `account_inactive`.", false),
			}),
		},
		"/api/v1/users": obj{
			"post": func() obj {
				op := operation("createUser", "Create a user (admins); role admin needs a super admin.", true, obj{
					"201": obj{
						"description": "Created.",
						"headers":     obj{"Location": obj{"description": "The new user's URL.", "schema": obj{"type": "string"}}},
						"content":     obj{"application/json": obj{"schema": ref("Created")}},
					},
					"400": badRequest,
					"403": problemResponse("`forbidden`: the caller is not an admin, or an admin asks for role admin; `csrf_rejected`; `account_inactive`.", false),
					"409": problemResponse("`username_taken`.", false),
					"413": tooLargeResp,
					"415": unsupported,
					"422": problemResponse("`validation_failed`: a field breaks a rule, or role is super_admin (never given through the API).", false),
				})
				op["requestBody"] = jsonBody("CreateUserRequest")
				return op
			}(),
			"get": func() obj {
				op := operation("listUsers", "List users (admins), inactive ones included; sorted, filtered and paged by the database.", true, obj{
					"200": jsonResponse("One page.", "UserList"),
					"403": problemResponse("`forbidden`: the caller is not an admin; `account_inactive`.", false),
					"422": problemResponse("`validation_failed`: limit outside 1–100, negative offset, unknown sort field, order, role or is_active, or an after that is not a next_cursor of this sort and order or comes with an offset; `errors` names each.", false),
				})
				op["parameters"] = []obj{
					queryParam("limit", "Page size.", obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
					queryParam("offset", "Users skipped. Its cost grows with it; for deep pages use after.", obj{"type": "integer", "minimum": 0, "default": 0}),
					queryParam("after", "The next_cursor of the previous page (same sort and order): the page starts after it, as fast deep in the listing as at its start (keyset paging). Not combined with offset.", obj{"type": "string"}),
					queryParam("sort", "Sort field; ties are broken by id.", obj{"type": "string", "enum": account.SortFields, "default": "username"}),
					queryParam("order", "Sort order.", obj{"type": "string", "enum": []string{"asc", "desc"}, "default": "asc"}),
					queryParam("role", "Only users with this role.", obj{"type": "string", "enum": roles}),
					queryParam("is_active", "Only active (true) or inactive (false) users.", obj{"type": "boolean"}),
				}
				return op
			}(),
		},
		"/api/v1/audit": obj{
			"get": func() obj {
				op := operation("listAudit", "The audit trail of account changes, newest first (super admins only).", true, obj{
					"200": jsonResponse("One page.", "AuditList"),
					"403": problemResponse("`forbidden`: the caller is not a super admin; `account_inactive`.", false),
					"422": problemResponse("`validation_failed`: limit outside 1–100, an actor or target that is not a UUID, an unknown action, a time that is not RFC 3339 or until not after since, or an after that is not a next_cursor; `errors` names each.", false),
				})
				op["parameters"] = []obj{
					queryParam("limit", "Page size.", obj{"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
					queryParam("after", "The next_cursor of the previous page (keyset paging).", obj{"type": "string"}),
					queryParam("actor", "Only events made by this user id.", obj{"type": "string", "format": "uuid"}),
					queryParam("target", "Only events on this user id.", obj{"type": "string", "format": "uuid"}),
					queryParam("action", "Only events of this action.", obj{"type": "string", "enum": account.AuditActions}),
					queryParam("since", "Only events at or after this time.", obj{"type": "string", "format": "date-time"}),
					queryParam("until", "Only events before this time.", obj{"type": "string", "format": "date-time"}),
				}
				return op
			}(),
		},
		"/api/v1/users/{id}": obj{
			"parameters": []obj{idParam},
			"get": operation("getUser", "One user by id (admins), active or not.", true, obj{
				"200": jsonResponse("The user.", "User"),
				"403": problemResponse("`forbidden`: the caller is not an admin; `account_inactive`.", false),
				"404": notFound,
				"422": problemResponse(invalidID, false),
			}),
		},
		"/api/v1/users/{id}/password": obj{
			"parameters": []obj{idParam},
			"put": func() obj {
				op := operation("setUserPassword", "Set the password of a user the caller manages; all of that user's sessions end.", true, obj{
					"204": noContent,
					"400": badRequest,
					"403": problemResponse("`forbidden`: the caller does not manage the target (or it is the caller); `csrf_rejected`; `account_inactive`.", false),
					"404": notFound,
					"413": tooLargeResp,
					"415": unsupported,
					"422": problemResponse("`validation_failed`: malformed id, or the password breaks the rule.", false),
				})
				op["requestBody"] = jsonBody("SetPasswordRequest")
				return op
			}(),
		},
		"/api/v1/users/{id}/roles/admin": obj{
			"parameters": []obj{idParam},
			"put":        mutate("grantAdmin", "Grant the admin role (super admins). Idempotent: 204 and no write when already admin.", "`forbidden`: the caller is not a super admin, or the target is a super admin or the caller;"),
			"delete":     mutate("revokeAdmin", "Revoke the admin role (super admins). Idempotent: 204 and no write when not admin.", "`forbidden`: the caller is not a super admin, or the target is a super admin or the caller;"),
		},
		"/api/v1/users/{id}/activation": obj{
			"parameters": []obj{idParam},
			"put":        mutate("activate", "Activate a user the caller manages. Idempotent.", "`forbidden`: the caller does not manage the target, or it is the caller;"),
			"delete":     mutate("deactivate", "Deactivate a user the caller manages and end all of their sessions. Idempotent.", "`forbidden`: the caller does not manage the target, or it is the caller;"),
		},
		"/livez": obj{
			"get": operation("livez", "The process is up.", false, obj{"200": jsonResponse("Alive.", "Status")}),
		},
		"/readyz": obj{
			"get": operation("readyz", "The database answers and every migration file of this build is applied (the database may have newer ones).", false, obj{
				"200": jsonResponse("Ready.", "Status"),
				"503": problemResponse("`service_unavailable`: `detail` gives the reason.", true),
			}),
		},
		"/metrics": obj{
			"get": operation("metrics", "Prometheus metrics (when enabled). By default on a loopback listener of its own (metrics.addr), where this route answers 404; here only when metrics.addr is empty.", false, obj{
				"200": obj{"description": "Prometheus text format.", "content": obj{"text/plain": obj{"schema": obj{"type": "string"}}}},
				"404": problemResponse("`not_found`: metrics are served on metrics.addr, not on this listener.", false),
			}),
		},
		"/openapi.json": obj{
			"get": operation("openapi", "This document.", false, obj{
				"200": obj{"description": "OpenAPI 3.1 document.", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}},
			}),
		},
	}

	username := str(obj{"minLength": account.UsernameMinLen, "maxLength": account.UsernameMaxLen,
		"pattern":     `^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$`,
		"description": "5–32 of A-Z a-z 0-9 . _ -, starting and ending with a letter or digit, no two of . _ - in a row; unique in any letter case."})
	pw := func(desc string) obj {
		return str(obj{"minLength": account.PasswordMinLen, "maxLength": account.PasswordMaxLen, "description": desc})
	}
	timestamp := str(obj{"format": "date-time"})
	schemas := obj{
		"Credentials": object([]string{"username", "password"}, obj{
			"username": username,
			"password": pw("8–128 characters."),
		}),
		"CreateUserRequest": object([]string{"username", "password"}, obj{
			"username": username,
			"password": pw("8–128 characters."),
			"role":     str(obj{"enum": []string{"user", "admin"}, "default": "user", "description": "admin needs a super admin; super_admin is refused with 422."}),
		}),
		"ChangePasswordRequest": object([]string{"current_password", "new_password"}, obj{
			"current_password": str(nil),
			"new_password":     pw("8–128 characters, different from the current one."),
		}),
		"SetPasswordRequest": object([]string{"password"}, obj{"password": pw("8–128 characters.")}),
		"Created":            object([]string{"id"}, obj{"id": str(obj{"format": "uuid"})}),
		"Login": object([]string{"access_token", "token_type", "expires_at"}, obj{
			"access_token": str(obj{"description": "The session token (256 random bits, base64url); send it as Authorization: Bearer <token> or let the cookie carry it."}),
			"token_type":   str(obj{"enum": []string{"Bearer"}}),
			"expires_at":   timestamp,
		}),
		"User": object([]string{"id", "username", "role", "is_active", "created_at", "updated_at"}, obj{
			"id":         str(obj{"format": "uuid"}),
			"username":   str(nil),
			"role":       str(obj{"enum": roles}),
			"is_active":  obj{"type": "boolean"},
			"created_at": timestamp,
			"updated_at": timestamp,
		}),
		"UserList": object([]string{"users", "total", "total_exact", "limit", "offset"}, obj{
			"users":       obj{"type": "array", "items": ref("User")},
			"total":       obj{"type": "integer", "minimum": 0, "description": fmt.Sprintf("Users matching the filters, on all pages, counted up to offset + %d.", account.CountCap)},
			"total_exact": obj{"type": "boolean", "description": "False when counting stopped: more users than total match."},
			"limit":       obj{"type": "integer"},
			"offset":      obj{"type": "integer"},
			"next_cursor": str(obj{"description": "Pass as after for the next page; absent on the last page."}),
		}),
		"AuditEvent": object([]string{"id", "occurred_at", "action", "actor_id", "actor_name", "target_id", "target_name", "request_id", "client_address", "details"}, obj{
			"id":             str(obj{"format": "uuid"}),
			"occurred_at":    timestamp,
			"action":         str(obj{"enum": account.AuditActions}),
			"actor_id":       obj{"type": []string{"string", "null"}, "format": "uuid", "description": "The acting user; null for the command line."},
			"actor_name":     str(obj{"description": "The actor's username, or cli:<OS user>@<host> for the command line."}),
			"target_id":      obj{"type": []string{"string", "null"}, "format": "uuid"},
			"target_name":    str(nil),
			"request_id":     str(obj{"description": "X-Request-ID of the request that made the change; empty for the command line."}),
			"client_address": str(nil),
			"details":        obj{"type": "object", "additionalProperties": obj{"type": "string"}, "description": "What changed: role from and to, sessions ended."},
		}),
		"AuditList": object([]string{"events"}, obj{
			"events":      obj{"type": "array", "items": ref("AuditEvent")},
			"next_cursor": str(obj{"description": "Pass as after for the next page; absent on the last page."}),
		}),
		"Status": object([]string{"status"}, obj{"status": str(nil)}),
		"Problem": object([]string{"type", "title", "status", "code"}, obj{
			"type":   str(obj{"description": "urn:accounts:problem:<code>"}),
			"title":  str(nil),
			"status": obj{"type": "integer"},
			"code":   str(obj{"enum": codes, "description": "Stable, machine-readable error code."}),
			"detail": str(nil),
			"errors": obj{"type": "array", "items": object([]string{"field", "message"}, obj{
				"field":   str(nil),
				"message": str(nil),
			})},
		}),
	}

	documentRequestID(paths)
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       "accounts",
			"version":     "1.0.0",
			"description": "User accounts: sign-up, sessions, and administration over a role hierarchy (super_admin > admin > user). Errors are application/problem+json (RFC 9457) with a stable `code`.",
		},
		"servers": []obj{{"url": "/"}},
		"paths":   paths,
		"components": obj{
			"schemas": schemas,
			"parameters": obj{"RequestID": obj{
				"name": RequestIDHeader, "in": "header", "required": false,
				"description": "The caller's id for this request (1–128 printable characters, no spaces); it is logged with every line of the request and returned. Anything else is replaced by a generated id.",
				"schema":      obj{"type": "string", "minLength": 1, "maxLength": 128},
			}},
			"headers": obj{"RequestID": obj{
				"description": "The request's id: the caller's X-Request-ID when it was sane, else a generated one. Every log line of the request carries it.",
				"schema":      obj{"type": "string"},
			}},
			"securitySchemes": obj{
				"cookieAuth": obj{"type": "apiKey", "in": "cookie", "name": cookieName},
				"bearerAuth": obj{"type": "http", "scheme": "bearer"},
			},
		},
	}
}
