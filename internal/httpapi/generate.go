package httpapi

// api.gen.go holds the request and response types and the strict server
// interface generated from openapi.yaml; never edit it by hand.
//go:generate go tool oapi-codegen -config oapi-codegen.yaml openapi.yaml
